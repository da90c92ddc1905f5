package fetch

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/knative-lambda/lambda-builder/internal/step"
	"github.com/knative-lambda/lambda-builder/internal/treedigest"
)

// Exit reasons of an archive the fetcher refuses.
const (
	ReasonBadArchive  = "InvalidArchive"
	ReasonSpecialFile = "SpecialFile"
)

// maxLinkTarget bounds a symlink target read from an archive (Linux PATH_MAX).
const maxLinkTarget = 4096

// copyBufferSize is the chunk every copy into the tree uses. Reads of a
// response body this large bypass the connection's 4 kB bufio buffer.
const copyBufferSize = 32 << 10

func badArchive(name string, err error) error {
	return step.Errorf(step.CodeInput, ReasonBadArchive, "reading archive %s: %v; check that it is a valid %s", name, err, archiveWord(name))
}

func archiveWord(name string) string {
	switch {
	case strings.HasSuffix(strings.ToLower(name), ".zip"):
		return "zip file"
	case strings.HasSuffix(strings.ToLower(name), ".tar"):
		return "tar file"
	}
	return "gzip-compressed tar file"
}

// ExtractFile extracts the archive at path (format ArchiveTar, ArchiveTarGz or
// ArchiveZip) into t. name is how errors call the archive.
func ExtractFile(path, format, name string, t *Tree) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	switch format {
	case ArchiveZip:
		info, err := f.Stat()
		if err != nil {
			return err
		}
		return ExtractZip(f, info.Size(), name, t)
	case ArchiveTarGz:
		gz, err := gzip.NewReader(f)
		if err != nil {
			return badArchive(name, err)
		}
		defer gz.Close()
		return ExtractTar(gz, name, t)
	case ArchiveTar:
		return ExtractTar(f, name, t)
	}
	return fmt.Errorf("unknown archive format %q", format)
}

// ExtractTar writes a tar stream into t. Entries are checked one by one as
// they come: a bad entry stops the extraction there.
func ExtractTar(r io.Reader, name string, t *Tree) error {
	tr := tar.NewReader(r)
	buf := make([]byte, copyBufferSize)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return badArchive(name, err)
		}
		rel, err := cleanPath("archive entry", h.Name)
		if err != nil {
			return err
		}
		switch h.Typeflag {
		case tar.TypeDir:
			err = t.Mkdir(rel)
		case tar.TypeReg, tar.TypeGNUSparse: // the reader turns the old TypeRegA into TypeReg
			err = writeEntry(t, rel, treedigest.ModeOf(fs.FileMode(h.Mode)&fs.ModePerm), tr, buf, name)
		case tar.TypeSymlink:
			err = t.Symlink(rel, h.Linkname)
		case tar.TypeLink:
			var target string
			if target, err = cleanPath("hardlink target", h.Linkname); err == nil {
				err = t.Link(rel, target)
			}
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			err = specialFile(rel, map[byte]string{tar.TypeChar: "a character device", tar.TypeBlock: "a block device", tar.TypeFifo: "a FIFO"}[h.Typeflag])
		case tar.TypeXGlobalHeader:
			continue // metadata only (git archive writes one)
		default:
			err = step.Errorf(step.CodeInput, ReasonBadArchive, "archive entry %q has tar type %q, which a source tree has no use for; refusing it", h.Name, string(h.Typeflag))
		}
		if err != nil {
			return err
		}
	}
}

func specialFile(rel, what string) error {
	return step.Errorf(step.CodeInput, ReasonSpecialFile, "archive entry %q is %s; a source tree holds only files, folders and links", rel, what)
}

// writeEntry copies one archive member into a new file of the tree. The
// tree counts the bytes as they are written, so a member that inflates past
// FETCH_MAX_BYTES stops at the limit, whatever its header said.
func writeEntry(t *Tree, rel string, mode treedigest.Mode, r io.Reader, buf []byte, archive string) error {
	f, err := t.Create(rel, mode)
	if err != nil {
		return err
	}
	if _, err := io.CopyBuffer(writerOnly{f}, r, buf); err != nil {
		f.Abort()
		var se *step.Error
		if errors.As(err, &se) {
			return err
		}
		return badArchive(archive, fmt.Errorf("entry %q: %w", rel, err))
	}
	return f.Commit()
}

// writerOnly hides ReadFrom so io.CopyBuffer uses the given buffer.
type writerOnly struct{ io.Writer }

// readSymlinkTarget reads a zip symlink's target (its content), bounded.
func readSymlinkTarget(r io.Reader, rel string) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxLinkTarget+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxLinkTarget {
		return "", step.Errorf(step.CodeInput, ReasonUnsafePath, "symlink %q has a target longer than %d bytes; refusing it", rel, maxLinkTarget)
	}
	return string(b), nil
}

// ExtractZip writes a zip archive into t.
func ExtractZip(r io.ReaderAt, size int64, name string, t *Tree) error {
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return badArchive(name, err)
	}
	// ErrInsecurePath (GODEBUG zipinsecurepath=0) is not an answer: every
	// name goes through cleanPath below, with the same rules as tar and S3.
	buf := make([]byte, copyBufferSize)
	for _, zf := range zr.File {
		rel, err := cleanPath("archive entry", zf.Name)
		if err != nil {
			return err
		}
		mode := zf.Mode()
		switch {
		case mode.IsDir():
			err = t.Mkdir(rel)
		case mode&fs.ModeSymlink != 0:
			err = zipSymlink(zf, rel, t, name)
		case mode.IsRegular():
			err = zipFile(zf, rel, t, buf, name)
		case mode&fs.ModeNamedPipe != 0:
			err = specialFile(rel, "a FIFO")
		case mode&fs.ModeCharDevice != 0:
			err = specialFile(rel, "a character device")
		case mode&fs.ModeDevice != 0:
			err = specialFile(rel, "a block device")
		default:
			err = specialFile(rel, "a "+mode.Type().String()+" entry")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func zipFile(zf *zip.File, rel string, t *Tree, buf []byte, name string) error {
	rc, err := zf.Open()
	if err != nil {
		return badArchive(name, fmt.Errorf("entry %q: %w", zf.Name, err))
	}
	defer rc.Close()
	return writeEntry(t, rel, treedigest.ModeOf(zf.Mode()&fs.ModePerm), rc, buf, name)
}

func zipSymlink(zf *zip.File, rel string, t *Tree, name string) error {
	rc, err := zf.Open()
	if err != nil {
		return badArchive(name, fmt.Errorf("entry %q: %w", zf.Name, err))
	}
	defer rc.Close()
	target, err := readSymlinkTarget(rc, rel)
	if err != nil {
		return err
	}
	return t.Symlink(rel, target)
}
