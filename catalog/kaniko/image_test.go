package kaniko

import (
	"archive/tar"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/knative-lambda/lambda-builder/internal/layer"
)

func fakeBinaries(t *testing.T) Binaries {
	t.Helper()
	dir := t.TempDir()
	write := func(n, content string) string {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return Binaries{
		Executor: write("executor", "kaniko"), ECRLogin: write("ecr", "ecr-login"),
		Step: write("step", "kaniko-build"), CACerts: write("ca.pem", "-----BEGIN CERTIFICATE-----\n"),
		Versions: map[string]string{"kaniko": "v1.25.16"},
	}
}

func TestImageLayout(t *testing.T) {
	img, err := Image(fakeBinaries(t))
	if err != nil {
		t.Fatal(err)
	}
	// Pushed and pulled back through a registry, it must validate.
	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	ref, _ := name.NewTag(strings.TrimPrefix(srv.URL, "http://") + "/kaniko/executor:test")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	pulled, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(pulled); err != nil {
		t.Fatalf("pulled image does not validate: %v", err)
	}
	flat, err := layer.Flatten(pulled, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]*tar.Header{}
	contents := map[string]string{}
	for p, e := range flat {
		files[p], contents[p] = e.Header, e.Content
	}
	for p, want := range map[string]string{ExecutorPath: "kaniko", StepPath: "kaniko-build", Dir + "/docker-credential-ecr-login": "ecr-login"} {
		h := files[p]
		if h == nil || contents[p] != want || h.Mode != 0o755 || h.Uid != 0 {
			t.Errorf("%s = %+v %q, want mode 755 root-owned %q", p, h, contents[p], want)
		}
	}
	if files[certsDir+"/ca-certificates.crt"] == nil || files["/bin/sh"] != nil || files["/busybox"] != nil {
		t.Errorf("want the CA bundle and no shell; got %v", keys(files))
	}
	var dc struct {
		CredHelpers map[string]string `json:"credHelpers"`
	}
	if err := json.Unmarshal([]byte(contents[DockerConfig+"config.json"]), &dc); err != nil || dc.CredHelpers["public.ecr.aws"] != "ecr-login" {
		t.Errorf("config.json = %q (%v), want credHelpers for public.ecr.aws", contents[DockerConfig+"config.json"], err)
	}
	cf, _ := pulled.ConfigFile()
	if !slices.Equal(cf.Config.Env, Env) || !slices.Equal(cf.Config.Entrypoint, []string{ExecutorPath}) || cf.OS != "linux" || cf.Architecture == "" {
		t.Errorf("config = %+v", cf.Config)
	}
	if cf.Config.Labels["dev.lambda-builder.version.kaniko"] != "v1.25.16" {
		t.Errorf("labels = %v", cf.Config.Labels)
	}
	for p, h := range files {
		if !h.ModTime.Equal(time.Unix(0, 0)) {
			t.Errorf("%s has mtime %v", p, h.ModTime)
		}
	}
}

func TestImageIsReproducible(t *testing.T) {
	b := fakeBinaries(t)
	first, err := Image(b)
	if err != nil {
		t.Fatal(err)
	}
	// New mtimes and a copy elsewhere change nothing.
	copyDir := t.TempDir()
	data, _ := os.ReadFile(b.Executor)
	b.Executor = filepath.Join(copyDir, "executor")
	os.WriteFile(b.Executor, data, 0o755)
	second, err := Image(b)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := first.Digest()
	d2, _ := second.Digest()
	if d1 != d2 {
		t.Errorf("two builds from the same binaries: %s and %s", d1, d2)
	}
	os.WriteFile(b.Executor, []byte("kaniko v2"), 0o755)
	third, _ := Image(b)
	if d3, _ := third.Digest(); d3 == d1 {
		t.Errorf("a different executor kept digest %s", d1)
	}
}

func keys(m map[string]*tar.Header) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
