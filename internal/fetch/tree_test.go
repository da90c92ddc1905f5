package fetch

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/knative-lambda/lambda-builder/internal/step"
	"github.com/knative-lambda/lambda-builder/internal/treedigest"
)

func newTestTree(t *testing.T, limits Limits) *Tree {
	t.Helper()
	if limits.MaxBytes == 0 {
		limits.MaxBytes = 1 << 30
	}
	if limits.MaxFiles == 0 {
		limits.MaxFiles = 1000
	}
	return NewTree(t.TempDir(), limits)
}

func writeFile(t *Tree, rel string, mode treedigest.Mode, content string) error {
	f, err := t.Create(rel, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write([]byte(content)); err != nil {
		f.Abort()
		return err
	}
	return f.Commit()
}

func wantStepError(t *testing.T, err error, code int, reason, text string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want %s (%s)", reason, text)
	}
	if step.ExitCode(err) != code || step.Reason(err) != reason || !strings.Contains(err.Error(), text) {
		t.Fatalf("err = %v (exit %d, reason %s); want exit %d, reason %s, text %q", err, step.ExitCode(err), step.Reason(err), code, reason, text)
	}
}

func TestTreeWritesAndDigests(t *testing.T) {
	tr := newTestTree(t, Limits{})
	for _, f := range []struct {
		rel  string
		mode treedigest.Mode
		body string
	}{
		{"main.py", treedigest.File, "print(1)\n"},
		{"bin/run", treedigest.Executable, "#!/bin/sh\n"},
		{"a/b/c/deep.txt", treedigest.File, "deep"},
	} {
		if err := writeFile(tr, f.rel, f.mode, f.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.Symlink("a/link", "b/c/deep.txt"); err != nil {
		t.Fatal(err)
	}
	if err := tr.Mkdir("empty/dir"); err != nil {
		t.Fatal(err)
	}
	sum, err := tr.Finish()
	if err != nil {
		t.Fatal(err)
	}
	disk, _, err := treedigest.Dir(tr.Root())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Digest != disk {
		t.Errorf("digest from the writes %s != digest of the disk %s", sum.Digest, disk)
	}
	if sum.Files != 4 || sum.Bytes != int64(len("print(1)\n#!/bin/sh\ndeep")) {
		t.Errorf("summary = %+v, want 4 files, 23 bytes", sum)
	}
	info, err := os.Stat(filepath.Join(tr.Root(), "bin/run"))
	if err != nil || info.Mode().Perm() != 0o755 {
		t.Errorf("bin/run mode = %v, %v; want 0755", info.Mode(), err)
	}
}

func TestTreeLimitsCountWrittenBytes(t *testing.T) {
	tr := newTestTree(t, Limits{MaxBytes: 10})
	f, err := tr.Create("big", treedigest.File)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("123456")); err != nil {
		t.Fatal(err)
	}
	_, err = f.Write([]byte("7890X"))
	wantStepError(t, err, step.CodeInput, ReasonTooLarge, "FETCH_MAX_BYTES=10")
	if info, _ := os.Stat(filepath.Join(tr.Root(), "big")); info.Size() != 6 {
		t.Errorf("the refused write reached the disk: size %d", info.Size())
	}
	// A reset (retried download) gives the bytes back.
	if err := f.Reset(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("1234567890")); err != nil {
		t.Errorf("after Reset the budget is still used: %v", err)
	}
}

func TestTreeLimitsCountEntries(t *testing.T) {
	tr := newTestTree(t, Limits{MaxFiles: 3})
	if err := writeFile(tr, "a/b", treedigest.File, ""); err != nil { // a, a/b
		t.Fatal(err)
	}
	if err := writeFile(tr, "c", treedigest.File, ""); err != nil {
		t.Fatal(err)
	}
	wantStepError(t, writeFile(tr, "d", treedigest.File, ""), step.CodeInput, ReasonTooLarge, "FETCH_MAX_FILES=3")
	wantStepError(t, tr.Mkdir("e"), step.CodeInput, ReasonTooLarge, "FETCH_MAX_FILES=3")
}

func TestTreeConcurrentWritesShareFolders(t *testing.T) {
	tr := newTestTree(t, Limits{})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Go(func() {
			errs <- writeFile(tr, filepath.Join("node_modules", string(rune('a'+i%8)), "lib", string(rune('A'+i))+".js"), treedigest.File, "x")
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	sum, err := tr.Finish()
	if err != nil || sum.Files != 64 {
		t.Fatalf("summary %+v, %v; want 64 files", sum, err)
	}
}

func TestTreeRefusesConflictsAndLinks(t *testing.T) {
	tests := []struct {
		name   string
		build  func(tr *Tree) error
		reason string
		text   string
	}{
		{"file then folder", func(tr *Tree) error {
			if err := writeFile(tr, "a", treedigest.File, ""); err != nil {
				return err
			}
			return writeFile(tr, "a/b", treedigest.File, "")
		}, ReasonConflict, "both a file and a folder"},
		{"folder then file", func(tr *Tree) error {
			if err := writeFile(tr, "a/b", treedigest.File, ""); err != nil {
				return err
			}
			return writeFile(tr, "a", treedigest.File, "")
		}, ReasonConflict, "both a file and a folder"},
		{"duplicate", func(tr *Tree) error {
			if err := writeFile(tr, "a", treedigest.File, "1"); err != nil {
				return err
			}
			return writeFile(tr, "a", treedigest.File, "2")
		}, ReasonConflict, "appears twice"},
		{"absolute symlink", func(tr *Tree) error { return tr.Symlink("passwd", "/etc/passwd") }, ReasonUnsafePath, "outside the destination"},
		{"symlink up", func(tr *Tree) error { return tr.Symlink("a/up", "../../x") }, ReasonUnsafePath, "outside the destination"},
		{"write below a symlink", func(tr *Tree) error {
			if err := tr.Mkdir("real"); err != nil {
				return err
			}
			if err := tr.Symlink("lnk", "real"); err != nil {
				return err
			}
			return writeFile(tr, "lnk/file", treedigest.File, "through the link")
		}, ReasonUnsafePath, "below a symlink"},
		{"hardlink to a missing file", func(tr *Tree) error { return tr.Link("h", "nope") }, ReasonUnsafePath, "not a file written earlier"},
		{"hardlink to a symlink", func(tr *Tree) error {
			if err := tr.Symlink("s", "x"); err != nil {
				return err
			}
			return tr.Link("h", "s")
		}, ReasonUnsafePath, "not a file written earlier"},
		{"hardlink to a folder", func(tr *Tree) error {
			if err := tr.Mkdir("d"); err != nil {
				return err
			}
			return tr.Link("h", "d")
		}, ReasonUnsafePath, "not a file written earlier"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTestTree(t, Limits{})
			wantStepError(t, tt.build(tr), step.CodeInput, tt.reason, tt.text)
		})
	}
}

// Each link alone stays inside when read lexically; followed through the
// other links, as the kernel does, they leave the tree.
func TestTreeResolvesSymlinkChains(t *testing.T) {
	tests := []struct {
		name  string
		links [][2]string
		text  string
	}{
		{"through a link to the root", [][2]string{{"a/b", ".."}, {"a/c", "b/../.."}}, "leaves the destination"},
		{"two hops", [][2]string{{"x/y/up", "../.."}, {"x/esc", "y/up/.."}}, "leaves the destination"},
		{"loop", [][2]string{{"l1", "l2"}, {"l2", "l1"}}, "too many links"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTestTree(t, Limits{})
			for _, l := range tt.links {
				if err := tr.Symlink(l[0], l[1]); err != nil {
					t.Fatalf("symlink %s -> %s refused early (%v): the test needs links that each look fine", l[0], l[1], err)
				}
			}
			_, err := tr.Finish()
			wantStepError(t, err, step.CodeInput, ReasonUnsafePath, tt.text)
		})
	}
	// Links that stay inside pass, dangling ones included.
	tr := newTestTree(t, Limits{})
	for _, l := range [][2]string{{"a/b", ".."}, {"a/c", "b/a/b"}, {"node_modules/.bin/x", "../x/cli.js"}, {"dangling", "not/there"}} {
		if err := tr.Symlink(l[0], l[1]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tr.Finish(); err != nil {
		t.Errorf("links inside the tree refused: %v", err)
	}
}

func TestTreeHardlinkSharesContent(t *testing.T) {
	tr := newTestTree(t, Limits{})
	if err := writeFile(tr, "a", treedigest.Executable, "content"); err != nil {
		t.Fatal(err)
	}
	if err := tr.Link("dir/b", "a"); err != nil {
		t.Fatal(err)
	}
	sum, err := tr.Finish()
	if err != nil {
		t.Fatal(err)
	}
	disk, _, _ := treedigest.Dir(tr.Root())
	if sum.Digest != disk || sum.Files != 2 || sum.Bytes != 14 {
		t.Errorf("summary %+v, disk digest %s", sum, disk)
	}
}
