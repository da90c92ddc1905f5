package fetch

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/knative-lambda/lambda-builder/internal/step"
	"github.com/knative-lambda/lambda-builder/internal/treedigest"
)

// entry describes one archive member for the builders below.
type entry struct {
	name     string
	typ      byte // tar type; for zip: tar.TypeReg, TypeDir, TypeSymlink, TypeFifo
	body     string
	linkname string
	mode     int64
}

func tarOf(t *testing.T, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.linkname, Mode: e.mode, Size: int64(len(e.body))}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipOf(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zipOf(t *testing.T, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		perm := fs.FileMode(e.mode & 0o777)
		if perm == 0 {
			perm = 0o644
		}
		if e.mode&0o4000 != 0 {
			perm |= fs.ModeSetuid
		}
		switch e.typ {
		case tar.TypeDir:
			h.SetMode(fs.ModeDir | 0o755)
		case tar.TypeSymlink:
			h.SetMode(fs.ModeSymlink | 0o777)
			e.body = e.linkname
		case tar.TypeFifo:
			h.SetMode(fs.ModeNamedPipe | 0o644)
		case tar.TypeChar:
			h.SetMode(fs.ModeDevice | fs.ModeCharDevice | 0o644)
		default:
			h.SetMode(perm)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// extract writes an archive of format into a new tree and finishes it.
func extract(t *testing.T, format string, data []byte, limits Limits) (*Tree, Summary, error) {
	t.Helper()
	tr := newTestTree(t, limits)
	path := filepath.Join(t.TempDir(), "archive")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ExtractFile(path, format, "s3://b/code", tr); err != nil {
		return tr, Summary{}, err
	}
	sum, err := tr.Finish()
	return tr, sum, err
}

// sameTree is one source tree with a folder, an executable and a symlink.
var sameTree = []entry{
	{name: "app/", typ: tar.TypeDir},
	{name: "app/main.py", typ: tar.TypeReg, body: "print('hello')\n"},
	{name: "app/run.sh", typ: tar.TypeReg, body: "#!/bin/sh\nexec python3 main.py\n", mode: 0o755},
	{name: "app/lib/util.py", typ: tar.TypeReg, body: "X = 1\n"},
	{name: "app/current", typ: tar.TypeSymlink, linkname: "lib/util.py"},
	{name: "README", typ: tar.TypeReg, body: "readme\n"},
}

// TestSameTreeSameDigestFromEverySource: the digest of one tree is the same
// from a tar, a gzip tar, a zip and a folder on disk.
func TestSameTreeSameDigestFromEverySource(t *testing.T) {
	digests := map[string]string{}
	for name, data := range map[string][]byte{
		ArchiveTar:   tarOf(t, sameTree),
		ArchiveTarGz: gzipOf(t, tarOf(t, sameTree)),
		ArchiveZip:   zipOf(t, sameTree),
	} {
		tr, sum, err := extract(t, name, data, Limits{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if sum.Files != 5 {
			t.Errorf("%s: %d files, want 5", name, sum.Files)
		}
		digests[name] = sum.Digest
		disk, _, err := treedigest.Dir(tr.Root())
		if err != nil || disk != sum.Digest {
			t.Errorf("%s: digest %s, the extracted folder's %s (%v)", name, sum.Digest, disk, err)
		}
	}
	// The same tree laid out by hand, like git checks it out.
	dir := t.TempDir()
	for _, e := range sameTree {
		p := filepath.Join(dir, e.name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		switch e.typ {
		case tar.TypeReg:
			mode := os.FileMode(0o644)
			if e.mode != 0 {
				mode = os.FileMode(e.mode)
			}
			if err := os.WriteFile(p, []byte(e.body), mode); err != nil {
				t.Fatal(err)
			}
		case tar.TypeSymlink:
			if err := os.Symlink(e.linkname, p); err != nil {
				t.Fatal(err)
			}
		}
	}
	digests["folder"], _, _ = treedigest.Dir(dir)
	want := digests["folder"]
	for name, d := range digests {
		if d != want {
			t.Errorf("%s gives %s, the folder %s", name, d, want)
		}
	}
}

func TestHostileArchives(t *testing.T) {
	tests := []struct {
		name    string
		entries []entry
		reason  string
		text    string
		zipToo  bool
	}{
		{"dot-dot", []entry{{name: "../evil", typ: tar.TypeReg, body: "x"}}, ReasonUnsafePath, `".." component`, true},
		{"dot-dot inside", []entry{{name: "a/../../evil", typ: tar.TypeReg, body: "x"}}, ReasonUnsafePath, `".." component`, true},
		{"absolute", []entry{{name: "/tmp/evil", typ: tar.TypeReg, body: "x"}}, ReasonUnsafePath, "absolute path", true},
		{"backslash", []entry{{name: `..\..\evil`, typ: tar.TypeReg, body: "x"}}, ReasonUnsafePath, "backslash", true},
		{"symlink absolute", []entry{{name: "passwd", typ: tar.TypeSymlink, linkname: "/etc/passwd"}}, ReasonUnsafePath, "outside the destination", true},
		{"symlink up", []entry{{name: "a/up", typ: tar.TypeSymlink, linkname: "../../.."}}, ReasonUnsafePath, "outside the destination", true},
		{"symlink chain", []entry{{name: "a/b", typ: tar.TypeSymlink, linkname: ".."}, {name: "a/c", typ: tar.TypeSymlink, linkname: "b/../.."}}, ReasonUnsafePath, "leaves the destination", true},
		{"write through a symlink", []entry{{name: "sub/", typ: tar.TypeDir}, {name: "lnk", typ: tar.TypeSymlink, linkname: "sub"}, {name: "lnk/x", typ: tar.TypeReg, body: "x"}}, ReasonUnsafePath, "below a symlink", true},
		{"hardlink absolute", []entry{{name: "h", typ: tar.TypeLink, linkname: "/etc/passwd"}}, ReasonUnsafePath, "absolute path", false},
		{"hardlink up", []entry{{name: "h", typ: tar.TypeLink, linkname: "../outside"}}, ReasonUnsafePath, `".." component`, false},
		{"hardlink to nothing", []entry{{name: "h", typ: tar.TypeLink, linkname: "missing"}}, ReasonUnsafePath, "not a file written earlier", false},
		{"char device", []entry{{name: "dev/null", typ: tar.TypeChar}}, ReasonSpecialFile, "character device", true},
		{"block device", []entry{{name: "dev/sda", typ: tar.TypeBlock}}, ReasonSpecialFile, "block device", false},
		{"fifo", []entry{{name: "pipe", typ: tar.TypeFifo}}, ReasonSpecialFile, "FIFO", true},
		{"duplicate", []entry{{name: "a", typ: tar.TypeReg, body: "1"}, {name: "a", typ: tar.TypeReg, body: "2"}}, ReasonConflict, "appears twice", true},
	}
	for _, tt := range tests {
		formats := map[string][]byte{ArchiveTar: tarOf(t, tt.entries)}
		if tt.zipToo {
			formats[ArchiveZip] = zipOf(t, tt.entries)
		}
		for format, data := range formats {
			t.Run(tt.name+"/"+format, func(t *testing.T) {
				tr, _, err := extract(t, format, data, Limits{})
				wantStepError(t, err, step.CodeInput, tt.reason, tt.text)
				if _, err := os.Lstat(filepath.Join(filepath.Dir(tr.Root()), "evil")); err == nil {
					t.Error("a file escaped the tree")
				}
			})
		}
	}
}

func TestArchivesStripSpecialModeBits(t *testing.T) {
	entries := []entry{{name: "suid", typ: tar.TypeReg, body: "x", mode: 0o4755}, {name: "sgid", typ: tar.TypeReg, body: "x", mode: 0o2644}, {name: "d/", typ: tar.TypeDir, mode: 0o1777}}
	for format, data := range map[string][]byte{ArchiveTar: tarOf(t, entries), ArchiveZip: zipOf(t, entries)} {
		tr, _, err := extract(t, format, data, Limits{})
		if err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		for name, want := range map[string]fs.FileMode{"suid": 0o755, "sgid": 0o644, "d": fs.ModeDir | 0o755} {
			info, err := os.Lstat(filepath.Join(tr.Root(), name))
			if err != nil {
				if format == ArchiveZip && name != "suid" {
					continue // the zip builder sets only setuid
				}
				t.Fatal(err)
			}
			if info.Mode() != want {
				t.Errorf("%s: %s has mode %v, want %v", format, name, info.Mode(), want)
			}
		}
	}
}

// countingReader counts the bytes the extraction pulled from the stream.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// zeros is an endless stream of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestTarBombStopsAtTheLimit: a member that claims a terabyte is cut off
// after FETCH_MAX_BYTES written, having read about that much: the limit
// holds on the bytes written, not on what the header says.
func TestTarBombStopsAtTheLimit(t *testing.T) {
	var hdr bytes.Buffer
	tw := tar.NewWriter(&hdr)
	if err := tw.WriteHeader(&tar.Header{Name: "bomb", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1 << 40}); err != nil {
		t.Fatal(err)
	}
	tw.Flush()
	const limit = 4 << 20
	stream := &countingReader{r: io.MultiReader(&hdr, zeros{})}
	tr := newTestTree(t, Limits{MaxBytes: limit})
	err := ExtractTar(stream, "s3://b/bomb.tar", tr)
	wantStepError(t, err, step.CodeInput, ReasonTooLarge, "FETCH_MAX_BYTES")
	if stream.n > limit+2*copyBufferSize {
		t.Errorf("read %d bytes of a bomb with a limit of %d", stream.n, limit)
	}
	if entries, _ := os.ReadDir(tr.Root()); len(entries) != 0 {
		t.Errorf("the refused member is still on disk: %v", entries)
	}
}

func TestCompressedBombsStopAtTheLimit(t *testing.T) {
	big := string(make([]byte, 16<<20)) // compresses to a few kB
	entries := []entry{{name: "a", typ: tar.TypeReg, body: big}, {name: "b", typ: tar.TypeReg, body: big}}
	for format, data := range map[string][]byte{ArchiveTarGz: gzipOf(t, tarOf(t, entries)), ArchiveZip: zipOf(t, entries)} {
		if len(data) > 1<<20 {
			t.Fatalf("%s bomb is %d bytes: not a bomb", format, len(data))
		}
		_, _, err := extract(t, format, data, Limits{MaxBytes: 20 << 20})
		wantStepError(t, err, step.CodeInput, ReasonTooLarge, "FETCH_MAX_BYTES")
	}
}

func TestArchiveWithTooManyEntries(t *testing.T) {
	var entries []entry
	for i := range 200 {
		entries = append(entries, entry{name: "f" + string(rune('a'+i%26)) + "/" + string(rune('0'+i/26)), typ: tar.TypeReg})
	}
	_, _, err := extract(t, ArchiveTar, tarOf(t, entries), Limits{MaxFiles: 100})
	wantStepError(t, err, step.CodeInput, ReasonTooLarge, "FETCH_MAX_FILES=100")
}

func TestCorruptArchives(t *testing.T) {
	good := gzipOf(t, tarOf(t, sameTree))
	for name, c := range map[string]struct {
		format string
		data   []byte
	}{
		"not gzip":      {ArchiveTarGz, []byte("plain text")},
		"truncated tgz": {ArchiveTarGz, good[:len(good)/2]},
		"not a zip":     {ArchiveZip, []byte("PK nope")},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := extract(t, c.format, c.data, Limits{})
			wantStepError(t, err, step.CodeInput, ReasonBadArchive, "reading archive")
		})
	}
}
