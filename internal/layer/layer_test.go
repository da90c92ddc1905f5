package layer

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestFromFilesIsReproducibleAndSorted(t *testing.T) {
	src := filepath.Join(t.TempDir(), "bin")
	if err := os.WriteFile(src, []byte("binary"), 0o700); err != nil {
		t.Fatal(err)
	}
	files := []File{
		{Path: "/b/tool", Mode: 0o755, Source: src},
		{Path: "/b", Dir: true, Mode: 0o755},
		{Path: "/a/link", Linkname: "/b/tool", Mode: 0o777},
		{Path: "/a", Dir: true, Mode: 0o755},
		{Path: "/a/owned", Mode: 0o4755, Content: []byte("x"), UID: 65532, GID: 65532},
	}
	first, err := FromFiles(files)
	if err != nil {
		t.Fatal(err)
	}
	// Touching the source changes its mtime, never the layer.
	if err := os.Chtimes(src, epochPlus(), epochPlus()); err != nil {
		t.Fatal(err)
	}
	second, err := FromFiles(append([]File{files[4]}, files[:4]...))
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := first.Digest()
	d2, _ := second.Digest()
	if d1 != d2 {
		t.Errorf("same files gave digests %s and %s", d1, d2)
	}
	rc, err := first.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if !h.ModTime.Equal(Epoch) {
			t.Errorf("%s: mtime %v, want %v", h.Name, h.ModTime, Epoch)
		}
		if h.Name == "a/owned" && (h.Uid != 65532 || h.Mode != 0o4755) {
			t.Errorf("a/owned: uid %d mode %o, want 65532 and 4755", h.Uid, h.Mode)
		}
	}
	want := []string{"a/", "a/link", "a/owned", "b/", "b/tool"}
	if len(names) != len(want) {
		t.Fatalf("entries %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Errorf("entry %d = %s, want %s", i, names[i], want[i])
		}
	}
}

func epochPlus() time.Time { return Epoch.Add(time.Hour * 24 * 400) }
