package verify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/knative-lambda/lambda-builder/internal/step"
	"github.com/knative-lambda/lambda-builder/internal/verify"
	"github.com/knative-lambda/lambda-builder/internal/verify/verifytest"
)

// tamperingRegistry is go-containerregistry's in-process registry with a
// way to change what it serves after a push (a real registry's storage going
// bad, which the in-process registry's own checks refuse at upload time) and
// to inject failures.
type tamperingRegistry struct {
	inner    http.Handler
	mu       sync.Mutex
	requests map[string]int                            // per method and path
	corrupt  map[string]bool                           // blob digests served with flipped bytes
	fault    func(r *http.Request, nth int) int        // a status to answer instead, or 0
	rewrite  func(r *http.Request, body []byte) []byte // changes a response body
}

func (r *tamperingRegistry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	key := req.Method + " " + req.URL.Path
	r.requests[key]++
	nth := r.requests[key]
	digest := req.URL.Path[strings.LastIndex(req.URL.Path, "/")+1:]
	bad := r.corrupt[digest] && strings.Contains(req.URL.Path, "/blobs/")
	fault, rewrite := r.fault, r.rewrite
	r.mu.Unlock()
	if fault != nil {
		if status := fault(req, nth); status != 0 {
			http.Error(w, http.StatusText(status), status)
			return
		}
	}
	if !bad && rewrite == nil || req.Method != http.MethodGet {
		r.inner.ServeHTTP(w, req)
		return
	}
	rec := httptest.NewRecorder()
	r.inner.ServeHTTP(rec, req)
	body := rec.Body.Bytes()
	if bad {
		verifytest.Corrupt(body)
	}
	if rewrite != nil {
		body = rewrite(req, body)
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rec.Code)
	w.Write(body)
}

func (r *tamperingRegistry) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.requests {
		n += c
	}
	return n
}

func startRegistry(t *testing.T) (*tamperingRegistry, string) {
	t.Helper()
	reg := &tamperingRegistry{inner: registry.New(registry.Logger(log.New(io.Discard, "", 0))), corrupt: map[string]bool{}, requests: map[string]int{}}
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
			env, p := verifytest.PushTo(t, host, fmt.Sprintf("fn/case%02d", i), c)
			if c.Tamper == verifytest.CorruptLayer {
				reg.mu.Lock()
				reg.corrupt[p.Corrupt.String()] = true
				reg.mu.Unlock()
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

func clean() verifytest.Case { return verifytest.Cases()[0] }

func TestRegistryFaults(t *testing.T) {
	tests := []struct {
		name     string
		fault    func(r *http.Request, nth int) int
		wantCode int
		wantErr  string
		maxReqs  int // bound on the requests the run may make (0: none)
	}{
		{name: "500 twice on every request, then success", fault: func(_ *http.Request, nth int) int {
			if nth <= 2 {
				return http.StatusInternalServerError
			}
			return 0
		}},
		{name: "429 once, then success", fault: func(_ *http.Request, nth int) int {
			if nth == 1 {
				return http.StatusTooManyRequests
			}
			return 0
		}},
		{name: "always 401: one clear error, no retry loop", fault: func(*http.Request, int) int { return http.StatusUnauthorized },
			wantCode: step.CodeUnavailable, wantErr: "refused access (401 Unauthorized)", maxReqs: 4},
		{name: "always 403", fault: func(*http.Request, int) int { return http.StatusForbidden },
			wantCode: step.CodeUnavailable, wantErr: "refused access (403 Forbidden)", maxReqs: 4},
		{name: "always 503: bounded retries", fault: func(*http.Request, int) int { return http.StatusServiceUnavailable },
			wantCode: step.CodeUnavailable, wantErr: "kept failing after retries (503", maxReqs: 2 * 5},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg, host := startRegistry(t)
			env, _ := verifytest.PushTo(t, host, fmt.Sprintf("fault%d", i), clean())
			reg.mu.Lock()
			reg.requests, reg.fault = map[string]int{}, tt.fault
			reg.mu.Unlock()
			o := runStep(t, env)
			if tt.wantCode == 0 {
				if err := clean().Check(o); err != nil {
					t.Fatal(err)
				}
				return
			}
			if o.Code != tt.wantCode || !strings.Contains(o.Stderr, tt.wantErr) || strings.Count(o.Stderr, "\n") != 1 {
				t.Errorf("exit %d, stderr %q; want exit %d and one line mentioning %q", o.Code, o.Stderr, tt.wantCode, tt.wantErr)
			}
			if o.Verified != "" || o.Report != "" {
				t.Errorf("results written although the registry could not be read: %q %q", o.Verified, o.Report)
			}
			t.Logf("%d requests; stderr %s", reg.total(), o.Stderr)
			if n := reg.total(); n > tt.maxReqs {
				t.Errorf("%d requests, want at most %d", n, tt.maxReqs)
			}
		})
	}
}

func TestHostileImages(t *testing.T) {
	reg, host := startRegistry(t)

	t.Run("hundreds of secrets with hostile names: report within budget, one line per check", func(t *testing.T) {
		// The hostile name comes first: only the first findings are detailed.
		files := []verifytest.File{{Path: "x\nverify-image: PASS secrets: forged\x1b[31m/.ssh/id_rsa"}}
		for i := range 300 {
			files = append(files, verifytest.File{Path: fmt.Sprintf("home/u%03d/%s/.aws/credentials", i, strings.Repeat("deep/", 20))})
		}
		spec := verifytest.Clean()
		l, err := verifytest.Layer(files...)
		if err != nil {
			t.Fatal(err)
		}
		spec.Layers = append(spec.Layers, l)
		env, _ := verifytest.PushTo(t, host, "many-secrets", verifytest.Case{Build: func() (remote.Taggable, error) { return spec.Build() }})
		o := runStep(t, env)
		c := verifytest.Case{Fails: "secrets", Detail: "301 secret files baked"}
		if err := c.Check(o); err != nil {
			t.Fatal(err)
		}
		t.Logf("results: %d bytes; log:\n%s", len(o.Verified)+len(o.Report), o.Stdout)
		if len(o.Verified)+len(o.Report) > step.DefaultResultsBudget {
			t.Errorf("results take %d bytes", len(o.Verified)+len(o.Report))
		}
		if lines := strings.Split(strings.TrimSpace(o.Stdout), "\n"); len(lines) != 1+len(verifytest.Checks) || strings.Contains(o.Stdout, "\x1b") {
			t.Errorf("log has %d lines (want %d) or raw escapes:\n%s", len(lines), 1+len(verifytest.Checks), o.Stdout)
		}
	})

	t.Run("config claiming a huge size is not fetched", func(t *testing.T) {
		img, err := verifytest.Clean().Build()
		if err != nil {
			t.Fatal(err)
		}
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		configPath := "/v2/huge-config/blobs/" + m.Config.Digest.String()
		m.Config.Size = 1 << 40
		raw, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := name.NewTag(host + "/huge-config:1")
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		if err := remote.Put(ref, rawManifest{raw, m.MediaType}); err != nil {
			t.Fatal(err)
		}
		d, _, _ := v1.SHA256(bytes.NewReader(raw))
		reg.mu.Lock()
		reg.requests = map[string]int{}
		reg.mu.Unlock()
		o := runStep(t, map[string]string{"IMAGE_URL": ref.String(), "IMAGE_DIGEST": d.String()})
		if o.Code != step.CodePolicy || !strings.Contains(o.Report, "claims 1099511627776 bytes") || !strings.Contains(o.Stderr, "content, size") {
			t.Errorf("exit %d, stderr %q, report %s", o.Code, o.Stderr, o.Report)
		}
		reg.mu.Lock()
		defer reg.mu.Unlock()
		if n := reg.requests["GET "+configPath]; n != 0 {
			t.Errorf("the config was fetched %d times", n)
		}
	})

	t.Run("registry serving another manifest for the digest", func(t *testing.T) {
		env, p := verifytest.PushTo(t, host, "swapped", clean())
		other, err := verifytest.Clean().Build()
		if err != nil {
			t.Fatal(err)
		}
		otherImg, _ := mutate.Config(other, v1.Config{User: "0"})
		otherRaw, _ := otherImg.RawManifest()
		reg.mu.Lock()
		reg.rewrite = func(r *http.Request, body []byte) []byte {
			if strings.HasSuffix(r.URL.Path, "/manifests/"+p.Digest.String()) {
				return otherRaw
			}
			return body
		}
		reg.mu.Unlock()
		defer func() { reg.mu.Lock(); reg.rewrite = nil; reg.mu.Unlock() }()
		env["IMAGE_URL"] = strings.TrimSuffix(env["IMAGE_URL"], ":1") + "@" + p.Digest.String()
		o := runStep(t, env)
		c := verifytest.Case{Fails: "manifest", Detail: "does not match requested digest"}
		if err := c.Check(o); err != nil {
			t.Fatal(err)
		}
	})
}

// rawManifest pushes bytes as they are, to craft manifests no builder makes.
type rawManifest struct {
	b  []byte
	mt types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.b, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

func TestFastMode(t *testing.T) {
	reg, host := startRegistry(t)
	corrupt := verifytest.Cases()[4]
	if corrupt.Tamper != verifytest.CorruptLayer {
		t.Fatalf("case 4 is %q, not the corrupted layer", corrupt.Name)
	}
	tests := []struct {
		name       string
		c          verifytest.Case
		env        map[string]string
		fails      string
		detail     string
		layerReads bool
	}{
		{name: "clean, secrets scanned", c: clean(), env: map[string]string{"VERIFY_MODE": "fast"}, detail: "diff_ids not re-hashed", layerReads: true},
		{name: "clean, secrets off: no layer body read", c: clean(), env: map[string]string{"VERIFY_MODE": "fast", "CHECK_SECRETS": "false"}, detail: "bodies not read"},
		{name: "corrupt layer still caught while scanning", c: corrupt, env: map[string]string{"VERIFY_MODE": "fast"}, fails: "content", detail: "do not match the manifest", layerReads: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, p := verifytest.PushTo(t, host, fmt.Sprintf("fast%d", i), tt.c)
			for k, v := range tt.env {
				env[k] = v
			}
			reg.mu.Lock()
			reg.requests = map[string]int{}
			if tt.c.Tamper == verifytest.CorruptLayer {
				reg.corrupt[p.Corrupt.String()] = true
			}
			reg.mu.Unlock()
			o := runStep(t, env)
			var content string
			var rs []verify.Result
			if err := json.Unmarshal([]byte(o.Report), &rs); err != nil {
				t.Fatal(err)
			}
			for _, r := range rs {
				if r.Check == verify.CheckContent {
					content = r.Detail
				}
			}
			if got := strings.Join(verify.Report(rs).Failed(), ","); got != tt.fails || !strings.Contains(content, tt.detail) {
				t.Errorf("failed %q, content %q; want failed %q, content ~ %q", got, content, tt.fails, tt.detail)
			}
			reg.mu.Lock()
			defer reg.mu.Unlock()
			reads := 0
			for k, n := range reg.requests {
				if strings.HasPrefix(k, "GET ") && strings.Contains(k, "/blobs/") {
					reads += n
				}
			}
			// One blob GET is the config; more are layer bodies.
			if (reads > 1) != tt.layerReads {
				t.Errorf("%d blob GETs, want layer bodies read = %v", reads, tt.layerReads)
			}
		})
	}
}

// TestEveryKnobOff: an image breaking every policy passes when every policy
// is switched off, each check saying which knob did it; integrity checks
// have no knob.
func TestEveryKnobOff(t *testing.T) {
	_, host := startRegistry(t)
	bad := verifytest.Clean()
	bad.User, bad.Entrypoint, bad.Cmd, bad.Arch, bad.Labels = "root", nil, nil, "arm64", nil
	l, err := verifytest.Layer(verifytest.File{Path: "root/.ssh/id_rsa", Body: verifytest.SecretValue})
	if err != nil {
		t.Fatal(err)
	}
	bad.Layers = append(bad.Layers, l)
	c := verifytest.Case{Build: func() (remote.Taggable, error) { return bad.Build() }, Detail: "layers", Env: map[string]string{
		"CHECK_USER": "false", "CHECK_ENTRYPOINT": "false", "PLATFORM": "", "MAX_IMAGE_BYTES": "0", "MAX_LAYERS": "0",
		"REQUIRED_LABELS": "", "CHECK_SECRETS": "false"}}
	env, _ := verifytest.PushTo(t, host, "knobs-off", c)
	o := runStep(t, env)
	if err := c.Check(o); err != nil {
		t.Fatal(err)
	}
	var rs []verify.Result
	if err := json.Unmarshal([]byte(o.Report), &rs); err != nil {
		t.Fatal(err)
	}
	var off []string
	for _, r := range rs {
		if r.Skipped == verify.SkippedOff {
			off = append(off, r.Check+" ("+r.Detail+")")
		}
	}
	want := "config-user (CHECK_USER=false), config-entrypoint (CHECK_ENTRYPOINT=false), platform (PLATFORM is empty), size (MAX_IMAGE_BYTES=0 and MAX_LAYERS=0), labels (REQUIRED_LABELS is empty), secrets (CHECK_SECRETS=false)"
	if got := strings.Join(off, ", "); got != want {
		t.Errorf("off checks = %s\nwant %s", got, want)
	}
}

func TestBrokenDockerConfigIsAConfigError(t *testing.T) {
	_, host := startRegistry(t)
	env, _ := verifytest.PushTo(t, host, "broken-config", clean())
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"credHelpers":{"`+host+`":"not-installed"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir) // the default keychain reads the process environment
	env["DOCKER_CONFIG"] = dir
	o := runStep(t, env)
	if o.Code != step.CodeConfig || !strings.Contains(o.Stderr, "reading credentials for "+host) || o.Report != "" {
		t.Errorf("exit %d, stderr %q, report %q; want a config error about the credentials and no results", o.Code, o.Stderr, o.Report)
	}
}

// TestPromote: with PROMOTE the image is checked by digest (the build pushed
// it under a staging tag) and IMAGE_URL's tag is moved to it only when every
// check passed.
func TestPromote(t *testing.T) {
	_, host := startRegistry(t)
	rootUser := verifytest.Clean()
	rootUser.User = "root"
	tests := []struct {
		name     string
		image    verifytest.Spec
		verified bool
	}{
		{"a clean image gets the tag", verifytest.Clean(), true},
		{"a rejected image does not", rootUser, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := tt.image
			c := verifytest.Case{Build: func() (remote.Taggable, error) { return spec.Build() }}
			env, p := verifytest.PushTo(t, host, fmt.Sprintf("promote%d", i), c) // pushed as :1, the staging tag
			live := strings.TrimSuffix(env["IMAGE_URL"], ":1") + ":live"
			env["IMAGE_URL"], env["PROMOTE"] = live, "true"
			o := runStep(t, env)
			desc, err := remote.Head(mustTag(t, live))
			switch {
			case tt.verified && (o.Code != 0 || err != nil || desc.Digest != p.Digest):
				t.Errorf("exit %d (%s), tag live: %v %v; want the tag on %s", o.Code, o.Stderr, desc, err, p.Digest)
			case !tt.verified && (o.Code == 0 || err == nil):
				t.Errorf("exit %d, tag live exists (%v): a rejected image must not be promoted", o.Code, err)
			}
			var rs []verify.Result
			if err := json.Unmarshal([]byte(o.Report), &rs); err != nil {
				t.Fatal(err)
			}
			if tag := rs[0]; tag.Check != verify.CheckTagDigest || tag.OK != tt.verified ||
				(!tt.verified && !strings.Contains(tag.Detail, "not promoted")) {
				t.Errorf("tag check = %+v", tag)
			}
		})
	}
}

func mustTag(t *testing.T, s string) name.Tag {
	t.Helper()
	tag, err := name.NewTag(s)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}
