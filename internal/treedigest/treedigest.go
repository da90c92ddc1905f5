// Package treedigest computes one content digest for a tree of files, the same
// whatever the tree came from (an S3 prefix, a tar or zip archive, a git
// commit, a folder on disk), so a later step or an auditor can re-check what a
// build used.
//
// The digest is "sha256:" + hex(sha256(listing)), where listing is, for every
// regular file and symlink sorted by path (byte order), the bytes
//
//	MODE SP HEX SP PATH NUL
//
// MODE is 100644 (a file), 100755 (a file with the owner execute bit) or
// 120000 (a symlink), as git writes them; HEX is the hex sha256 of the file's
// content, or of the symlink's target; PATH is the slash-separated path
// relative to the tree's root. Folders are not listed (git does not keep empty
// ones), owners, times and the other permission bits are ignored. A path
// cannot hold a NUL byte, so the listing reads back one way only.
//
// It imports only the standard library so any step can use it.
package treedigest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Mode is a normalized file mode, written the way git writes it.
type Mode string

const (
	File       Mode = "100644"
	Executable Mode = "100755"
	Symlink    Mode = "120000"
)

// Perm is the permission bits a file of this mode gets on disk.
func (m Mode) Perm() fs.FileMode {
	if m == Executable {
		return 0o755
	}
	return 0o644
}

// ModeOf normalizes a file mode: executable when the owner may execute it
// (git's rule), a symlink when it is one. setuid, setgid, sticky and every
// other bit are dropped.
func ModeOf(m fs.FileMode) Mode {
	switch {
	case m&fs.ModeSymlink != 0:
		return Symlink
	case m&0o100 != 0:
		return Executable
	default:
		return File
	}
}

// Entry is one listed path.
type Entry struct {
	Path   string   // slash-separated, relative to the tree's root
	Mode   Mode     // File, Executable or Symlink
	SHA256 [32]byte // of the content, or of the symlink target
}

// Sum is the digest of entries, in any order. It does not change entries.
func Sum(entries []Entry) string {
	sorted := make([]*Entry, len(entries))
	for i := range entries {
		sorted[i] = &entries[i]
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	h := sha256.New()
	var line []byte
	for _, e := range sorted {
		line = append(line[:0], e.Mode...)
		line = append(line, ' ')
		line = hex.AppendEncode(line, e.SHA256[:])
		line = append(line, ' ')
		line = append(line, e.Path...)
		line = append(line, 0)
		h.Write(line)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// Dir reads a folder on disk and returns its digest and entries. Sockets,
// devices and FIFOs make it fail: they have no place in a source tree.
func Dir(root string) (string, []Entry, error) {
	var entries []Entry
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		e := Entry{Path: filepath.ToSlash(rel), Mode: ModeOf(d.Type())}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			e.SHA256 = sha256.Sum256([]byte(target))
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			e.Mode = ModeOf(info.Mode())
			if e.SHA256, err = fileSHA256(path); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s is a %s, not a file, folder or symlink", path, strings.TrimSpace(d.Type().String()))
		}
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		return "", nil, err
	}
	return Sum(entries), entries, nil
}

func fileSHA256(path string) ([32]byte, error) {
	var sum [32]byte
	f, err := os.Open(path)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum, err
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}
