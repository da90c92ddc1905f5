//go:build integration

package kaniko

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"

	"github.com/knative-lambda/lambda-builder/internal/render"
	"github.com/knative-lambda/lambda-builder/internal/step"
	"github.com/knative-lambda/lambda-builder/tests/harness"
	kanikotest "github.com/knative-lambda/lambda-builder/tests/kaniko"
)

// TestSampleFunctions renders each sample function's Dockerfile with
// render-dockerfile (BASE_REGISTRY at the test registry, where the stand-in
// bases are), builds it with the Task's Kaniko step, then runs the pushed
// image under runc as its config says (non-root, no capabilities) and
// expects an HTTP answer on $PORT.
func TestSampleFunctions(t *testing.T) {
	s := newSuite(t)
	tests := []struct {
		lang  string
		bases []string
	}{
		{"python", []string{"python"}},
		{"node", []string{"node"}},
		{"go", []string{"golang", "static"}},
	}
	for _, tt := range tests {
		t.Run(tt.lang, func(t *testing.T) {
			ctx := context.Background()
			if err := s.bases.Need(ctx, tt.bases...); err != nil {
				t.Fatal(err)
			}
			src := source(t, filepath.Join(s.root, "tests/fixtures/functions", tt.lang))
			cfg := render.Config{SourceDir: src, BaseRegistry: s.env.Registry.Host, ResultsConfig: step.ResultsConfig{ResultsDir: t.TempDir()}}
			if err := render.Run(ctx, cfg, render.NewRemoteResolver(), io.Discard); err != nil {
				t.Fatalf("render-dockerfile: %v", err)
			}
			out := s.env.Run(ctx, t, kanikotest.Build{
				Params: map[string]pipelinev1.ParamValue{"IMAGE": kanikotest.String(s.env.Registry.Host + "/functions/" + tt.lang + ":1")},
				Source: src,
			})
			if out.ExitCode != 0 {
				t.Fatalf("build exit %d:\n%s", out.ExitCode, out.Log)
			}
			port := strings.TrimPrefix(harness.FreeAddr(t), "127.0.0.1:")
			body, _ := s.env.Serve(ctx, t, out.Results["IMAGE_REF"], port)
			if want := "hello from " + tt.lang; !strings.Contains(body, want) {
				t.Errorf("GET / answered %q, want %q", body, want)
			}
		})
	}
}
