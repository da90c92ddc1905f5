//go:build integration

// Package verify runs the verify-image binary against a real distribution
// registry (tests/harness), with the crafted images of verifytest, and
// through a fault-injecting proxy.
package verify

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/knative-lambda/lambda-builder/internal/verify/verifytest"
	"github.com/knative-lambda/lambda-builder/tests/harness"
)

var binary string

// TestMain builds the step binary once, as `make build` does.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "verify-image-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "verify-image")
	build := exec.Command("go", "build", "-trimpath", "-o", binary, "github.com/knative-lambda/lambda-builder/cmd/verify-image")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building verify-image: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// run executes the binary with env as its whole environment (HOME points to
// an empty folder: no credentials of the machine leak in) and collects what
// it left behind.
func run(t *testing.T, env map[string]string) verifytest.Outcome {
	t.Helper()
	dir := t.TempDir()
	results := filepath.Join(dir, "results")
	argv := []string{"PATH=/usr/bin:/bin", "HOME=" + dir, "RESULTS_DIR=" + results}
	for k, v := range env {
		argv = append(argv, k+"="+v)
	}
	cmd := exec.Command(binary)
	cmd.Env = argv
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	o := verifytest.Outcome{Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		o.Code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running verify-image: %v", err)
	}
	read := func(n string) string {
		b, _ := os.ReadFile(filepath.Join(results, n))
		return string(b)
	}
	o.Verified, o.Report = read("VERIFIED"), read("REPORT")
	return o
}

// corruptBlob flips bytes of a blob in the registry's storage, as a disk or
// a replication bug would: the registry serves it under the same digest.
func corruptBlob(t *testing.T, reg *harness.Registry, d v1.Hash) {
	t.Helper()
	path := filepath.Join(reg.Root, "docker/registry/v2/blobs", d.Algorithm, d.Hex[:2], d.Hex, "data")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the stored blob: %v", err)
	}
	verifytest.Corrupt(b)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCraftedImages(t *testing.T) {
	reg := harness.StartRegistry(t)
	for i, c := range verifytest.Cases() {
		t.Run(c.Name, func(t *testing.T) {
			env, p := verifytest.PushTo(t, reg.Host, fmt.Sprintf("fn/case%02d", i), c)
			if c.Tamper == verifytest.CorruptLayer {
				corruptBlob(t, reg, p.Corrupt)
			}
			o := run(t, env)
			if err := c.Check(o); err != nil {
				t.Errorf("%v\nlog:\n%s", err, o.Stdout)
			}
		})
	}
}

// perPath answers the first n requests of every method+path with action,
// then passes: every kind of request (ping, tag, manifest, config, each
// layer) meets the fault.
func perPath(n int, action harness.Action) harness.Fault {
	var mu sync.Mutex
	seen := map[string]int{}
	return func(r *http.Request, _ int) harness.Action {
		mu.Lock()
		defer mu.Unlock()
		key := r.Method + " " + r.URL.Path
		seen[key]++
		if seen[key] <= n {
			return action
		}
		return harness.Pass
	}
}

func TestRegistryFaults(t *testing.T) {
	reg := harness.StartRegistry(t)
	env, _ := verifytest.PushTo(t, reg.Host, "fn/faults", verifytest.Cases()[0])
	clean := verifytest.Cases()[0]
	tests := []struct {
		name  string
		fault harness.Fault
		kind  string // the action that must have been used
	}{
		{name: "500 twice on every request, then success", fault: perPath(2, harness.Status(500)), kind: "status"},
		{name: "connection reset once per request", fault: perPath(1, harness.Reset), kind: "reset"},
		{name: "bodies (manifest, config, layers) cut after 100 bytes once", fault: perPath(1, harness.CutBody(100)), kind: "cut"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proxy := harness.StartFaultProxy(t, "http://"+reg.Host, tt.fault)
			e := map[string]string{}
			for k, v := range env {
				e[k] = strings.Replace(v, reg.Host, proxy.Host, 1)
			}
			o := run(t, e)
			if err := clean.Check(o); err != nil {
				t.Errorf("%v\nlog:\n%s", err, o.Stdout)
			}
			if proxy.Count(tt.kind) < 2 {
				t.Errorf("the proxy injected %d %s faults: the test did not exercise retries", proxy.Count(tt.kind), tt.kind)
			}
			t.Logf("%d requests, %d faults", proxy.Requests(), proxy.Count(tt.kind))
		})
	}

	t.Run("always 401: a clear error, no retry loop", func(t *testing.T) {
		proxy := harness.StartFaultProxy(t, "http://"+reg.Host, func(*http.Request, int) harness.Action { return harness.Status(http.StatusUnauthorized) })
		o := run(t, map[string]string{"IMAGE_URL": strings.Replace(env["IMAGE_URL"], reg.Host, proxy.Host, 1), "IMAGE_DIGEST": env["IMAGE_DIGEST"]})
		if o.Code != 4 || !strings.HasPrefix(o.Stderr, "verify-image: Unavailable: ") || !strings.Contains(o.Stderr, "refused access (401 Unauthorized)") ||
			!strings.Contains(o.Stderr, "dockerconfig workspace") || strings.Count(o.Stderr, "\n") != 1 {
			t.Errorf("exit %d, stderr %q: want exit 4 and one line saying the registry refused and how to give credentials", o.Code, o.Stderr)
		}
		if o.Verified != "" || o.Report != "" {
			t.Errorf("results written without a report: %q %q", o.Verified, o.Report)
		}
		if n := proxy.Requests(); n > 3 {
			t.Errorf("%d requests for a refusal: the client retried", n)
		}
	})
}

// TestDockerConfigWorkspace: a registry that wants credentials (a proxy
// refusing requests without them, in front of the real registry) and the
// dockerconfig workspace holding them.
func TestDockerConfigWorkspace(t *testing.T) {
	reg := harness.StartRegistry(t)
	env, _ := verifytest.PushTo(t, reg.Host, "fn/private", verifytest.Cases()[0])
	const user, pass = "robot", "w0rkspace-pass"
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	proxy := harness.StartFaultProxy(t, "http://"+reg.Host, func(r *http.Request, _ int) harness.Action {
		if r.Header.Get("Authorization") != want {
			return harness.Status(http.StatusUnauthorized)
		}
		return harness.Pass
	})
	workspace := t.TempDir()
	config := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, proxy.Host, base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
	if err := os.WriteFile(filepath.Join(workspace, "config.json"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	base := map[string]string{"IMAGE_URL": strings.Replace(env["IMAGE_URL"], reg.Host, proxy.Host, 1), "IMAGE_DIGEST": env["IMAGE_DIGEST"]}

	with := map[string]string{"DOCKER_CONFIG": workspace}
	for k, v := range base {
		with[k] = v
	}
	o := run(t, with)
	if err := verifytest.Cases()[0].Check(o); err != nil {
		t.Errorf("with the workspace: %v\nlog:\n%s", err, o.Stdout)
	}
	for _, out := range []string{o.Stdout, o.Stderr, o.Report} {
		if strings.Contains(out, pass) {
			t.Errorf("the password leaked: %q", out)
		}
	}

	o = run(t, base)
	if o.Code != 4 || !strings.Contains(o.Stderr, "refused access (401") {
		t.Errorf("without the workspace: exit %d, stderr %q; want 4, refused", o.Code, o.Stderr)
	}
}
