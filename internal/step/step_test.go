package step

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRunPrintsOneLineAndMapsExitCode(t *testing.T) {
	cause := errors.New("connection refused")
	tests := []struct {
		name     string
		err      error
		wantCode int
		wantLine string
	}{
		{"success", nil, 0, ""},
		{"config", ConfigError("SOURCE is required"), CodeConfig, "demo: InvalidConfig: SOURCE is required\n"},
		{"input", InputError("key %q escapes the destination", "../x"), CodeInput, "demo: InvalidInput: key \"../x\" escapes the destination\n"},
		{"wrapped cause", UnavailableError("listing s3://b/p: %w", cause), CodeUnavailable, "demo: Unavailable: listing s3://b/p: connection refused\n"},
		{"wrapped typed error", fmt.Errorf("outer: %w", PolicyError("user is root")), CodePolicy, "demo: PolicyViolation: outer: user is root\n"},
		{"plain error is internal", errors.New("boom"), CodeInternal, "demo: Internal: boom\n"},
		{"multi-line error folded", errors.New("first\nsecond\n"), CodeInternal, "demo: Internal: first; second\n"},
		{"canceled", fmt.Errorf("download: %w", context.Canceled), CodeCanceled, "demo: Canceled: download: context canceled\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := Run(context.Background(), "demo", &stderr, func(context.Context) error { return tt.err })
			if code != tt.wantCode {
				t.Errorf("code = %d, want %d", code, tt.wantCode)
			}
			if stderr.String() != tt.wantLine {
				t.Errorf("stderr = %q, want %q", stderr.String(), tt.wantLine)
			}
		})
	}
}

func TestErrorfKeepsCause(t *testing.T) {
	cause := os.ErrNotExist
	err := UnavailableError("reading %s: %w", "x", cause)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("errors.Is lost the cause: %v", err)
	}
	if got := err.Error(); got != "reading x: file does not exist" {
		t.Errorf("Error() = %q", got)
	}
}

type demoConfig struct {
	Source  string `env:"SOURCE, required"`
	Workers int    `env:"WORKERS, default=32"`
	ResultsConfig
}

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    demoConfig
		wantErr string
	}{
		{
			name: "defaults",
			env:  map[string]string{"SOURCE": "s3://b/p/"},
			want: demoConfig{Source: "s3://b/p/", Workers: 32, ResultsConfig: ResultsConfig{ResultsDir: "/tekton/results", ResultsBudget: 4096}},
		},
		{
			name: "overrides",
			env:  map[string]string{"SOURCE": "s3://b/p/", "WORKERS": "4", "RESULTS_DIR": "/tmp/r", "RESULTS_BUDGET": "100"},
			want: demoConfig{Source: "s3://b/p/", Workers: 4, ResultsConfig: ResultsConfig{ResultsDir: "/tmp/r", ResultsBudget: 100}},
		},
		{name: "missing required", env: map[string]string{}, wantErr: "SOURCE"},
		{
			name:    "value from a file an earlier step wrote",
			env:     map[string]string{"SOURCE_FILE": "testdata/source.txt", "WORKERS_FILE": "testdata/no-such-file"},
			wantErr: "WORKERS_FILE: reading testdata/no-such-file",
		},
		{
			name: "set value wins over its file",
			env:  map[string]string{"SOURCE": "s3://direct/", "SOURCE_FILE": "testdata/source.txt"},
			want: demoConfig{Source: "s3://direct/", Workers: 32, ResultsConfig: ResultsConfig{ResultsDir: "/tekton/results", ResultsBudget: 4096}},
		},
		{
			name: "file value, trailing newline dropped",
			env:  map[string]string{"SOURCE_FILE": "testdata/source.txt"},
			want: demoConfig{Source: "s3://from-file/fn/", Workers: 32, ResultsConfig: ResultsConfig{ResultsDir: "/tekton/results", ResultsBudget: 4096}},
		},
		{name: "bad number", env: map[string]string{"SOURCE": "x", "WORKERS": "many"}, wantErr: "WORKERS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got demoConfig
			err := LoadConfigFrom(context.Background(), &got, MapLookuper(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || ExitCode(err) != CodeConfig {
					t.Fatalf("err = %v (code %d), want a config error naming %s", err, ExitCode(err), tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestResultWriter(t *testing.T) {
	tests := []struct {
		name    string
		budget  int
		results []Result
		wantErr string
	}{
		{name: "writes each result", results: []Result{{"IMAGE_DIGEST", "sha256:abc"}, {"IMAGE_URL", "r/x:1"}}},
		{name: "exact budget is fine", budget: 135, results: []Result{{"A", "123"}, {"B", "456"}}},
		{name: "over budget", budget: 134, results: []Result{{"A", "123"}, {"B", "456"}}, wantErr: "over the budget of 134 bytes"},
		{name: "escaping counts", budget: 200, results: []Result{{"A", strings.Repeat(`"`, 60)}}, wantErr: "over the budget of 200 bytes"},
		{name: "default budget", results: []Result{{"BIG", strings.Repeat("x", DefaultResultsBudget+1)}}, wantErr: "budget of 4096"},
		{name: "bad name", results: []Result{{"../evil", "x"}}, wantErr: "not a valid Tekton result name"},
		{name: "duplicate", results: []Result{{"A", "x"}, {"A", "y"}}, wantErr: "written twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "results")
			err := ResultWriter{Dir: dir, Budget: tt.budget}.Write(tt.results...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if entries, _ := os.ReadDir(dir); len(entries) != 0 {
					t.Errorf("a refused write left files behind: %v", entries)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != len(tt.results) {
				t.Errorf("found %d files, want %d (no temp files left)", len(entries), len(tt.results))
			}
			for _, r := range tt.results {
				b, err := os.ReadFile(filepath.Join(dir, r.Name))
				if err != nil || string(b) != r.Value {
					t.Errorf("result %s = %q, %v; want %q", r.Name, b, err, r.Value)
				}
			}
		})
	}
}

// TestSizeModelsTheTerminationMessage pins Size to the message Tekton's
// entrypoint writes: [{"key":..,"value":..,"type":1},...] plus StartedAt.
func TestSizeModelsTheTerminationMessage(t *testing.T) {
	w := ResultWriter{Dir: t.TempDir()}
	want := len(`[{"key":"A","value":"123","type":1},{"key":"B","value":"456","type":1}]`) + 1 + len(startedAtEntry)
	if got := w.Size(Result{"A", "123"}, Result{"B", "456"}); got != want {
		t.Errorf("Size = %d, want %d", got, want)
	}
	// An earlier step of the same Task left a result: this step reports it too.
	if err := w.Write(Result{"EARLIER", strings.Repeat("x", 1000)}); err != nil {
		t.Fatal(err)
	}
	if got := w.Size(Result{"A", "123"}); got < 1000 {
		t.Errorf("Size = %d ignores the 1000-byte result already in the folder", got)
	}
	w.Budget = 1000
	if w.Fits(Result{"A", "1"}) {
		t.Error("Fits is true although the folder already holds 1000 bytes")
	}
	if err := w.Write(Result{"A", "1"}); err == nil {
		t.Error("Write accepted results over the budget")
	}
}

func TestJSONResult(t *testing.T) {
	r, err := JSONResult("SOURCE_ARTIFACT_INPUTS", map[string]string{"uri": "s3://b/p/", "digest": "sha256:00"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"digest":"sha256:00","uri":"s3://b/p/"}`; r.Value != want {
		t.Errorf("value = %s, want %s", r.Value, want)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestProgressReportsUntilStopped(t *testing.T) {
	var out lockedBuffer
	var calls int
	var mu sync.Mutex
	p := StartProgress(&out, time.Millisecond, func() string {
		mu.Lock()
		defer mu.Unlock()
		calls++
		return fmt.Sprintf("files=%d", calls)
	})
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "files=2\n") {
		if time.Now().After(deadline) {
			t.Fatalf("no progress lines after 5s: %q", out.String())
		}
		time.Sleep(time.Millisecond)
	}
	p.Stop()
	p.Stop() // idempotent
	after := out.String()
	time.Sleep(10 * time.Millisecond)
	if out.String() != after {
		t.Errorf("progress printed after Stop")
	}
}

func TestHumanBytesAndRate(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{{0, "0 B"}, {999, "999 B"}, {1000, "1.0 kB"}, {126_500_000, "126.5 MB"}, {3_000_000_000, "3.0 GB"}}
	for _, tt := range tests {
		if got := HumanBytes(tt.n); got != tt.want {
			t.Errorf("HumanBytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
	if got := Rate(10_000_000, 2*time.Second); got != "5.0 MB/s" {
		t.Errorf("Rate = %q", got)
	}
	if got := Rate(1, 0); got != "-" {
		t.Errorf("Rate with zero duration = %q", got)
	}
}
