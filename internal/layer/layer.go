// Package layer builds small, reproducible image layers from a list of files:
// fixed timestamps, numeric owners, sorted entries. The release (the Kaniko
// executor image) and the test images share it.
package layer

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
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

// Epoch is the fixed mtime of every entry: the same inputs give the same layer digest.
var Epoch = time.Unix(0, 0).UTC()

// FromFiles builds an uncompressed-then-gzipped layer from files, parents
// first, sorted, with fixed timestamps.
func FromFiles(files []File) (v1.Layer, error) {
	var buf bytes.Buffer
	if err := WriteTar(&buf, files); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
}

// WriteTar writes files as the tar stream FromFiles' layer holds: sorted by
// path, fixed timestamps, numeric owners. Callers that cache layers on disk
// stream it into their own (gzip) file.
func WriteTar(w io.Writer, files []File) error {
	sorted := append([]File(nil), files...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	tw := tar.NewWriter(w)
	for _, f := range sorted {
		if err := writeEntry(tw, f); err != nil {
			return err
		}
	}
	return tw.Close()
}

func writeEntry(tw *tar.Writer, f File) error {
	name := strings.TrimPrefix(filepath.Clean(f.Path), "/")
	hdr := &tar.Header{Name: name, Mode: f.Mode, Uid: f.UID, Gid: f.GID, ModTime: Epoch, Format: tar.FormatPAX}
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
			return fmt.Errorf("layer file %s: %w", f.Path, err)
		}
		hdr.Typeflag, hdr.Size, body = tar.TypeReg, fi.Size(), src
	default:
		hdr.Typeflag, hdr.Size, body = tar.TypeReg, int64(len(f.Content)), bytes.NewReader(f.Content)
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("layer file %s: %w", f.Path, err)
	}
	if body != nil {
		if _, err := io.Copy(tw, body); err != nil {
			return fmt.Errorf("layer file %s: %w", f.Path, err)
		}
	}
	return nil
}
