package verify_test

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/knative-lambda/lambda-builder/internal/step"
	"github.com/knative-lambda/lambda-builder/internal/verify"
	"github.com/knative-lambda/lambda-builder/internal/verify/verifytest"
)

// tamperingRegistry is go-containerregistry's in-process registry with a
// way to change what it serves after a push (a real registry's storage
// going bad), which the in-process registry's own checks would refuse at
// upload time.
type tamperingRegistry struct {
	inner   http.Handler
	mu      sync.Mutex
	corrupt map[string]bool // blob digests served with flipped bytes
	status  int             // when non-zero, every request gets it
}

func (r *tamperingRegistry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	status := r.status
	bad := r.corrupt[req.URL.Path[strings.LastIndex(req.URL.Path, "/")+1:]] && strings.Contains(req.URL.Path, "/blobs/")
	r.mu.Unlock()
	switch {
	case status != 0:
		http.Error(w, http.StatusText(status), status)
	case bad && req.Method == http.MethodGet:
		rec := httptest.NewRecorder()
		r.inner.ServeHTTP(rec, req)
		body := rec.Body.Bytes()
		verifytest.Corrupt(body)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(body)
	default:
		r.inner.ServeHTTP(w, req)
	}
}

func startRegistry(t *testing.T) (*tamperingRegistry, string) {
	t.Helper()
	reg := &tamperingRegistry{inner: registry.New(registry.Logger(log.New(io.Discard, "", 0))), corrupt: map[string]bool{}}
	srv := httptest.NewServer(reg)
	t.Cleanup(srv.Close)
	return reg, strings.TrimPrefix(srv.URL, "http://")
}

// runStep runs the step the way its main does, with env as its whole
// environment, and collects what it left behind.
func runStep(t *testing.T, env map[string]string) verifytest.Outcome {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "results")
	env["RESULTS_DIR"] = dir
	var stdout, stderr bytes.Buffer
	code := step.Run(context.Background(), "verify-image", &stderr, func(ctx context.Context) error {
		cfg, err := verify.LoadConfigFrom(ctx, step.MapLookuper(env))
		if err != nil {
			return err
		}
		return verify.Run(ctx, cfg, verify.Options{Log: &stdout, RetryBase: time.Millisecond})
	})
	read := func(n string) string {
		b, _ := os.ReadFile(filepath.Join(dir, n))
		return string(b)
	}
	return verifytest.Outcome{Code: code, Stderr: stderr.String(), Stdout: stdout.String(), Verified: read("VERIFIED"), Report: read("REPORT")}
}

func TestCases(t *testing.T) {
	reg, host := startRegistry(t)
	for i, c := range verifytest.Cases() {
		t.Run(c.Name, func(t *testing.T) {
			ref, err := name.NewTag(host + "/fn/case" + string(rune('a'+i)) + ":1")
			if err != nil {
				t.Fatal(err)
			}
			p, err := verifytest.Push(context.Background(), ref, c)
			if err != nil {
				t.Fatal(err)
			}
			if c.Tamper == verifytest.CorruptLayer {
				reg.mu.Lock()
				reg.corrupt[p.Corrupt.String()] = true
				reg.mu.Unlock()
			}
			env := map[string]string{"IMAGE_URL": ref.String(), "IMAGE_DIGEST": p.Digest.String()}
			for k, v := range c.Env {
				env[k] = v
			}
			o := runStep(t, env)
			if err := c.Check(o); err != nil {
				t.Errorf("%v\nlog:\n%s", err, o.Stdout)
			}
			if testing.Verbose() {
				t.Logf("stderr: %s\nlog:\n%s", o.Stderr, o.Stdout)
			}
		})
	}
}
