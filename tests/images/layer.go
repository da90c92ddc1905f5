package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// File is one entry of a layer built in memory.
type File struct {
	Path     string // absolute path in the image
	Mode     int64  // permission bits (and setuid etc.)
	Content  []byte // for regular files
	Source   string // host file to copy instead of Content
	Linkname string // symlink target when set
	Dir      bool
	UID, GID int
}

// epoch is the fixed mtime of every entry: the same inputs give the same layer digest.
var epoch = time.Unix(0, 0).UTC()

// FileLayer builds an uncompressed-then-gzipped layer from files, parents
// first, sorted, with fixed timestamps.
func FileLayer(files []File) (v1.Layer, error) {
	var buf bytes.Buffer
	if err := writeFiles(&buf, files); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
}

// writeFilesTarGz writes FileLayer's tar, gzipped, to path (for the Cache).
func writeFilesTarGz(path string, files []File) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	zw, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
	err = writeFiles(zw, files)
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeFiles writes files as a tar stream, sorted by path, with fixed timestamps.
func writeFiles(w io.Writer, files []File) error {
	sorted := append([]File(nil), files...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	tw := tar.NewWriter(w)
	for _, f := range sorted {
		if err := writeFile(tw, f); err != nil {
			return err
		}
	}
	return tw.Close()
}

func writeFile(tw *tar.Writer, f File) error {
	name := strings.TrimPrefix(filepath.Clean(f.Path), "/")
	hdr := &tar.Header{Name: name, Mode: f.Mode, Uid: f.UID, Gid: f.GID, ModTime: epoch, Format: tar.FormatPAX}
	var body io.Reader
	switch {
	case f.Dir:
		hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
	case f.Linkname != "":
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, f.Linkname
	case f.Source != "":
		src, err := os.Open(f.Source)
		if err != nil {
			return fmt.Errorf("layer file %s: %w", f.Path, err)
		}
		defer src.Close()
		fi, err := src.Stat()
		if err != nil {
			return err
		}
		hdr.Typeflag, hdr.Size, body = tar.TypeReg, fi.Size(), src
	default:
		hdr.Typeflag, hdr.Size, body = tar.TypeReg, int64(len(f.Content)), bytes.NewReader(f.Content)
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if body != nil {
		if _, err := io.Copy(tw, body); err != nil {
			return fmt.Errorf("layer file %s: %w", f.Path, err)
		}
	}
	return nil
}

// WriteDirTar writes the tree under root as a tar stream (numeric owners,
// fixed mtimes, in walk order), skipping what skip returns true for. Used for
// debootstrap roots and the Go toolchain, which are too big to hold in memory.
func WriteDirTar(w io.Writer, root, prefix string, skip func(rel string) bool) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if rel == "." {
			return nil
		}
		if skip != nil && skip(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(path); err != nil {
				return err
			}
		}
		if !fi.Mode().IsRegular() && !fi.IsDir() && fi.Mode()&fs.ModeSymlink == 0 {
			return nil // devices, sockets and FIFOs have no place in a base layer
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(filepath.Join(prefix, rel))
		if fi.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "", "" // numeric owners only, as the rootfs had them
		hdr.ModTime, hdr.AccessTime, hdr.ChangeTime = epoch, time.Time{}, time.Time{}
		hdr.Format = tar.FormatPAX
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
