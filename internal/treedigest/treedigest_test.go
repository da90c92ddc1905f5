package treedigest

import (
	"crypto/sha256"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// writeTree lays down files (path -> content), executables (marked by a
// leading "x:" in the content) and symlinks (content "-> target").
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasPrefix(content, "-> "):
			if err := os.Symlink(strings.TrimPrefix(content, "-> "), full); err != nil {
				t.Fatal(err)
			}
		case strings.HasPrefix(content, "x:"):
			if err := os.WriteFile(full, []byte(content), 0o755); err != nil {
				t.Fatal(err)
			}
		default:
			if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

// TestDirMatchesAnIndependentListing rebuilds the documented listing with
// coreutils (sha256sum) and compares: the format is what the package doc says,
// not whatever the code happens to do.
func TestDirMatchesAnIndependentListing(t *testing.T) {
	root := writeTree(t, map[string]string{
		"main.py":               "print('hi')\n",
		"bin/run":               "x:#!/bin/sh\n",
		"lib/a b.txt":           "spaces\n",
		"node_modules/.bin/x":   "-> ../x/cli.js",
		"node_modules/x/cli.js": "x:module.exports = 1\n",
	})
	got, entries, err := Dir(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 5 {
		t.Fatalf("entries = %d, want 5", len(entries))
	}
	script := `set -eu
cd "$1"
{
  find . \( -type f -o -type l \) -print | sed 's|^\./||' | LC_ALL=C sort | while IFS= read -r p; do
    if [ -L "$p" ]; then
      printf '120000 %s %s\0' "$(printf '%s' "$(readlink "$p")" | sha256sum | cut -d' ' -f1)" "$p"
    elif [ -x "$p" ]; then
      printf '100755 %s %s\0' "$(sha256sum < "$p" | cut -d' ' -f1)" "$p"
    else
      printf '100644 %s %s\0' "$(sha256sum < "$p" | cut -d' ' -f1)" "$p"
    fi
  done
} | sha256sum | cut -d' ' -f1`
	out, err := exec.Command("/bin/sh", "-c", script, "sh", root).Output()
	if err != nil {
		t.Fatalf("shell listing: %v", err)
	}
	if want := "sha256:" + strings.TrimSpace(string(out)); got != want {
		t.Errorf("Dir = %s, coreutils listing = %s", got, want)
	}
}

func TestSumIgnoresOrderAndSeesEveryField(t *testing.T) {
	a := Entry{Path: "a", Mode: File, SHA256: sha256.Sum256([]byte("1"))}
	b := Entry{Path: "b/c", Mode: Executable, SHA256: sha256.Sum256([]byte("2"))}
	base := Sum([]Entry{a, b})
	if Sum([]Entry{b, a}) != base {
		t.Error("the digest depends on the order of entries")
	}
	changed := func(f func(*Entry)) string {
		e := b
		f(&e)
		return Sum([]Entry{a, e})
	}
	for name, d := range map[string]string{
		"path":    changed(func(e *Entry) { e.Path = "b/d" }),
		"mode":    changed(func(e *Entry) { e.Mode = File }),
		"content": changed(func(e *Entry) { e.SHA256[0] ^= 1 }),
		"symlink": changed(func(e *Entry) { e.Mode = Symlink }),
	} {
		if d == base {
			t.Errorf("changing the %s does not change the digest", name)
		}
	}
	// Two listings that would concatenate alike without a terminator.
	x := Sum([]Entry{{Path: "ab", Mode: File}})
	y := Sum([]Entry{{Path: "a", Mode: File}, {Path: "b", Mode: File}})
	if x == y {
		t.Error("different trees share a digest")
	}
	if !strings.HasPrefix(base, "sha256:") || len(base) != len("sha256:")+64 {
		t.Errorf("digest %q is not sha256:HEX", base)
	}
}

func TestModeOf(t *testing.T) {
	tests := []struct {
		in   fs.FileMode
		want Mode
	}{
		{0o644, File},
		{0o600, File},
		{0o755, Executable},
		{0o700, Executable},
		{0o655, File}, // group/other execute only: git says not executable
		{0o4755 | fs.ModeSetuid, Executable},
		{fs.ModeSymlink | 0o777, Symlink},
	}
	for _, tt := range tests {
		if got := ModeOf(tt.in); got != tt.want {
			t.Errorf("ModeOf(%v) = %s, want %s", tt.in, got, tt.want)
		}
	}
	if Executable.Perm() != 0o755 || File.Perm() != 0o644 {
		t.Error("Perm is not 0755/0644")
	}
}

func TestDirIgnoresPermissionNoiseButNotExecBit(t *testing.T) {
	a := writeTree(t, map[string]string{"f": "same", "d/g": "x:same"})
	b := writeTree(t, map[string]string{"f": "same", "d/g": "x:same"})
	// Noise: other permission bits, an empty folder, times.
	if err := os.Chmod(filepath.Join(b, "f"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(b, "empty"), 0o700); err != nil {
		t.Fatal(err)
	}
	da, _, _ := Dir(a)
	db, _, _ := Dir(b)
	if da != db {
		t.Errorf("permission noise changed the digest: %s vs %s", da, db)
	}
	if err := os.Chmod(filepath.Join(b, "f"), 0o700); err != nil {
		t.Fatal(err)
	}
	if dc, _, _ := Dir(b); dc == da {
		t.Error("making a file executable did not change the digest")
	}
}

func TestDirRefusesSpecialFiles(t *testing.T) {
	root := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Dir(root); err == nil || !strings.Contains(err.Error(), "fifo") {
		t.Errorf("Dir over a FIFO: err = %v, want a refusal naming it", err)
	}
}
