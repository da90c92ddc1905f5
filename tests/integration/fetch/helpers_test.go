//go:build integration

// Package fetch tests the fetch-code binary against real servers: versitygw
// (S3) from tests/harness, a fault-injecting proxy in front of it, and git's
// own http-backend for git sources. Each test runs the binary the Task runs,
// as a process, and checks its exit code, its one-line error, its results
// and what it left in DEST.
package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/knative-lambda/lambda-builder/internal/treedigest"
	"github.com/knative-lambda/lambda-builder/tests/harness"
)

// binary is the fetch-code step, built once for the package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fetch-code-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "fetch-code")
	build := exec.Command("go", "build", "-trimpath", "-o", binary, "github.com/knative-lambda/lambda-builder/cmd/fetch-code")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building fetch-code: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// run is one execution of the step.
type run struct {
	code    int
	stdout  string
	stderr  string
	dest    string
	results map[string]string
	parent  string // DEST's parent folder: nothing may appear there
}

// fetch runs the binary with a clean environment: env plus a PATH, an empty
// HOME (no ~/.aws of the machine) and DEST/RESULTS_DIR in a fresh folder,
// unless env sets them.
func fetch(t *testing.T, env ...string) run {
	t.Helper()
	dir := t.TempDir()
	r := run{dest: filepath.Join(dir, "dest"), parent: dir}
	full := []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir(), "DEST=" + r.dest, "RESULTS_DIR=" + filepath.Join(dir, "results")}
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "DEST="); ok {
			r.dest = v
			r.parent = filepath.Dir(v)
		}
	}
	full = append(full, env...)
	ctx, cancel := context.WithTimeout(context.Background(), 120e9)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary)
	cmd.Env = full
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("running fetch-code: %v", err)
	}
	r.stdout, r.stderr = stdout.String(), stderr.String()
	r.results = readResults(t, filepath.Join(dir, "results"))
	return r
}

func readResults(t *testing.T, dir string) map[string]string {
	out := map[string]string{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(b)
	}
	return out
}

// wantOK fails unless the run succeeded with one summary line and no stderr.
func (r run) wantOK(t *testing.T) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d; stderr: %s", r.code, r.stderr)
	}
	if r.stderr != "" {
		t.Errorf("stderr on success: %q", r.stderr)
	}
	if !strings.Contains(r.stdout, "fetch-code: fetched ") {
		t.Errorf("no summary line: %q", r.stdout)
	}
}

// wantRefused fails unless the run ended with code, one stderr line
// "fetch-code: REASON: ...text...", no results, and DEST as given before.
func (r run) wantRefused(t *testing.T, code int, reason, text string, destBefore map[string]string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit %d, want %d; stderr: %s", r.code, code, r.stderr)
	}
	line := strings.TrimSuffix(r.stderr, "\n")
	if strings.Contains(line, "\n") || !strings.HasPrefix(line, "fetch-code: "+reason+": ") || !strings.Contains(line, text) {
		t.Errorf("stderr = %q, want one line \"fetch-code: %s: ...%s...\"", r.stderr, reason, text)
	}
	if len(r.results) != 0 {
		t.Errorf("a failed run wrote results: %v", r.results)
	}
	if got := snapshot(t, r.dest); !equalMaps(got, destBefore) {
		t.Errorf("DEST changed: before %v, after %v", keys(destBefore), keys(got))
	}
	entries, _ := os.ReadDir(r.parent)
	for _, e := range entries {
		if e.Name() != "dest" && e.Name() != "results" {
			t.Errorf("something appeared beside DEST: %s", e.Name())
		}
	}
}

// snapshot maps every path under dir (folders end in /) to its content or
// link target; nil when dir does not exist.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	if _, err := os.Lstat(dir); err != nil {
		return nil
	}
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.IsDir():
			out[rel+"/"] = ""
		case d.Type()&os.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out[rel] = "-> " + target
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// writeTree lays files (path -> content; "-> target" makes a symlink, a
// "#!" start makes it executable) under a new folder and returns it.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case strings.HasPrefix(content, "-> "):
			err = os.Symlink(strings.TrimPrefix(content, "-> "), full)
		case strings.HasPrefix(content, "#!"):
			err = os.WriteFile(full, []byte(content), 0o755)
		default:
			err = os.WriteFile(full, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// digestOf is the tree digest of a local folder.
func digestOf(t *testing.T, dir string) string {
	t.Helper()
	d, _, err := treedigest.Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// uploadDir puts every file of dir under prefix with aws-sdk-go-v2.
func uploadDir(t *testing.T, srv *harness.S3, bucket, prefix, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		srv.Put(t, bucket, prefix+filepath.ToSlash(rel), b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// tool runs a command line tool and fails the test on error.
func tool(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}
