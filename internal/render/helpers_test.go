package render

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/knative-lambda/lambda-builder/internal/step"
)

// expectError checks err against a table's wantErr (a substring; "" means
// success). It returns true when the test should go on to check the result.
func expectError(t testing.TB, err error, wantErr string) bool {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("err = %v, want an error saying %q", err, wantErr)
		}
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

// symlinkPrefix marks a tree entry that is a symlink to the rest of the value.
const symlinkPrefix = "symlink:"

// writeTree lays files (path -> content, or symlinkPrefix+target) under dir.
func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		parent := filepath.Dir(p)
		if strings.HasSuffix(name, "/") {
			parent = p // a folder entry
		}
		if err := os.MkdirAll(parent, 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, symlinkPrefix); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if strings.HasSuffix(name, "/") {
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// copyFixture copies a sample function into a fresh folder.
func copyFixture(t testing.TB, name string) string {
	t.Helper()
	src := filepath.Join("..", "..", "tests", "fixtures", "functions", name)
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		writeTree(t, dst, map[string]string{filepath.ToSlash(rel): string(b)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// run is one step run in tests: config from an env map, results in a temp
// folder. It returns the results (nil when the run failed) and the error.
func run(t testing.TB, env map[string]string, resolver Resolver) (map[string]string, error) {
	t.Helper()
	resultsDir := filepath.Join(t.TempDir(), "results")
	full := map[string]string{"RESULTS_DIR": resultsDir}
	for k, v := range env {
		full[k] = v
	}
	var cfg Config
	if err := step.LoadConfigFrom(context.Background(), &cfg, step.MapLookuper(full)); err != nil {
		return nil, err
	}
	if resolver == nil {
		resolver = failResolver{t}
	}
	err := Run(context.Background(), cfg, resolver, io.Discard)
	results := map[string]string{}
	entries, _ := os.ReadDir(resultsDir)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(resultsDir, e.Name()))
		results[e.Name()] = string(b)
	}
	if err != nil {
		if len(results) != 0 {
			t.Errorf("a failed run wrote results: %v", results)
		}
		return nil, err
	}
	return results, nil
}

// failResolver fails the test if digests are resolved when they should not be.
type failResolver struct{ t testing.TB }

func (f failResolver) Digest(_ context.Context, ref name.Reference) (string, error) {
	f.t.Errorf("unexpected digest resolution of %s", ref)
	return "", io.EOF
}

// instruction is one Dockerfile instruction as BuildKit's parser reads it.
type instruction struct {
	Cmd   string // lower case: from, run, copy, ...
	Args  []string
	JSON  bool // exec form
	Flags []string
}

// parseDockerfile parses a Dockerfile with BuildKit's parser, the one Docker
// uses and Kaniko vendors.
func parseDockerfile(dockerfile []byte) ([]instruction, error) {
	res, err := parser.Parse(bytes.NewReader(dockerfile))
	if err != nil {
		return nil, fmt.Errorf("the BuildKit parser rejects the Dockerfile: %w", err)
	}
	var out []instruction
	for _, n := range res.AST.Children {
		in := instruction{Cmd: strings.ToLower(n.Value), JSON: n.Attributes["json"], Flags: n.Flags}
		for a := n.Next; a != nil; a = a.Next {
			in.Args = append(in.Args, a.Value)
		}
		out = append(out, in)
	}
	return out, nil
}

func parseInstructions(t testing.TB, dockerfile []byte) []instruction {
	t.Helper()
	ins, err := parseDockerfile(dockerfile)
	if err != nil {
		t.Fatalf("%v\n%s", err, dockerfile)
	}
	return ins
}

func commands(ins []instruction) []string {
	out := make([]string, len(ins))
	for i, in := range ins {
		out[i] = in.Cmd
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
