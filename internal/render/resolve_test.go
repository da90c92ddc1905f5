package render

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/knative-lambda/lambda-builder/internal/step"
	"github.com/knative-lambda/lambda-builder/tests/harness"
)

// startRegistry serves go-containerregistry's in-process registry on
// 127.0.0.1 (plain HTTP, as go-containerregistry assumes for localhost).
func startRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestResolveDigestsPinsEveryBaseImage(t *testing.T) {
	host := startRegistry(t)
	builder := harness.PushRandomIndex(t, host+"/library/golang:1.26")
	runtime := harness.PushRandomIndex(t, host+"/distroless/static-debian12:nonroot")

	src := copyFixture(t, "go")
	results, err := run(t, map[string]string{"SOURCE_DIR": src, "BASE_REGISTRY": host, "RESOLVE_DIGESTS": "true"}, NewRemoteResolver())
	if err != nil {
		t.Fatal(err)
	}
	wantBuilder := host + "/library/golang:1.26@" + builder
	wantRuntime := host + "/distroless/static-debian12:nonroot@" + runtime
	if want := `["` + wantBuilder + `","` + wantRuntime + `"]`; results[ResultBaseImages] != want {
		t.Errorf("BASE_IMAGES = %s, want %s", results[ResultBaseImages], want)
	}
	dockerfile, _ := os.ReadFile(results[ResultDockerfile])
	for _, line := range []string{"FROM " + wantBuilder + " AS build\n", "FROM " + wantRuntime + "\n"} {
		if !strings.Contains(string(dockerfile), line) {
			t.Errorf("Dockerfile lacks %q:\n%s", line, dockerfile)
		}
	}
	// The pinned references parse as BuildKit reads them.
	var froms []string
	for _, in := range parseInstructions(t, dockerfile) {
		if in.Cmd == "from" {
			froms = append(froms, in.Args[0])
		}
	}
	if len(froms) != 2 || froms[0] != wantBuilder || froms[1] != wantRuntime {
		t.Errorf("FROM images = %q", froms)
	}
}

// countingResolver counts lookups and answers a fixed digest.
type countingResolver struct{ calls []string }

func (c *countingResolver) Digest(_ context.Context, ref name.Reference) (string, error) {
	c.calls = append(c.calls, ref.String())
	return "sha256:" + strings.Repeat("0", 64), nil
}

func TestResolveDigestsOncePerImageAndKeepsDigests(t *testing.T) {
	pinned := "registry.example.com/python@sha256:" + strings.Repeat("1", 64)
	tests := []struct {
		name      string
		env       map[string]string
		fixture   string
		wantCalls int
	}{
		{name: "same image in both stages asked once", fixture: "python", wantCalls: 1},
		{name: "an image already pinned is not asked", fixture: "python", env: map[string]string{"PYTHON_BASE_IMAGE": pinned}, wantCalls: 0},
		{name: "builder and runtime", fixture: "go", wantCalls: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"SOURCE_DIR": copyFixture(t, tt.fixture), "RESOLVE_DIGESTS": "true"}
			for k, v := range tt.env {
				env[k] = v
			}
			r := &countingResolver{}
			if _, err := run(t, env, r); err != nil {
				t.Fatal(err)
			}
			if len(r.calls) != tt.wantCalls {
				t.Errorf("resolved %v, want %d lookups", r.calls, tt.wantCalls)
			}
		})
	}
}

func TestResolveDigestsErrors(t *testing.T) {
	host := startRegistry(t)
	harness.PushRandomIndex(t, host+"/library/golang:1.26") // the runtime image is missing

	down := httptest.NewServer(nil)
	downHost := strings.TrimPrefix(down.URL, "http://")
	down.Close()

	tests := []struct {
		name     string
		registry string
		wantCode int
		wantErr  string
	}{
		{name: "missing image", registry: host, wantCode: step.CodeConfig, wantErr: "distroless/static-debian12:nonroot: not found"},
		{name: "registry down", registry: downHost, wantCode: step.CodeUnavailable, wantErr: "resolving base image " + downHost + "/library/golang:1.26"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := copyFixture(t, "go")
			_, err := run(t, map[string]string{"SOURCE_DIR": src, "BASE_REGISTRY": tt.registry, "RESOLVE_DIGESTS": "true"}, NewRemoteResolver())
			if err == nil || step.ExitCode(err) != tt.wantCode || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v (exit %d), want exit %d saying %q", err, step.ExitCode(err), tt.wantCode, tt.wantErr)
			}
			if _, err := os.Stat(src + "/Dockerfile"); !os.IsNotExist(err) {
				t.Errorf("a Dockerfile was written despite the error")
			}
		})
	}
}
