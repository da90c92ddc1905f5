package fetch

import (
	"crypto/sha256"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/knative-lambda/lambda-builder/internal/step"
	"github.com/knative-lambda/lambda-builder/internal/treedigest"
)

// Exit reasons of a tree the fetcher refuses.
const (
	ReasonTooLarge = "TooLarge"
	ReasonConflict = "ConflictingPaths"
)

// Limits bound what one fetch may write.
type Limits struct {
	MaxBytes int64 // bytes of file content actually written
	MaxFiles int64 // entries created: files, symlinks, hardlinks and folders
}

// Tree writes a source tree under a root folder and keeps what the digest
// needs. Every source goes through it, so the path rules, the link rules and
// the limits are the same for an S3 prefix, an archive and a git commit.
// Limits count the bytes really written, not what a header or a listing
// claims, so a bomb stops at the limit instead of filling the disk.
//
// Files are created with O_EXCL|O_NOFOLLOW below folders the Tree made
// itself: no write ever goes through a symlink. Files may be written
// concurrently; symlinks, hardlinks and folders come from one goroutine.
type Tree struct {
	root   string
	limits Limits
	umask  fs.FileMode

	bytes   atomic.Int64 // content bytes reserved by writes in flight and done
	entries atomic.Int64 // entries created, folders included
	files   atomic.Int64 // files and symlinks committed (FILE_COUNT)

	mu    sync.Mutex
	nodes map[string]*node // by clean relative path
}

type nodeKind int

const (
	kindDir nodeKind = iota
	kindPending
	kindFile
	kindSymlink
)

type node struct {
	kind   nodeKind
	mode   treedigest.Mode
	sha    [32]byte
	size   int64
	target string // symlinks
}

// NewTree writes into root, which must exist and be empty.
func NewTree(root string, limits Limits) *Tree {
	return &Tree{root: root, limits: limits, umask: processUmask(), nodes: map[string]*node{}}
}

// Root is the folder the tree is written under.
func (t *Tree) Root() string { return t.root }

// Progress is what has been written so far.
func (t *Tree) Progress() (files, bytes int64) { return t.files.Load(), t.bytes.Load() }

func (t *Tree) full(rel string) string { return filepath.Join(t.root, filepath.FromSlash(rel)) }

func (t *Tree) reserveEntry(rel string) error {
	if n := t.entries.Add(1); n > t.limits.MaxFiles {
		t.entries.Add(-1)
		return step.Errorf(step.CodeInput, ReasonTooLarge,
			"the source has more than FETCH_MAX_FILES=%d entries (files, links and folders; stopped at %q); raise FETCH_MAX_FILES or fetch less", t.limits.MaxFiles, rel)
	}
	return nil
}

func (t *Tree) reserveBytes(n int64, rel string) error {
	if total := t.bytes.Add(n); total > t.limits.MaxBytes {
		t.bytes.Add(-n)
		return step.Errorf(step.CodeInput, ReasonTooLarge,
			"the source is larger than FETCH_MAX_BYTES=%d bytes (stopped while writing %q); raise FETCH_MAX_BYTES or fetch less", t.limits.MaxBytes, rel)
	}
	return nil
}

func conflict(rel, why string) error {
	return step.Errorf(step.CodeInput, ReasonConflict, "%q %s", rel, why)
}

// Mkdir creates a folder (and its parents). Folders always get 0755.
func (t *Tree) Mkdir(rel string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.mkdirLocked(rel)
}

// mkdirLocked creates rel and its missing parents, refusing to go through a
// file or a symlink.
func (t *Tree) mkdirLocked(rel string) error {
	if rel == "" {
		return nil
	}
	if n, ok := t.nodes[rel]; ok {
		switch n.kind {
		case kindDir:
			return nil
		case kindSymlink:
			return step.Errorf(step.CodeInput, ReasonUnsafePath, "%q is below a symlink of the same source; refusing to write through links", rel)
		default:
			return conflict(rel, "is both a file and a folder in the source")
		}
	}
	if err := t.mkdirLocked(parent(rel)); err != nil {
		return err
	}
	if err := t.reserveEntry(rel); err != nil {
		return err
	}
	if err := os.Mkdir(t.full(rel), 0o755); err != nil {
		return fmt.Errorf("creating folder %s: %w", rel, err)
	}
	if t.umask&0o755 != 0 {
		if err := os.Chmod(t.full(rel), 0o755); err != nil {
			return err
		}
	}
	t.nodes[rel] = &node{kind: kindDir}
	return nil
}

func parent(rel string) string {
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		return rel[:i]
	}
	return ""
}

// claim reserves a new name for a file or link, creating its parent folders.
func (t *Tree) claim(rel string, kind nodeKind) (*node, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if rel == "" {
		return nil, conflict(".", "names the destination itself, not a file")
	}
	if n, ok := t.nodes[rel]; ok {
		if n.kind == kindDir {
			return nil, conflict(rel, "is both a file and a folder in the source")
		}
		return nil, conflict(rel, "appears twice in the source")
	}
	if err := t.mkdirLocked(parent(rel)); err != nil {
		return nil, err
	}
	if err := t.reserveEntry(rel); err != nil {
		return nil, err
	}
	n := &node{kind: kind}
	t.nodes[rel] = n
	return n, nil
}

func (t *Tree) unclaim(rel string) {
	t.mu.Lock()
	delete(t.nodes, rel)
	t.mu.Unlock()
	t.entries.Add(-1)
}

// File is a file being written into the tree.
type File struct {
	t    *Tree
	rel  string
	node *node
	mode treedigest.Mode
	f    *os.File
	h    hash.Hash
	size int64
}

// Create starts a new file at rel (a path cleanPath accepted) with mode File
// or Executable. The caller writes it, then calls Commit, or Abort.
func (t *Tree) Create(rel string, mode treedigest.Mode) (*File, error) {
	n, err := t.claim(rel, kindPending)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(t.full(rel), os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, mode.Perm())
	if err != nil {
		t.unclaim(rel)
		return nil, fmt.Errorf("creating %s: %w", rel, err)
	}
	return &File{t: t, rel: rel, node: n, mode: mode, f: f, h: sha256.New()}, nil
}

// Write counts p against FETCH_MAX_BYTES before it touches the disk.
func (f *File) Write(p []byte) (int, error) {
	if err := f.t.reserveBytes(int64(len(p)), f.rel); err != nil {
		return 0, err
	}
	n, err := f.f.Write(p)
	f.h.Write(p[:n])
	f.size += int64(n)
	if n < len(p) {
		f.t.bytes.Add(int64(n - len(p)))
	}
	return n, err
}

// Size is the number of bytes written so far.
func (f *File) Size() int64 { return f.size }

// Reset empties the file for another attempt (a retried download).
func (f *File) Reset() error {
	if err := f.f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.f.Seek(0, 0); err != nil {
		return err
	}
	f.t.bytes.Add(-f.size)
	f.size = 0
	f.h.Reset()
	return nil
}

// Commit closes the file and records it.
func (f *File) Commit() error {
	if f.t.umask&f.mode.Perm() != 0 {
		if err := f.f.Chmod(f.mode.Perm()); err != nil {
			f.Abort()
			return err
		}
	}
	if err := f.f.Close(); err != nil {
		f.Abort()
		return fmt.Errorf("writing %s: %w", f.rel, err)
	}
	f.t.mu.Lock()
	f.node.kind, f.node.mode, f.node.size = kindFile, f.mode, f.size
	copy(f.node.sha[:], f.h.Sum(nil))
	f.t.mu.Unlock()
	f.t.files.Add(1)
	return nil
}

// Abort removes the file. The whole staging folder goes away on failure
// anyway; Abort keeps the counters right for callers that go on.
func (f *File) Abort() {
	f.f.Close()
	os.Remove(f.t.full(f.rel))
	f.t.bytes.Add(-f.size)
	f.t.unclaim(f.rel)
}

// Symlink creates rel pointing at target, which must stay inside the tree.
func (t *Tree) Symlink(rel, target string) error {
	if !linkTargetInside(rel, target) {
		return step.Errorf(step.CodeInput, ReasonUnsafePath, "symlink %q points to %q, outside the destination; refusing it", rel, target)
	}
	n, err := t.claim(rel, kindPending)
	if err != nil {
		return err
	}
	if err := os.Symlink(target, t.full(rel)); err != nil {
		t.unclaim(rel)
		return fmt.Errorf("creating symlink %s: %w", rel, err)
	}
	t.mu.Lock()
	n.kind, n.mode, n.target, n.sha = kindSymlink, treedigest.Symlink, target, sha256.Sum256([]byte(target))
	t.mu.Unlock()
	t.files.Add(1)
	return nil
}

// Link creates rel as a hardlink to target, a regular file already in the
// tree (a tar hardlink). Links to anything else are refused.
func (t *Tree) Link(rel, target string) error {
	t.mu.Lock()
	src, ok := t.nodes[target]
	var copyOf node
	if ok {
		copyOf = *src
	}
	t.mu.Unlock()
	if !ok || copyOf.kind != kindFile {
		return step.Errorf(step.CodeInput, ReasonUnsafePath, "hardlink %q points to %q, which is not a file written earlier from the same source; refusing it", rel, target)
	}
	if err := t.reserveBytes(copyOf.size, rel); err != nil {
		return err
	}
	n, err := t.claim(rel, kindPending)
	if err != nil {
		t.bytes.Add(-copyOf.size)
		return err
	}
	if err := os.Link(t.full(target), t.full(rel)); err != nil {
		t.unclaim(rel)
		t.bytes.Add(-copyOf.size)
		return fmt.Errorf("creating hardlink %s: %w", rel, err)
	}
	t.mu.Lock()
	*n = copyOf
	t.mu.Unlock()
	t.files.Add(1)
	return nil
}

// Summary is what a finished tree reports.
type Summary struct {
	Digest string
	Files  int64 // files and symlinks
	Bytes  int64 // content bytes of the files
}

// Finish checks the symlinks against the whole tree and computes the digest.
func (t *Tree) Finish() (Summary, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var entries []treedigest.Entry
	var s Summary
	for rel, n := range t.nodes {
		switch n.kind {
		case kindPending:
			return Summary{}, fmt.Errorf("%s was never completed", rel)
		case kindSymlink:
			if err := t.resolveLocked(rel, n.target); err != nil {
				return Summary{}, err
			}
		case kindFile:
			s.Bytes += n.size
		default:
			continue
		}
		entries = append(entries, treedigest.Entry{Path: rel, Mode: n.mode, SHA256: n.sha})
	}
	s.Files = int64(len(entries))
	s.Digest = treedigest.Sum(entries)
	return s, nil
}

// maxLinkHops is how many symlinks one resolution may follow (Linux: 40).
const maxLinkHops = 40

// resolveLocked follows a symlink's target component by component through
// the tree's own symlinks, the way the kernel would, and refuses it when it
// leaves the root on the way. Reading the target lexically is not enough:
// with "a/b -> ..", the target "b/../.." of a link in a/ looks like the root
// but the kernel walks a/b to the root first, and its ".." to the parent.
func (t *Tree) resolveLocked(link, target string) error {
	escape := func(why string) error {
		return step.Errorf(step.CodeInput, ReasonUnsafePath, "symlink %q -> %q %s; refusing it", link, target, why)
	}
	cur := splitRel(parent(link))
	queue := splitRel(target)
	hops := 0
	for len(queue) > 0 {
		part := queue[0]
		queue = queue[1:]
		switch part {
		case "", ".":
			continue
		case "..":
			if len(cur) == 0 {
				return escape("leaves the destination through other links")
			}
			cur = cur[:len(cur)-1]
			continue
		}
		cur = append(cur, part)
		n, ok := t.nodes[strings.Join(cur, "/")]
		if !ok || n.kind != kindSymlink {
			continue
		}
		if hops++; hops > maxLinkHops {
			return escape("goes through too many links (a loop)")
		}
		if path.IsAbs(n.target) {
			return escape("goes through an absolute link")
		}
		cur = cur[:len(cur)-1]
		queue = append(splitRel(n.target), queue...)
	}
	return nil
}

func splitRel(p string) []string {
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// processUmask reads the umask without changing it (Linux 4.7+); files are
// chmod-ed only when it would strip bits the tree needs.
func processUmask() fs.FileMode {
	b, err := os.ReadFile("/proc/self/status")
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Umask:"); ok {
				if m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
					return fs.FileMode(m)
				}
			}
		}
	}
	return 0o777 // unknown: always chmod
}
