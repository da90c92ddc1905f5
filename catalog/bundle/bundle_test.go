package bundle

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	tkremote "github.com/tektoncd/pipeline/pkg/remote/oci"
	bundleresolver "github.com/tektoncd/pipeline/pkg/resolution/resolver/bundle"
	"sigs.k8s.io/yaml"
)

func task(name string) string {
	return fmt.Sprintf(`apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: %s
spec:
  steps:
    - name: hello
      image: registry.example/busybox@sha256:0000000000000000000000000000000000000000000000000000000000000000
      script: echo hello
`, name)
}

const pipeline = `apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: build
spec:
  tasks:
    - name: a
      taskRef:
        name: alpha
`

func TestBuildAnnotatesEveryLayer(t *testing.T) {
	img, objects, err := Build([]string{task("alpha"), pipeline}, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Layers) != 2 || len(objects) != 2 {
		t.Fatalf("%d layers, %d objects; want 2", len(m.Layers), len(objects))
	}
	got := map[string]string{}
	for _, l := range m.Layers {
		a := l.Annotations
		got[a[tkremote.KindAnnotation]] = a[tkremote.TitleAnnotation] + "@" + a[tkremote.APIVersionAnnotation]
	}
	if got["task"] != "alpha@v1" || got["pipeline"] != "build@v1" {
		t.Errorf("layer annotations = %v", got)
	}
	cf, _ := img.ConfigFile()
	if !cf.Created.Time.Equal(time.Unix(0, 0)) {
		t.Errorf("created = %v, want the Unix epoch", cf.Created)
	}
}

func TestBuildIsIndependentOfFileOrder(t *testing.T) {
	a, _, err := Build([]string{task("alpha"), task("beta"), pipeline}, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := Build([]string{pipeline, task("beta"), task("alpha")}, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Errorf("digests differ with file order: %s vs %s", da, db)
	}
	c, _, _ := Build([]string{task("alpha"), task("beta"), pipeline}, time.Unix(1, 0))
	if dc, _ := c.Digest(); dc == da {
		t.Error("the created time does not reach the digest")
	}
}

func TestBuildRejects(t *testing.T) {
	var tooMany []string
	for i := range MaxObjects + 1 {
		tooMany = append(tooMany, task(fmt.Sprintf("t%02d", i)))
	}
	tests := []struct {
		name  string
		files []string
		want  string
	}{
		{"over the object limit", tooMany, "would hold 21 objects; Tekton's resolvers accept at most 20"},
		{"duplicate", []string{task("alpha"), task("alpha") + "\n"}, `task "alpha" appears twice`},
		{"not Tekton", []string{"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"}, "not a Tekton object"},
		{"no name", []string{strings.Replace(task("alpha"), "  name: alpha\n", "", 1)}, "without metadata.name"},
		{"not YAML", []string{"{"}, "not YAML or JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Build(tt.files, time.Unix(0, 0))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
	var exactly []string
	for i := range MaxObjects {
		exactly = append(exactly, task(fmt.Sprintf("t%02d", i)))
	}
	if _, _, err := Build(exactly, time.Unix(0, 0)); err != nil {
		t.Errorf("%d objects must fit: %v", MaxObjects, err)
	}
}

// TestTektonReadsTheBundleBack pushes to an in-process registry and reads the
// objects with both of Tekton's readers.
func TestTektonReadsTheBundleBack(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	ref := strings.TrimPrefix(srv.URL, "http://") + "/catalog/bundle:test"
	img, _, err := Build([]string{task("alpha"), pipeline}, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	pushed, err := Push(context.Background(), img, ref)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(pushed, "@sha256:") {
		t.Errorf("Push returned %q, want a digest reference", pushed)
	}

	objs, err := tkremote.NewResolver(ref, authn.DefaultKeychain).List(context.Background())
	if err != nil || len(objs) != 2 {
		t.Fatalf("pkg/remote/oci List = %v, %v", objs, err)
	}
	obj, _, err := tkremote.NewResolver(ref, authn.DefaultKeychain).Get(context.Background(), "task", "alpha")
	if err != nil {
		t.Fatalf("pkg/remote/oci Get: %v", err)
	}
	if tk, ok := obj.(*v1.Task); !ok || tk.Spec.Steps[0].Name != "hello" {
		t.Errorf("Get returned %#v", obj)
	}

	entry, err := bundleresolver.GetEntry(context.Background(), authn.DefaultKeychain, bundleresolver.RequestOptions{Bundle: pushed, EntryName: "build", Kind: "pipeline"})
	if err != nil {
		t.Fatalf("bundles resolver GetEntry: %v", err)
	}
	var p v1.Pipeline
	if err := yaml.Unmarshal(entry.Data(), &p); err != nil || p.Name != "build" || p.Spec.Tasks[0].TaskRef.Name != "alpha" {
		t.Errorf("GetEntry data = %s (%v)", entry.Data(), err)
	}
	if err := p.Validate(context.Background()); err != nil {
		t.Errorf("the resolved pipeline does not validate: %v", err)
	}
}
