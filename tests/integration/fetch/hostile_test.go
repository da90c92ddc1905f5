//go:build integration

package fetch

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/knative-lambda/lambda-builder/tests/harness"
)

// member is one archive entry; typ is a tar type flag (zip maps them).
type member struct {
	name, body, link string
	typ              byte
	mode             int64
}

func hostileTar(t *testing.T, gz bool, members ...member) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w *tar.Writer
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(&buf)
		w = tar.NewWriter(zw)
	} else {
		w = tar.NewWriter(&buf)
	}
	for _, m := range members {
		h := &tar.Header{Name: m.name, Typeflag: m.typ, Linkname: m.link, Mode: m.mode}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if m.typ == tar.TypeReg {
			h.Size = int64(len(m.body))
		}
		if err := w.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if m.typ == tar.TypeReg {
			w.Write([]byte(m.body))
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		zw.Close()
	}
	return buf.Bytes()
}

func hostileZip(t *testing.T, members ...member) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, m := range members {
		h := &zip.FileHeader{Name: m.name, Method: zip.Deflate}
		body := m.body
		switch m.typ {
		case tar.TypeSymlink:
			h.SetMode(fs.ModeSymlink | 0o777)
			body = m.link
		case tar.TypeFifo:
			h.SetMode(fs.ModeNamedPipe | 0o644)
		default:
			h.SetMode(0o644)
		}
		f, err := w.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte(body))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestFetchHostileArchives runs the binary on archives a real server serves.
// DEST already holds a file and CLEAN_DEST is on: a refused archive must
// leave that file, and nothing else, behind.
func TestFetchHostileArchives(t *testing.T) {
	srv := harness.StartS3(t)
	srv.CreateBucket(t, "uploads")
	zeros := string(make([]byte, 64<<20)) // gzips to ~64 kB
	many := []member{}
	for i := 0; i < 300; i++ {
		many = append(many, member{name: "f/" + string(rune('a'+i%26)) + string(rune('a'+i/26)), typ: tar.TypeReg})
	}
	tests := []struct {
		name   string
		key    string
		data   []byte
		env    []string
		reason string
		text   string
	}{
		{"dot-dot", "dotdot.tar.gz", hostileTar(t, true, member{name: "ok.txt", body: "ok", typ: tar.TypeReg}, member{name: "../evil", body: "x", typ: tar.TypeReg}), nil, "UnsafePath", `".." component`},
		{"absolute", "abs.tar", hostileTar(t, false, member{name: "/tmp/evil", body: "x", typ: tar.TypeReg}), nil, "UnsafePath", "absolute path"},
		{"symlink out", "link.tgz", hostileTar(t, true, member{name: "passwd", link: "/etc/passwd", typ: tar.TypeSymlink}), nil, "UnsafePath", "outside the destination"},
		{"symlink up", "up.tar", hostileTar(t, false, member{name: "a/up", link: "../../..", typ: tar.TypeSymlink}), nil, "UnsafePath", "outside the destination"},
		{"symlink chain", "chain.tar", hostileTar(t, false, member{name: "a/b", link: "..", typ: tar.TypeSymlink}, member{name: "a/c", link: "b/../..", typ: tar.TypeSymlink}), nil, "UnsafePath", "leaves the destination"},
		{"write through a symlink", "through.tar", hostileTar(t, false, member{name: "d/", typ: tar.TypeDir}, member{name: "l", link: "d", typ: tar.TypeSymlink}, member{name: "l/x", body: "x", typ: tar.TypeReg}), nil, "UnsafePath", "below a symlink"},
		{"hardlink out", "hard.tar", hostileTar(t, false, member{name: "h", link: "/etc/passwd", typ: tar.TypeLink}), nil, "UnsafePath", "absolute path"},
		{"character device", "dev.tar", hostileTar(t, false, member{name: "null", typ: tar.TypeChar}), nil, "SpecialFile", "character device"},
		{"fifo", "fifo.tar", hostileTar(t, false, member{name: "pipe", typ: tar.TypeFifo}), nil, "SpecialFile", "FIFO"},
		{"gzip bomb", "bomb.tar.gz", hostileTar(t, true, member{name: "zeros", body: zeros, typ: tar.TypeReg}), []string{"FETCH_MAX_BYTES=8388608"}, "TooLarge", "FETCH_MAX_BYTES=8388608"},
		{"zip bomb", "bomb.zip", hostileZip(t, member{name: "zeros", body: zeros}), []string{"FETCH_MAX_BYTES=8388608"}, "TooLarge", "FETCH_MAX_BYTES=8388608"},
		{"too many entries", "many.tar", hostileTar(t, false, many...), []string{"FETCH_MAX_FILES=100"}, "TooLarge", "FETCH_MAX_FILES=100"},
		{"zip dot-dot", "dotdot.zip", hostileZip(t, member{name: "../../evil", body: "x"}), nil, "UnsafePath", `".." component`},
		{"zip symlink out", "link.zip", hostileZip(t, member{name: "passwd", link: "/etc/passwd", typ: tar.TypeSymlink}), nil, "UnsafePath", "outside the destination"},
		{"zip fifo", "fifo.zip", hostileZip(t, member{name: "pipe", typ: tar.TypeFifo}), nil, "SpecialFile", "FIFO"},
		{"not an archive", "text.zip", []byte("just text"), nil, "InvalidArchive", "valid zip file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.Put(t, "uploads", tt.key, tt.data)
			dest := filepath.Join(t.TempDir(), "dest")
			os.MkdirAll(dest, 0o755)
			os.WriteFile(filepath.Join(dest, "keep.txt"), []byte("from before"), 0o644)
			before := snapshot(t, dest)
			env := append(append(srv.Env(), "SOURCE=s3://uploads/"+tt.key, "DEST="+dest, "CLEAN_DEST=true"), tt.env...)
			r := fetch(t, env...)
			r.wantRefused(t, 3, tt.reason, tt.text, before)
			if _, err := os.Lstat("/tmp/evil"); err == nil {
				t.Error("/tmp/evil exists")
			}
		})
	}
}

// TestFetchStripsSpecialBits: setuid, setgid and sticky bits do not survive.
func TestFetchStripsSpecialBits(t *testing.T) {
	srv := harness.StartS3(t)
	srv.CreateBucket(t, "uploads")
	srv.Put(t, "uploads", "bits.tar", hostileTar(t, false,
		member{name: "suid", body: "#!/bin/sh\n", typ: tar.TypeReg, mode: 0o4755},
		member{name: "sgid", body: "x", typ: tar.TypeReg, mode: 0o2775},
		member{name: "sticky/", typ: tar.TypeDir, mode: 0o1777},
		member{name: "world", body: "x", typ: tar.TypeReg, mode: 0o666}))
	r := fetch(t, append(srv.Env(), "SOURCE=s3://uploads/bits.tar")...)
	r.wantOK(t)
	for name, want := range map[string]fs.FileMode{"suid": 0o755, "sgid": 0o755, "sticky": fs.ModeDir | 0o755, "world": 0o644} {
		info, err := os.Lstat(filepath.Join(r.dest, name))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode() != want {
			t.Errorf("%s: mode %v, want %v", name, info.Mode(), want)
		}
	}
}
