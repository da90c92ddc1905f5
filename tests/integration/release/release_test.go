//go:build integration

// Package release tests what consumers install: the bundle against `tkn
// bundle push` and Tekton's own readers on a real registry, and `make
// release` for reproducibility.
package release

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	bundleresolver "github.com/tektoncd/pipeline/pkg/resolution/resolver/bundle"
	"knative.dev/pkg/apis"
	"sigs.k8s.io/yaml"

	"github.com/knative-lambda/lambda-builder/catalog"
	"github.com/knative-lambda/lambda-builder/catalog/bundle"
	"github.com/knative-lambda/lambda-builder/catalog/release"
	"github.com/knative-lambda/lambda-builder/tests/harness"
)

const root = "../../.."

// releaseFile assembles the repository's catalog with stand-in digests and
// writes it where tkn can read it.
func releaseFile(t *testing.T) (string, []string) {
	t.Helper()
	f, err := catalog.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	pin := func(n string) string {
		return "registry.example/lambda-builder/" + n + "@sha256:" + strings.Repeat("ab", 32)
	}
	im := release.Images{Ko: map[string]string{}, ParamDefaults: map[string]string{"BUILDER_IMAGE": pin("kaniko-executor")}}
	for _, c := range []string{"fetch-code", "render-dockerfile", "verify-image"} {
		im.Ko["github.com/knative-lambda/lambda-builder/cmd/"+c] = pin(c)
	}
	doc, err := release.Assemble(root, f, im)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "release.yaml")
	if err := os.WriteFile(path, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range f.Resources {
		names = append(names, strings.ToLower(r.Kind)+"/"+r.Name)
	}
	return path, names
}

// TestBundleIsWhatTknPushes pushes the release's resources with our builder
// and with `tkn bundle push` to a real registry: the manifests must be the
// same bytes (same digest), and Tekton's bundles resolver must read every
// resource back into something that validates.
func TestBundleIsWhatTknPushes(t *testing.T) {
	reg := harness.StartRegistry(t)
	file, names := releaseFile(t)
	doc, _ := os.ReadFile(file)
	img, objects, err := bundle.Build([]string{string(doc)}, time.Unix(0, 0)) // one file, as given to tkn
	if err != nil {
		t.Fatal(err)
	}
	if len(objects) != len(names) {
		t.Fatalf("bundle holds %d objects, catalog.yaml publishes %d", len(objects), len(names))
	}
	ours, err := bundle.Push(context.Background(), img, reg.Host+"/ours/catalog:0")
	if err != nil {
		t.Fatal(err)
	}

	tknRef := reg.Host + "/tkn/catalog:0"
	cmd := exec.Command(harness.Tool(t, "tkn"), "bundle", "push", tknRef, "-f", file)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tkn bundle push: %v\n%s", err, out)
	}
	desc, err := remote.Head(mustRef(t, tknRef))
	if err != nil {
		t.Fatal(err)
	}
	if _, digest, _ := strings.Cut(ours, "@"); digest != desc.Digest.String() {
		t.Errorf("our bundle is %s, tkn's is %s: the same resources must give the same manifest", digest, desc.Digest)
	}

	for _, n := range names {
		kind, entry, _ := strings.Cut(n, "/")
		got, err := bundleresolver.GetEntry(context.Background(), authn.DefaultKeychain, bundleresolver.RequestOptions{Bundle: ours, EntryName: entry, Kind: kind})
		if err != nil {
			t.Errorf("bundles resolver GetEntry %s: %v", n, err)
			continue
		}
		var obj interface {
			SetDefaults(context.Context)
			Validate(context.Context) *apis.FieldError
		}
		switch kind {
		case "task":
			obj = &v1.Task{}
		case "pipeline":
			obj = &v1.Pipeline{}
		}
		if err := yaml.UnmarshalStrict(got.Data(), obj); err != nil {
			t.Errorf("%s: %v", n, err)
			continue
		}
		ctx := apis.WithinCreate(context.Background())
		obj.SetDefaults(ctx)
		if err := obj.Validate(ctx); err != nil {
			t.Errorf("%s read back from the bundle does not validate: %v", n, err)
		}
	}
}

// TestReleaseIsReproducible runs `make release`'s script twice into two
// folders against one registry: the step images, the Kaniko image and the
// bundle must have the same digests, release.yaml the same bytes.
func TestReleaseIsReproducible(t *testing.T) {
	reg := harness.StartRegistry(t)
	var images, bundles, files []string
	for range 2 {
		dist := t.TempDir()
		cmd := exec.Command(filepath.Join(root, "tests/tools/release.sh"))
		cmd.Env = append(os.Environ(), "REGISTRY="+reg.Host, "DIST="+dist, "LB_TOOLS_DIR="+harness.ToolsDir())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("release.sh: %v\n%s", err, out)
		}
		for _, f := range []struct {
			name string
			into *[]string
		}{{"images.txt", &images}, {"bundle.txt", &bundles}, {"release.yaml", &files}} {
			b, err := os.ReadFile(filepath.Join(dist, f.name))
			if err != nil {
				t.Fatal(err)
			}
			*f.into = append(*f.into, string(b))
		}
	}
	if images[0] != images[1] {
		t.Errorf("two releases of one commit built different images:\n%s\n%s", images[0], images[1])
	}
	if bundles[0] != bundles[1] || files[0] != files[1] {
		t.Errorf("two releases of one commit differ: bundles %q and %q", bundles[0], bundles[1])
	}
	if strings.Contains(files[0], "ko://") || strings.Count(images[0], "@sha256:") != 5 {
		t.Errorf("release images not all pinned:\n%s", images[0])
	}
	for _, want := range []string{"fetch-code=", "render-dockerfile=", "verify-image=", "sns-interceptor=", "BUILDER_IMAGE="} {
		if !strings.Contains(images[0], want) {
			t.Errorf("images.txt lacks %s:\n%s", want, images[0])
		}
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
