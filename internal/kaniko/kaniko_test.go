package kaniko

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/knative-lambda/lambda-builder/internal/step"
)

// The test binary doubles as a fake executor: with FAKE_KANIKO set it acts
// out one Kaniko behaviour and exits.
func TestMain(m *testing.M) {
	if mode := os.Getenv("FAKE_KANIKO"); mode != "" {
		os.Exit(fakeExecutor(mode, os.Args[1:]))
	}
	os.Exit(m.Run())
}

const fakeDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func fakeExecutor(mode string, args []string) int {
	flag := func(name string) string {
		for _, a := range args {
			if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
				return v
			}
		}
		return ""
	}
	repo := strings.TrimSuffix(flag("destination"), ":v1")
	// Like Kaniko (pkg/executor/push.go): both files before the push.
	os.MkdirAll(filepath.Dir(flag("digest-file")), 0o755)
	os.WriteFile(flag("digest-file"), []byte(fakeDigest), 0o644)
	os.WriteFile(flag("image-name-with-digest-file"), []byte(repo+"@"+fakeDigest+"\n"), 0o644)
	switch mode {
	case "ok":
		fmt.Fprintln(os.Stderr, "INFO[0001] Pushed "+repo+"@"+fakeDigest)
		return 0
	case "wrong-ref":
		os.WriteFile(flag("image-name-with-digest-file"), []byte("other.example/x@"+fakeDigest+"\n"), 0o644)
		return 0
	case "push-reset":
		fmt.Fprintln(os.Stderr, "INFO[0001] Pushing image to "+repo)
		fmt.Fprintln(os.Stderr, "error pushing image: failed to push to destination "+repo+":v1: Patch \"http://x/v2/blobs/uploads/1\": read: connection reset by peer")
		return 1
	case "run-fails":
		fmt.Fprintln(os.Stdout, "INFO[0000] RUN false")
		fmt.Fprintln(os.Stderr, "error building image: error building stage: failed to execute command: waiting for process to exit: exit status 1")
		return 1
	}
	return 99
}

// workspace makes a source tree with a Dockerfile and a context folder.
func workspace(t *testing.T) Config {
	t.Helper()
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "app"), 0o755)
	os.WriteFile(filepath.Join(src, "Dockerfile"), []byte("FROM scratch\n"), 0o644)
	os.WriteFile(filepath.Join(src, "app", "Dockerfile"), []byte("FROM scratch\n"), 0o644)
	work := t.TempDir()
	return Config{
		Image: "registry.example/team/fn:v1", SourceDir: src, Context: ".", Dockerfile: "./Dockerfile",
		Cache: true, CacheTTL: "24h", Reproducible: true, WorkDir: work,
		ResultsConfig: step.ResultsConfig{ResultsDir: filepath.Join(work, "results")},
	}
}

func TestPlanFlags(t *testing.T) {
	cfg := workspace(t)
	src, _ := filepath.EvalSymlinks(cfg.SourceDir)
	tests := []struct {
		name   string
		change func(*Config)
		argv   []string
		want   []string // must appear, in this order
		absent []string // flag prefixes that must not appear
	}{
		{name: "defaults", argv: []string{"--"},
			want: []string{"--context=" + src, "--dockerfile=" + src + "/Dockerfile", "--destination=registry.example/team/fn:v1",
				"--digest-file=" + cfg.WorkDir + "/lb-results/digest", "--cache=true", "--cache-ttl=24h", "--reproducible"},
			absent: []string{"--cache-repo", "--build-arg"}},
		{name: "empty CACHE_REPO leaves Kaniko's default <IMAGE repo>/cache", argv: []string{"--"}, absent: []string{"--cache-repo"}},
		{name: "explicit cache repo and no cache", change: func(c *Config) { c.CacheRepo = "registry.example/cache/fn"; c.Cache = false; c.Reproducible = false },
			argv: []string{"--"}, want: []string{"--cache=false", "--cache-repo=registry.example/cache/fn"}, absent: []string{"--reproducible"}},
		{name: "build args each get a flag, extra args last", argv: []string{"A=1", "B=two words", "--", "--label", "k=v", "--verbosity=debug"},
			want: []string{"--build-arg=A=1", "--build-arg=B=two words", "--label", "k=v", "--verbosity=debug"}},
		{name: "a build arg value may look like a flag", argv: []string{"X=--no-push", "--"}, want: []string{"--build-arg=X=--no-push"}, absent: []string{"--no-push"}},
		{name: "context and dockerfile in a sub folder", change: func(c *Config) { c.Context = "app"; c.Dockerfile = "app/Dockerfile" },
			argv: []string{"--"}, want: []string{"--context=" + src + "/app", "--dockerfile=" + src + "/app/Dockerfile"}},
		{name: "staging tag: pushed under it, in IMAGE's repository", change: func(c *Config) { c.StagingTag = "unverified" },
			argv: []string{"--"}, want: []string{"--destination=registry.example/team/fn:unverified"}},
		{name: "absolute dockerfile inside the workspace (render-dockerfile's result)", change: func(c *Config) { c.Dockerfile = filepath.Join(c.SourceDir, "app/Dockerfile") },
			argv: []string{"--"}, want: []string{"--dockerfile=" + src + "/app/Dockerfile"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg
			if tt.change != nil {
				tt.change(&c)
			}
			inv, err := Plan(c, tt.argv)
			if err != nil {
				t.Fatal(err)
			}
			at := 0
			for _, w := range tt.want {
				i := slices.Index(inv.Args[at:], w)
				if i < 0 {
					t.Fatalf("args %q lack %q (in order)", inv.Args, w)
				}
				at += i + 1
			}
			for _, a := range inv.Args {
				for _, p := range tt.absent {
					if strings.HasPrefix(a, p) {
						t.Errorf("args %q contain %q", inv.Args, a)
					}
				}
			}
		})
	}
}

// Hostile or broken params: each is refused before Kaniko runs.
func TestPlanRefuses(t *testing.T) {
	cfg := workspace(t)
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "config.json"), []byte("{}"), 0o644)
	os.Symlink(outside, filepath.Join(cfg.SourceDir, "escape"))
	tests := []struct {
		name   string
		change func(*Config)
		argv   []string
		code   int
		want   string
	}{
		{name: "no separator", argv: []string{"A=1"}, code: step.CodeConfig, want: `no "--"`},
		{name: "bare build arg would copy the step environment", argv: []string{"AWS_SECRET_ACCESS_KEY", "--"}, code: step.CodeConfig, want: "not KEY=VALUE"},
		{name: "build arg with a bad name", argv: []string{"1A=x", "--"}, code: step.CodeConfig, want: "not KEY=VALUE"},
		{name: "extra args redirect the digest file", argv: []string{"--", "--digest-file=/tekton/results/IMAGE_DIGEST"}, code: step.CodeConfig, want: "IMAGE_DIGEST result"},
		{name: "extra args add a destination", argv: []string{"--", "-d", "evil.example/x:1"}, code: step.CodeConfig, want: "from IMAGE"},
		{name: "extra args add a short destination", argv: []string{"--", "-devil.example/x:1"}, code: step.CodeConfig, want: "from IMAGE"},
		{name: "extra args skip the push", argv: []string{"--", "--no-push"}, code: step.CodeConfig, want: "no-push"},
		{name: "staging tag that is no tag", change: func(c *Config) { c.StagingTag = "not a/tag" }, argv: []string{"--"}, code: step.CodeConfig, want: "STAGING_TAG"},
		{name: "image with a digest", change: func(c *Config) { c.Image = "registry.example/fn@" + fakeDigest }, argv: []string{"--"}, code: step.CodeConfig, want: "has a digest"},
		{name: "image that is not a reference", change: func(c *Config) { c.Image = "Not An Image" }, argv: []string{"--"}, code: step.CodeConfig, want: "not an image reference"},
		{name: "cache repo with a tag", change: func(c *Config) { c.CacheRepo = "registry.example/cache:latest" }, argv: []string{"--"}, code: step.CodeConfig, want: "CACHE_REPO"},
		{name: "cache ttl not a duration", change: func(c *Config) { c.CacheTTL = "1 week" }, argv: []string{"--"}, code: step.CodeConfig, want: "CACHE_TTL"},
		{name: "context climbs out", change: func(c *Config) { c.Context = "../../kaniko/.docker" }, argv: []string{"--"}, code: step.CodeInput, want: "CONTEXT"},
		{name: "context through a symlink out", change: func(c *Config) { c.Context = "escape" }, argv: []string{"--"}, code: step.CodeInput, want: "outside the source workspace"},
		{name: "dockerfile through a symlink out", change: func(c *Config) { c.Dockerfile = "escape/config.json" }, argv: []string{"--"}, code: step.CodeInput, want: "outside the source workspace"},
		{name: "absolute context", change: func(c *Config) { c.Context = "/" }, argv: []string{"--"}, code: step.CodeInput, want: "not in the source workspace"},
		{name: "absolute dockerfile climbing out", change: func(c *Config) { c.Dockerfile = filepath.Join(c.SourceDir, "../outside/Dockerfile") }, argv: []string{"--"}, code: step.CodeInput, want: "not in the source workspace"},
		{name: "missing dockerfile", change: func(c *Config) { c.Dockerfile = "nope/Dockerfile" }, argv: []string{"--"}, code: step.CodeInput, want: "not found"},
		{name: "dockerfile is a folder", change: func(c *Config) { c.Dockerfile = "app" }, argv: []string{"--"}, code: step.CodeInput, want: "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg
			if tt.change != nil {
				tt.change(&c)
			}
			_, err := Plan(c, tt.argv)
			if err == nil {
				t.Fatal("accepted")
			}
			if step.ExitCode(err) != tt.code || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q (code %d), want code %d containing %q", err, step.ExitCode(err), tt.code, tt.want)
			}
		})
	}
}

func TestBuildWritesResultsOnlyAfterThePush(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		mode    string
		code    int
		reason  string
		results bool
	}{
		{mode: "ok", results: true},
		{mode: "push-reset", code: step.CodeUnavailable, reason: "PushFailed"},
		{mode: "run-fails", code: step.CodeInput, reason: "InstructionFailed"},
		{mode: "wrong-ref", code: step.CodeInternal, reason: "DigestMismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			cfg := workspace(t)
			cfg.Executor = self
			t.Setenv("FAKE_KANIKO", tt.mode)
			var out bytes.Buffer
			err := Build(context.Background(), cfg, []string{"--"}, &out)
			if step.ExitCode(err) != tt.code || step.Reason(err) != tt.reason {
				t.Fatalf("error %v (code %d, reason %s), want code %d reason %q", err, step.ExitCode(err), step.Reason(err), tt.code, tt.reason)
			}
			entries, _ := os.ReadDir(cfg.ResultsDir)
			if !tt.results {
				if len(entries) != 0 {
					t.Errorf("results written after a failure: %v", entries)
				}
				if !strings.Contains(err.Error(), "kaniko exited") && tt.reason != "DigestMismatch" {
					t.Errorf("error %q does not quote Kaniko", err)
				}
				return
			}
			want := map[string]string{
				"IMAGE_DIGEST": fakeDigest,
				"IMAGE_URL":    "registry.example/team/fn:v1",
				"IMAGE_REF":    "registry.example/team/fn@" + fakeDigest,
			}
			for k, v := range want {
				b, err := os.ReadFile(filepath.Join(cfg.ResultsDir, k))
				if err != nil || string(b) != v {
					t.Errorf("result %s = %q, %v; want %q", k, b, err, v)
				}
			}
			if !strings.Contains(out.String(), "Pushed") {
				t.Errorf("Kaniko's log was not passed through: %q", out.String())
			}
		})
	}
}

func TestBuildReportsAMissingExecutor(t *testing.T) {
	cfg := workspace(t)
	cfg.Executor = filepath.Join(t.TempDir(), "executor")
	err := Build(context.Background(), cfg, []string{"--"}, &bytes.Buffer{})
	if step.Reason(err) != "ExecutorMissing" {
		t.Errorf("error %v, want ExecutorMissing", err)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		line   string
		reason string
	}{
		{"error building image: parsing dockerfile: dockerfile parse error on line 3: unknown instruction: RUNN", "DockerfileInvalid"},
		{`error building image: unable to complete build: retrieving image "127.0.0.1:1/nope:1": GET http://127.0.0.1:1/v2/nope/manifests/1: MANIFEST_UNKNOWN: manifest unknown`, "BaseImageUnavailable"},
		{"error checking push permissions -- make sure you entered the correct tag name: POST http://127.0.0.1:1/v2/x/blobs/uploads/: UNAUTHORIZED: authentication required", "RegistryRefused"},
		{"error pushing image: failed to push to destination 127.0.0.1:1/x:1: unexpected EOF", "PushFailed"},
		{"error building image: error building stage: failed to execute command: waiting for process to exit: exit status 3", "InstructionFailed"},
		{"error building image: error building stage: failed to execute command: copying dir: creating file: open /data/a.txt: permission denied", "InstructionFailed"},
		{"error pushing image: failed to push to destination r.example/x:1: DENIED: requested access to the resource is denied", "RegistryRefused"},
		{"error building image: error building stage: failed to get filesystem from image: chown /home/nonroot: operation not permitted", "BuildFailed"},
		{"kaniko should only be run inside of a container", "BuildFailed"},
	}
	for _, tt := range tests {
		err := classify(1, tt.line)
		var se *step.Error
		if !errors.As(err, &se) || se.Reason != tt.reason || !strings.Contains(se.Message, tt.line) {
			t.Errorf("classify(%q) = %v, want reason %s quoting the line", tt.line, err, tt.reason)
		}
	}
}

func TestLastLinesPicksTheErrorLine(t *testing.T) {
	l := &lastLines{max: 3}
	fmt.Fprint(l, "INFO one\nerror building image: boom\nINFO cleanup\nINFO more")
	if got := l.errorLine(); got != "error building image: boom" {
		t.Errorf("errorLine = %q", got)
	}
	l = &lastLines{max: 2}
	fmt.Fprint(l, "a\nb\nc\n")
	if got := l.errorLine(); got != "c" {
		t.Errorf("errorLine without an error = %q, want the last line", got)
	}
}
