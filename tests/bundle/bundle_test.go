package bundle

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/types"
	tektonbundle "github.com/tektoncd/pipeline/pkg/resolution/resolver/bundle"
	"sigs.k8s.io/yaml"
)

const task = `apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: hello
spec:
  steps:
  - name: echo
    image: busybox
    command: [echo, hello]
`

const pipeline = `apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: greet
spec:
  tasks:
  - name: hello
    taskRef: {name: hello}
`

// TestTektonReadsPushedBundle reads a pushed bundle back with the Tekton
// bundles resolver's own code.
func TestTektonReadsPushedBundle(t *testing.T) {
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	ctx := context.Background()
	ref, err := Push(ctx, strings.TrimPrefix(reg.URL, "http://")+"/bundles/greet:v1", []byte(task), []byte(pipeline))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ref, "@sha256:") {
		t.Errorf("Push returned %q, want a digest reference", ref)
	}
	for _, tc := range []struct{ kind, name, want string }{
		{"task", "hello", "command:\n    - echo"},
		{"pipeline", "greet", "taskRef:\n      name: hello"},
	} {
		got, err := tektonbundle.GetEntry(ctx, authn.DefaultKeychain, tektonbundle.RequestOptions{Bundle: ref, EntryName: tc.name, Kind: tc.kind})
		if err != nil {
			t.Fatalf("Tekton cannot read %s %s: %v", tc.kind, tc.name, err)
		}
		asYAML, err := yaml.JSONToYAML(got.Data())
		if err != nil {
			t.Fatalf("%s %s is not JSON: %v\n%s", tc.kind, tc.name, err, got.Data())
		}
		if !strings.Contains(string(asYAML), tc.want) {
			t.Errorf("%s %s read back as\n%s\nwant it to contain %q", tc.kind, tc.name, asYAML, tc.want)
		}
	}
}

func TestImageIsReproducibleDockerV2(t *testing.T) {
	a, err := Image([]byte(task))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Image([]byte(task))
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Errorf("same objects, different digests: %s %s", da, db)
	}
	m, err := a.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != types.DockerManifestSchema2 || m.Layers[0].MediaType != types.DockerLayer {
		t.Errorf("media types %s / %s, want Docker v2 manifest and gzip layer", m.MediaType, m.Layers[0].MediaType)
	}
	want := map[string]string{APIVersionAnnotation: "v1", KindAnnotation: "task", NameAnnotation: "hello"}
	for k, v := range want {
		if m.Layers[0].Annotations[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, m.Layers[0].Annotations[k], v)
		}
	}
}

func TestImageRejects(t *testing.T) {
	tooMany := make([][]byte, MaxObjects+1)
	for i := range tooMany {
		tooMany[i] = []byte(task)
	}
	for _, tc := range []struct {
		name string
		docs [][]byte
		want string
	}{
		{"nothing", nil, "1 to 20 objects"},
		{"too many objects", tooMany, "1 to 20 objects"},
		{"no name", [][]byte{[]byte("apiVersion: tekton.dev/v1\nkind: Task\nspec: {}\n")}, "metadata.name"},
		{"not Tekton", [][]byte{[]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")}, "tekton.dev object"},
		{"not YAML", [][]byte{[]byte("kind: [")}, "decoding"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Image(tc.docs...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Image() error = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}
