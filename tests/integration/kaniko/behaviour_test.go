//go:build integration

package kaniko

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"

	"github.com/knative-lambda/lambda-builder/tests/harness"
	kanikotest "github.com/knative-lambda/lambda-builder/tests/kaniko"
)

// writeContext makes a source workspace from name -> content.
func writeContext(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for n, c := range files {
		p := filepath.Join(dir, n)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func (s *suite) run(t *testing.T, src, image string, params map[string]pipelinev1.ParamValue) *kanikotest.Outcome {
	t.Helper()
	if err := s.bases.Need(context.Background(), "busybox"); err != nil {
		t.Fatal(err)
	}
	p := map[string]pipelinev1.ParamValue{
		"IMAGE":      kanikotest.String(image),
		"BUILD_ARGS": kanikotest.Array("BASE_REGISTRY=" + s.env.Registry.Host),
	}
	for k, v := range params {
		p[k] = v
	}
	return s.env.Run(context.Background(), t, kanikotest.Build{Params: p, Source: src})
}

func tags(t *testing.T, repo string) []string {
	t.Helper()
	r, err := name.NewRepository(repo)
	if err != nil {
		t.Fatal(err)
	}
	list, err := remote.List(r)
	if err != nil {
		t.Fatalf("listing %s: %v", repo, err)
	}
	slices.Sort(list)
	return list
}

// layerDigests are the pushed image's layers, base first.
func layerDigests(t *testing.T, ref string) []string {
	t.Helper()
	r, _ := name.ParseReference(ref)
	img, err := remote.Image(r)
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := img.Layers()
	var out []string
	for _, l := range ls {
		d, _ := l.Digest()
		out = append(out, d.String())
	}
	return out
}

const cachedDockerfile = `ARG BASE_REGISTRY
FROM ${BASE_REGISTRY}/library/busybox:1.36
COPY deps.txt /app/deps.txt
RUN sort /app/deps.txt > /app/installed && echo "installed $(wc -l < /app/installed) deps"
COPY code.txt /app/code.txt
CMD ["cat", "/app/code.txt"]
`

// TestCache: with the Task's defaults (CACHE true, CACHE_REPO empty) the RUN
// layer lands in <IMAGE repo>/cache; an unchanged rebuild reuses it (and with
// REPRODUCIBLE gives the same digest); a code-only change rebuilds only the
// code layer.
func TestCache(t *testing.T) {
	s := newSuite(t)
	repo := s.env.Registry.Host + "/cache-test/fn"
	src := writeContext(t, map[string]string{"Dockerfile": cachedDockerfile, "deps.txt": "b\na\n", "code.txt": "v1\n"})
	const runCmd = `RUN sort /app/deps.txt > /app/installed`

	reproducible := map[string]pipelinev1.ParamValue{"REPRODUCIBLE": kanikotest.String("true")}
	first := s.run(t, src, repo+":1", reproducible)
	if first.ExitCode != 0 {
		t.Fatalf("cold build exit %d:\n%s", first.ExitCode, first.Log)
	}
	if !strings.Contains(first.Log, "No cached layer found for cmd "+runCmd) {
		t.Errorf("cold build: no cache miss logged for the RUN:\n%s", first.Log)
	}
	cacheTags := tags(t, repo+"/cache")
	if len(cacheTags) != 1 {
		t.Fatalf("cache repo %s/cache has tags %v after the cold build, want one (the RUN layer)", repo, cacheTags)
	}

	second := s.run(t, src, repo+":2", reproducible)
	if second.ExitCode != 0 {
		t.Fatalf("warm build exit %d:\n%s", second.ExitCode, second.Log)
	}
	if !strings.Contains(second.Log, "Using caching version of cmd: "+runCmd) {
		t.Errorf("warm build did not use the cached RUN layer:\n%s", second.Log)
	}
	if strings.Contains(second.Log, "No cached layer found") {
		t.Errorf("warm build missed the cache:\n%s", second.Log)
	}
	if got := tags(t, repo+"/cache"); !slices.Equal(got, cacheTags) {
		t.Errorf("warm build changed the cache repo: %v, was %v", got, cacheTags)
	}
	if first.Results["IMAGE_DIGEST"] != second.Results["IMAGE_DIGEST"] {
		t.Errorf("unchanged context, REPRODUCIBLE true: digests %s and %s differ", first.Results["IMAGE_DIGEST"], second.Results["IMAGE_DIGEST"])
	}

	os.WriteFile(filepath.Join(src, "code.txt"), []byte("v2\n"), 0o644)
	third := s.run(t, src, repo+":3", reproducible)
	if third.ExitCode != 0 {
		t.Fatalf("code-edit build exit %d:\n%s", third.ExitCode, third.Log)
	}
	if !strings.Contains(third.Log, "Using caching version of cmd: "+runCmd) {
		t.Errorf("code-only edit rebuilt the dependency layer:\n%s", third.Log)
	}
	a, b := layerDigests(t, first.Results["IMAGE_REF"]), layerDigests(t, third.Results["IMAGE_REF"])
	// busybox, COPY deps.txt, RUN, COPY code.txt
	if len(a) != 4 || len(b) != 4 {
		t.Fatalf("layers %v and %v, want 4 each", a, b)
	}
	if !slices.Equal(a[:3], b[:3]) {
		t.Errorf("base and dependency layers changed with code only: %v -> %v", a[:3], b[:3])
	}
	if a[3] == b[3] {
		t.Errorf("the code layer did not change: %s", a[3])
	}
	if got := tags(t, repo+"/cache"); !slices.Equal(got, cacheTags) {
		t.Errorf("code-only edit added cache entries: %v, was %v", got, cacheTags)
	}
}

// TestFailures: a registry that refuses auth and a registry that drops the
// connection during the push both fail the step with a clear reason and no
// result; the second shows why results are not Kaniko's own digest file.
func TestFailures(t *testing.T) {
	s := newSuite(t)
	src := writeContext(t, map[string]string{"Dockerfile": cachedDockerfile, "deps.txt": "a\n", "code.txt": "v1\n"})
	target := "http://" + s.env.Registry.Host
	tests := []struct {
		name   string
		fault  harness.Fault
		reason string
		log    string
	}{
		{name: "registry refuses auth", reason: "RegistryRefused", log: "401",
			fault: func(r *http.Request, n int) harness.Action { return harness.Status(http.StatusUnauthorized) }},
		{name: "registry drops the push", reason: "PushFailed", log: "failed to push",
			fault: func(r *http.Request, n int) harness.Action {
				if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
					return harness.Reset
				}
				return harness.Pass
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proxy := harness.StartFaultProxy(t, target, tt.fault)
			out := s.run(t, src, proxy.Host+"/fail/fn:1", map[string]pipelinev1.ParamValue{"CACHE": kanikotest.String("false")})
			if out.ExitCode == 0 {
				t.Fatalf("built through a failing registry:\n%s", out.Log)
			}
			if len(out.Results) != 0 {
				t.Errorf("results after a failed push: %v", out.Results)
			}
			last := lastLine(out.Log)
			if !strings.HasPrefix(last, "kaniko-build: "+tt.reason+": ") || !strings.Contains(last, tt.log) {
				t.Errorf("last line %q, want reason %s mentioning %q; log:\n%s", last, tt.reason, tt.log, out.Log)
			}
			if tt.reason == "PushFailed" && !slices.Contains(out.Upper, "/kaniko/lb-results/digest") {
				t.Errorf("Kaniko did not write its digest file before the push (written: %v): if it no longer does, the step can pass --digest-file=$(results.IMAGE_DIGEST.path) directly", out.Upper)
			}
		})
	}
}
