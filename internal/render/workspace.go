package render

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"

	"github.com/knative-lambda/lambda-builder/internal/step"
)

// workspace is SOURCE_DIR opened as an os.Root: every read and write goes
// through it, so no symlink in the user's tree (a Dockerfile, a folder, a
// package.json) can make the step read or write outside SOURCE_DIR.
type workspace struct {
	root *os.Root
	dir  string
}

func openWorkspace(dir string) (*workspace, error) {
	fi, err := os.Stat(dir)
	if err == nil && !fi.IsDir() {
		err = errors.New("not a folder")
	}
	if err != nil {
		return nil, step.ConfigError("SOURCE_DIR %s: %v: point it at the folder holding the function's code", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, step.ConfigError("opening SOURCE_DIR %s: %v", dir, err)
	}
	return &workspace{root: root, dir: dir}, nil
}

func (w *workspace) Close() error { return w.root.Close() }

// FS reads the tree; symlinks that leave it fail to open.
func (w *workspace) FS() fs.FS { return w.root.FS() }

// userFile reports whether the user shipped rel (a Dockerfile, a
// .dockerignore). A symlink is accepted only when it resolves to a regular
// file inside SOURCE_DIR: the build step would otherwise read a file from
// outside the build context.
func (w *workspace) userFile(rel string) (bool, error) {
	fi, err := w.root.Lstat(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, step.InputError("%s is not usable: %v (a folder on its path may be a symlink leaving SOURCE_DIR)", rel, err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		target, _ := w.root.Readlink(rel)
		if fi, err = w.root.Stat(rel); err != nil {
			return false, step.InputError("%s is a symlink to %q, which is outside SOURCE_DIR or missing: ship the file itself", rel, target)
		}
	}
	if !fi.Mode().IsRegular() {
		return false, step.InputError("%s is not a regular file (%s)", rel, fi.Mode().Type())
	}
	return true, nil
}

// RenderedMarker starts every file this step writes. A file that starts with
// it was rendered by an earlier run (a retried TaskRun on the same
// workspace), not shipped by the user, so it is rendered again.
const RenderedMarker = "# Rendered by render-dockerfile (lambda-builder)"

// shippedByUser is userFile without the files an earlier run rendered.
func (w *workspace) shippedByUser(rel string) (bool, error) {
	exists, err := w.userFile(rel)
	if !exists || err != nil {
		return false, err
	}
	head, err := readHead(w.FS(), rel, int64(len(RenderedMarker)))
	if err != nil {
		return false, step.InputError("%v", err)
	}
	return string(head) != RenderedMarker, nil
}

// writeFile replaces rel with data. It writes a new file and renames it over
// rel, so a symlink at rel is replaced, never followed.
func (w *workspace) writeFile(rel string, data []byte) error {
	dir := path.Dir(rel)
	if dir != "." {
		if err := w.root.MkdirAll(dir, 0o755); err != nil {
			return step.InputError("creating the folder of %s: %v", rel, err)
		}
	}
	tmp := path.Join(dir, ".render-dockerfile.tmp")
	// A leftover, or a link planted under this name, is removed, not opened.
	if err := w.root.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", tmp, err)
	}
	f, err := w.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("writing %s: %w", rel, err)
	}
	_, werr := f.Write(data)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = w.root.Rename(tmp, rel)
	}
	if werr != nil {
		_ = w.root.Remove(tmp)
		return fmt.Errorf("writing %s: %w", rel, werr)
	}
	return nil
}
