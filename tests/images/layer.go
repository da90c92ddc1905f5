package images

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/knative-lambda/lambda-builder/internal/layer"
)

// File is one entry of a layer built in memory (see internal/layer).
type File = layer.File

// epoch is the fixed mtime of every entry: the same inputs give the same layer digest.
var epoch = layer.Epoch

// FileLayer builds a gzipped layer from files, parents first, sorted, with
// fixed timestamps.
func FileLayer(files []File) (v1.Layer, error) { return layer.FromFiles(files) }

// writeFilesTarGz writes FileLayer's tar, gzipped, to path (for the Cache).
func writeFilesTarGz(path string, files []File) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	zw, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
	err = layer.WriteTar(zw, files)
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
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
