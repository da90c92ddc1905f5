package fetch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/knative-lambda/lambda-builder/internal/step"
)

// stagingPrefix names the folder a fetch stages in, inside DEST so that the
// final move is a rename on one filesystem (DEST is often a volume's mount
// point, which cannot itself be renamed).
const stagingPrefix = ".fetch-code-staging-"

// keepInDest are entries DEST may hold that do not count as files and are
// never removed: ext4 volumes (PVC-backed workspaces) have lost+found.
var keepInDest = map[string]bool{"lost+found": true}

// Stage is a staging folder inside DEST: the tree is written to Tree(), and
// moved into DEST by Commit only when it is complete and checked.
type Stage struct {
	dest        string
	dir         string // DEST/.fetch-code-staging-XXXX
	createdDest bool
}

// PrepareStage checks DEST and creates the staging folder. DEST that already
// holds files is refused unless clean is set; its old content stays until
// Commit replaces it. A staging folder left by a killed run is removed.
func PrepareStage(dest string, clean bool) (*Stage, error) {
	dest, err := filepath.Abs(dest)
	if err != nil {
		return nil, step.ConfigError("DEST %q: %v", dest, err)
	}
	s := &Stage{dest: dest}
	info, err := os.Stat(dest)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dest, 0o755); err != nil {
			return nil, step.ConfigError("DEST %q cannot be created: %v", dest, err)
		}
		s.createdDest = true
	case err != nil:
		return nil, step.ConfigError("DEST %q: %v", dest, err)
	case !info.IsDir():
		return nil, step.ConfigError("DEST %q is not a folder", dest)
	}
	names, err := userEntries(dest)
	if err != nil {
		return nil, err
	}
	if len(names) > 0 && !clean {
		shown := names
		if len(shown) > 3 {
			shown = append(shown[:3:3], "...")
		}
		return nil, step.Errorf(step.CodeConfig, "DestNotEmpty",
			"DEST %s already holds %d entries (%s); set CLEAN_DEST=true to replace them, or point DEST at an empty folder", dest, len(names), strings.Join(shown, ", "))
	}
	s.dir, err = os.MkdirTemp(dest, stagingPrefix)
	if err != nil {
		return nil, step.ConfigError("DEST %s is not writable: %v (the step runs as uid 65532: give the volume fsGroup 65532)", dest, err)
	}
	for _, sub := range []string{"tree", "scratch", "old"} {
		if err := os.Mkdir(filepath.Join(s.dir, sub), 0o755); err != nil {
			s.Abort()
			return nil, err
		}
	}
	return s, nil
}

// userEntries lists DEST without lost+found, removing stale staging folders.
func userEntries(dest string) ([]string, error) {
	entries, err := os.ReadDir(dest)
	if err != nil {
		return nil, step.ConfigError("DEST %s cannot be read: %v", dest, err)
	}
	var names []string
	for _, e := range entries {
		switch {
		case keepInDest[e.Name()]:
		case e.IsDir() && strings.HasPrefix(e.Name(), stagingPrefix):
			if err := os.RemoveAll(filepath.Join(dest, e.Name())); err != nil {
				return nil, fmt.Errorf("removing a staging folder left by an earlier run: %w", err)
			}
		default:
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// TreeDir is where the tree is staged.
func (s *Stage) TreeDir() string { return filepath.Join(s.dir, "tree") }

// ScratchDir is for temporary files on DEST's volume (archives, git objects).
func (s *Stage) ScratchDir() string { return filepath.Join(s.dir, "scratch") }

// Commit moves the staged tree into DEST. What DEST held before (allowed by
// CLEAN_DEST) is first moved aside into the staging folder, so that a failed
// move can put everything back; the staging folder is removed at the end.
func (s *Stage) Commit() error {
	old := filepath.Join(s.dir, "old")
	aside, err := s.moveEntries(s.dest, old, func(name string) bool {
		return !keepInDest[name] && filepath.Join(s.dest, name) != s.dir
	})
	if err != nil {
		s.moveBack(aside, s.dest, old)
		return fmt.Errorf("moving the old content of DEST aside: %w", err)
	}
	moved, err := s.moveEntries(s.TreeDir(), s.dest, func(string) bool { return true })
	if err != nil {
		s.moveBack(moved, s.TreeDir(), s.dest)
		s.moveBack(aside, s.dest, old)
		return fmt.Errorf("moving the fetched tree into DEST: %w", err)
	}
	if err := os.RemoveAll(s.dir); err != nil {
		return fmt.Errorf("removing the staging folder %s: %w", s.dir, err)
	}
	return nil
}

// moveEntries renames the chosen entries of from into to, returning the
// names moved so far.
func (s *Stage) moveEntries(from, to string, choose func(string) bool) ([]string, error) {
	entries, err := os.ReadDir(from)
	if err != nil {
		return nil, err
	}
	var moved []string
	for _, e := range entries {
		if !choose(e.Name()) {
			continue
		}
		if err := os.Rename(filepath.Join(from, e.Name()), filepath.Join(to, e.Name())); err != nil {
			return moved, err
		}
		moved = append(moved, e.Name())
	}
	return moved, nil
}

func (s *Stage) moveBack(names []string, from, to string) {
	for _, n := range names {
		_ = os.Rename(filepath.Join(to, n), filepath.Join(from, n))
	}
}

// Abort removes the staging folder (and DEST, when this fetch created it):
// DEST is left as it was.
func (s *Stage) Abort() {
	_ = os.RemoveAll(s.dir)
	if s.createdDest {
		_ = os.Remove(s.dest)
	}
}
