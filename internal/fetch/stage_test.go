package fetch

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/knative-lambda/lambda-builder/internal/step"
)

// listDir names what a folder holds, recursively, with file contents.
func listDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			out[rel+"/"] = ""
			return nil
		}
		b, _ := os.ReadFile(p)
		out[rel] = string(b)
		return nil
	})
	return out
}

func names(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestStageRefusesAFullDest(t *testing.T) {
	dest := t.TempDir()
	os.WriteFile(filepath.Join(dest, "old.txt"), []byte("old"), 0o644)
	_, err := PrepareStage(dest, false)
	wantStepError(t, err, step.CodeConfig, "DestNotEmpty", "CLEAN_DEST=true")
	if got := listDir(t, dest); len(got) != 1 || got["old.txt"] != "old" {
		t.Errorf("DEST changed: %v", names(got))
	}
}

func TestStageCommitReplacesOnlyWithClean(t *testing.T) {
	dest := t.TempDir()
	os.Mkdir(filepath.Join(dest, "lost+found"), 0o700)
	os.WriteFile(filepath.Join(dest, "old.txt"), []byte("old"), 0o644)
	os.MkdirAll(filepath.Join(dest, stagingPrefix+"killed", "tree"), 0o755) // left by a killed run
	s, err := PrepareStage(dest, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dest, "old.txt")); err != nil {
		t.Error("the old content went before the new one was ready")
	}
	os.WriteFile(filepath.Join(s.TreeDir(), "new.txt"), []byte("new"), 0o644)
	os.Mkdir(filepath.Join(s.TreeDir(), "dir"), 0o755)
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	got := listDir(t, dest)
	want := []string{"dir/", "lost+found/", "new.txt"}
	if g := names(got); len(g) != len(want) || g[0] != want[0] || g[1] != want[1] || g[2] != want[2] {
		t.Errorf("DEST holds %v, want %v", g, want)
	}
}

func TestStageEmptyDestWithLostFoundIsEmpty(t *testing.T) {
	dest := t.TempDir()
	os.Mkdir(filepath.Join(dest, "lost+found"), 0o700)
	s, err := PrepareStage(dest, false)
	if err != nil {
		t.Fatalf("a volume root with only lost+found was refused: %v", err)
	}
	s.Abort()
}

func TestStageAbortLeavesDestAsItWas(t *testing.T) {
	t.Run("existing", func(t *testing.T) {
		dest := t.TempDir()
		os.WriteFile(filepath.Join(dest, "keep"), []byte("k"), 0o644)
		s, err := PrepareStage(dest, true)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(s.TreeDir(), "half"), []byte("h"), 0o644)
		s.Abort()
		if got := names(listDir(t, dest)); len(got) != 1 || got[0] != "keep" {
			t.Errorf("DEST after Abort: %v", got)
		}
	})
	t.Run("created", func(t *testing.T) {
		dest := filepath.Join(t.TempDir(), "new", "dest")
		s, err := PrepareStage(dest, false)
		if err != nil {
			t.Fatal(err)
		}
		s.Abort()
		if _, err := os.Stat(dest); !os.IsNotExist(err) {
			t.Errorf("DEST created by the fetch survives its failure: %v", err)
		}
	})
}

func TestStageRefusesAFileAsDest(t *testing.T) {
	dest := filepath.Join(t.TempDir(), "file")
	os.WriteFile(dest, nil, 0o644)
	_, err := PrepareStage(dest, true)
	wantStepError(t, err, step.CodeConfig, "InvalidConfig", "not a folder")
}
