package kaniko

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/knative-lambda/lambda-builder/internal/step"
)

// Main is the step: configuration from the environment, BUILD_ARGS and
// EXTRA_ARGS from argv.
func Main(ctx context.Context) error {
	var cfg Config
	if err := step.LoadConfig(ctx, &cfg); err != nil {
		return err
	}
	return Build(ctx, cfg, os.Args[1:], os.Stderr)
}

// Build runs the executor, its output to log, and, only once it has pushed,
// writes the results.
func Build(ctx context.Context, cfg Config, argv []string, log io.Writer) error {
	inv, err := Plan(cfg, argv)
	if err != nil {
		return err
	}
	for _, f := range []string{inv.DigestFile, inv.RefFile} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("clearing %s: %w", f, err)
		}
	}
	tail := &lastLines{max: 30}
	cmd := exec.CommandContext(ctx, cfg.Executor, inv.Args...)
	// One stream, the step's stderr, for all of Kaniko's output: a RUN's
	// output (Kaniko's stdout) and Kaniko's errors stay in order, and the
	// step's own one-line reason, written last to stderr, stays last in the
	// log (two pipes are read in no particular order).
	out := io.MultiWriter(log, tail)
	cmd.Stdout, cmd.Stderr = out, out
	// Kubernetes stops a pod with SIGTERM: pass it on so Kaniko can clean up,
	// and kill it only if it does not stop in time.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("kaniko stopped: %w", ctx.Err())
		}
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return step.Errorf(step.CodeInternal, "ExecutorMissing", "running the Kaniko executor %s: %v", cfg.Executor, err)
		}
		return classify(exit.ExitCode(), tail.errorLine())
	}
	results, err := readResults(cfg.Image, inv)
	if err != nil {
		return err
	}
	return cfg.Writer().Write(results...)
}

var digestFormat = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// readResults checks what Kaniko wrote after a successful push: a digest, and
// IMAGE's repository at that digest.
func readResults(image string, inv Invocation) ([]step.Result, error) {
	digest, err := os.ReadFile(inv.DigestFile)
	if err != nil {
		return nil, step.Errorf(step.CodeInternal, "NoDigest", "Kaniko exited 0 but wrote no digest: %v", err)
	}
	d := strings.TrimSpace(string(digest))
	if !digestFormat.MatchString(d) {
		return nil, step.Errorf(step.CodeInternal, "NoDigest", "Kaniko wrote digest %q, not sha256:<64 hex>", d)
	}
	refs, err := os.ReadFile(inv.RefFile)
	if err != nil {
		return nil, step.Errorf(step.CodeInternal, "NoDigest", "Kaniko exited 0 but wrote no image reference: %v", err)
	}
	ref, _, _ := strings.Cut(strings.TrimSpace(string(refs)), "\n")
	parsed, err := name.ParseReference(image)
	if err != nil {
		return nil, err
	}
	if want := parsed.Context().Name() + "@" + d; ref != want {
		return nil, step.Errorf(step.CodeInternal, "DigestMismatch", "Kaniko reported %q, want %q", ref, want)
	}
	return []step.Result{
		{Name: "IMAGE_DIGEST", Value: d},
		{Name: "IMAGE_URL", Value: image},
		{Name: "IMAGE_REF", Value: ref},
	}, nil
}

// failure maps a line of Kaniko's log to an exit code and reason.
type failure struct {
	pattern *regexp.Regexp
	code    int
	reason  string
	hint    string
}

// failures are matched against Kaniko's last error line, first match wins.
// Each pattern is a message seen in tests/kaniko's failure cases.
var failures = []failure{
	{regexp.MustCompile(`(?i)dockerfile parse error|parsing dockerfile|unknown instruction|unknown flag|syntax error`), step.CodeInput, "DockerfileInvalid", "fix the Dockerfile"},
	{regexp.MustCompile(`(?i)(retrieving image|getting base image|image .* not found|MANIFEST_UNKNOWN|NAME_UNKNOWN).*`), step.CodeInput, "BaseImageUnavailable", "check the FROM image name and tag, and that the registry serves it"},
	// Registry error codes are upper case; "permission denied" from the file
	// system must not match.
	{regexp.MustCompile(`UNAUTHORIZED|DENIED: |authentication required|401 Unauthorized|403 Forbidden`), step.CodeUnavailable, "RegistryRefused", "check the registry credentials (dockerconfig workspace or IRSA role)"},
	{regexp.MustCompile(`(?i)failed to push|connection refused|connection reset|broken pipe|unexpected EOF|i/o timeout|no such host`), step.CodeUnavailable, "PushFailed", "check that the registry is reachable and retry"},
	{regexp.MustCompile(`(?i)failed to execute command|waiting for process to exit`), step.CodeInput, "InstructionFailed", "a Dockerfile instruction failed: see its output above"},
}

func classify(exitCode int, line string) error {
	if line == "" {
		line = "no error message"
	}
	for _, f := range failures {
		if f.pattern.MatchString(line) {
			return step.Errorf(f.code, f.reason, "kaniko exited %d: %s (%s)", exitCode, line, f.hint)
		}
	}
	return step.Errorf(step.CodeInternal, "BuildFailed", "kaniko exited %d: %s (see the log above)", exitCode, line)
}

// lastLines keeps the last max lines written to it.
type lastLines struct {
	mu      sync.Mutex
	max     int
	lines   []string
	partial string
}

func (l *lastLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	parts := strings.Split(l.partial+string(p), "\n")
	l.partial = parts[len(parts)-1]
	l.lines = append(l.lines, parts[:len(parts)-1]...)
	if len(l.lines) > l.max {
		l.lines = l.lines[len(l.lines)-l.max:]
	}
	return len(p), nil
}

// errorLine is Kaniko's last error: the last line logged at error level, or
// else the last line.
func (l *lastLines) errorLine() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	all := append(append([]string(nil), l.lines...), l.partial)
	last := ""
	for i := len(all) - 1; i >= 0; i-- {
		s := strings.TrimSpace(all[i])
		if s == "" {
			continue
		}
		if last == "" {
			last = s
		}
		if strings.HasPrefix(s, "error") || strings.Contains(s, "level=error") || strings.Contains(s, "level=fatal") {
			return s
		}
	}
	return last
}
