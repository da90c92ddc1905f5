//go:build integration

// Package render tests the render-dockerfile binary against real servers: a
// distribution registry for RESOLVE_DIGESTS, and the sample functions the
// rendered Dockerfiles are for, run as plain processes.
package render

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/knative-lambda/lambda-builder/tests/harness"
)

const module = "github.com/knative-lambda/lambda-builder"

var fixtures = filepath.Join("..", "..", "fixtures", "functions")

// buildStep builds the step binary as the Task image would run it.
func buildStep(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "render-dockerfile")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, module+"/cmd/render-dockerfile")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the step: %v\n%s", err, out)
	}
	return bin
}

// copyDir copies a sample function into a fresh folder.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

type stepRun struct {
	code    int
	stderr  string
	results map[string]string
}

func runStep(t *testing.T, bin string, env ...string) stepRun {
	t.Helper()
	resultsDir := filepath.Join(t.TempDir(), "results")
	cmd := exec.Command(bin)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "RESULTS_DIR=" + resultsDir}, env...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	err := cmd.Run()
	r := stepRun{stderr: stderr.String(), results: map[string]string{}}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(resultsDir)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(resultsDir, e.Name()))
		r.results[e.Name()] = string(b)
	}
	return r
}

// TestResolveDigestsAgainstRegistry renders the three sample functions with
// BASE_REGISTRY pointing at a real registry that holds the default base
// images under their own paths, as the Kaniko tests will, and checks every
// FROM is pinned to the digest the registry serves.
func TestResolveDigestsAgainstRegistry(t *testing.T) {
	reg := harness.StartRegistry(t)
	bin := buildStep(t)
	digests := map[string]string{}
	for _, repo := range []string{"library/python:3.13-slim", "library/node:24-slim", "library/golang:1.26", "distroless/static-debian12:nonroot"} {
		ref := reg.Host + "/" + repo
		digests[ref] = ref + "@" + harness.PushRandomIndex(t, ref)
	}
	tests := []struct {
		fixture string
		images  []string
	}{
		{"python", []string{reg.Host + "/library/python:3.13-slim"}},
		{"node", []string{reg.Host + "/library/node:24-slim"}},
		{"go", []string{reg.Host + "/library/golang:1.26", reg.Host + "/distroless/static-debian12:nonroot"}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			src := copyDir(t, filepath.Join(fixtures, tt.fixture))
			r := runStep(t, bin, "SOURCE_DIR="+src, "BASE_REGISTRY="+reg.Host, "RESOLVE_DIGESTS=true")
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			var got []string
			if err := json.Unmarshal([]byte(r.results["BASE_IMAGES"]), &got); err != nil {
				t.Fatalf("BASE_IMAGES %q: %v", r.results["BASE_IMAGES"], err)
			}
			var want []string
			for _, img := range tt.images {
				want = append(want, digests[img])
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("BASE_IMAGES = %v, want %v", got, want)
			}
			dockerfile, err := os.ReadFile(r.results["DOCKERFILE"])
			if err != nil {
				t.Fatal(err)
			}
			for _, img := range want {
				if !strings.Contains(string(dockerfile), "\nFROM "+img) {
					t.Errorf("the Dockerfile has no FROM %s:\n%s", img, dockerfile)
				}
			}
			if r.results["LANGUAGE"] != tt.fixture || r.results["RENDERED"] != "true" {
				t.Errorf("results = %v", r.results)
			}
		})
	}

	t.Run("missing image", func(t *testing.T) {
		src := copyDir(t, filepath.Join(fixtures, "python"))
		r := runStep(t, bin, "SOURCE_DIR="+src, "BASE_REGISTRY="+reg.Host, "RESOLVE_DIGESTS=true", "PYTHON_VERSION=3.99")
		wantLine := "render-dockerfile: InvalidConfig: resolving base image " + reg.Host + "/library/python:3.99-slim: not found"
		if r.code != 2 || !strings.HasPrefix(r.stderr, wantLine) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("exit %d, stderr %q; want exit 2 and one line starting %q", r.code, r.stderr, wantLine)
		}
		if len(r.results) != 0 {
			t.Errorf("a failed run wrote results: %v", r.results)
		}
	})
}

// TestSampleFunctionsAnswer runs each sample function the way its rendered
// ENTRYPOINT does and checks it answers on $PORT: the Kaniko issue builds
// these, so they must work.
func TestSampleFunctionsAnswer(t *testing.T) {
	goBin := filepath.Join(t.TempDir(), "function")
	build := exec.Command("go", "build", "-o", goBin, ".")
	build.Dir = filepath.Join(fixtures, "go")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the Go sample: %v\n%s", err, out)
	}
	tests := []struct {
		language string
		argv     []string
		dir      string
	}{
		{"python", []string{harness.Tool(t, "python3"), "main.py"}, "python"},
		{"node", []string{harness.Tool(t, "node"), "server.js"}, "node"},
		{"go", []string{goBin}, "go"},
	}
	for _, tt := range tests {
		t.Run(tt.language, func(t *testing.T) {
			addr := harness.FreeAddr(t)
			port := addr[strings.LastIndex(addr, ":")+1:]
			dir, err := filepath.Abs(filepath.Join(fixtures, tt.dir))
			if err != nil {
				t.Fatal(err)
			}
			argv := append([]string{}, tt.argv...)
			if len(argv) > 1 {
				argv[1] = filepath.Join(dir, argv[1])
			}
			p := harness.Start(t, tt.language+"-function", argv, "HOST=127.0.0.1", "PORT="+port)
			var body string
			p.WaitReady(t, 20*time.Second, func(ctx context.Context) error {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/", nil)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				if err != nil || resp.StatusCode != http.StatusOK {
					return fmt.Errorf("GET /: %s %v", resp.Status, err)
				}
				body = string(b)
				return nil
			})
			if want := "hello from " + tt.language + "\n"; body != want {
				t.Errorf("body %q, want %q", body, want)
			}
		})
	}
}
