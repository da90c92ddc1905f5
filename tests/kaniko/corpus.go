package kanikotest

import (
	"archive/tar"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"sigs.k8s.io/yaml"

	"github.com/knative-lambda/lambda-builder/internal/layer"
)

// CorpusDir holds one folder per case: a Dockerfile, its context, and
// expect.yaml (Expect).
const CorpusDir = "tests/fixtures/kaniko-corpus"

// Expect is a corpus case's expect.yaml.
type Expect struct {
	Description string   `json:"description"`
	Bases       []string `json:"bases"` // stand-ins the build needs (tests/images, plus "setcap")
	BuildArgs   []string `json:"buildArgs,omitempty"`
	Fail        *struct {
		Reason string `json:"reason"` // kaniko-build's reason on its last line
		Log    string `json:"log"`    // a substring of the log
	} `json:"fail,omitempty"`
	Config *struct {
		User         string            `json:"user,omitempty"`
		Entrypoint   []string          `json:"entrypoint,omitempty"`
		Cmd          []string          `json:"cmd,omitempty"`
		WorkingDir   string            `json:"workingDir,omitempty"`
		Env          []string          `json:"env,omitempty"`
		Labels       map[string]string `json:"labels,omitempty"`
		ExposedPorts []string          `json:"exposedPorts,omitempty"`
		StopSignal   string            `json:"stopSignal,omitempty"`
	} `json:"config,omitempty"`
	Files  []FileExpect `json:"files,omitempty"`
	Absent []string     `json:"absent,omitempty"`
}

// FileExpect is one path of the built image. Unset fields are not checked.
type FileExpect struct {
	Path       string `json:"path"`
	Type       string `json:"type"` // file, dir, symlink, hardlink-or-file
	Mode       string `json:"mode,omitempty"`
	UID        *int   `json:"uid,omitempty"`
	GID        *int   `json:"gid,omitempty"`
	Link       string `json:"link,omitempty"`
	Content    string `json:"content,omitempty"`
	Contains   string `json:"contains,omitempty"`
	Capability bool   `json:"capability,omitempty"` // has a security.capability xattr
}

// Case is a corpus folder with its expectations.
type Case struct {
	Name   string
	Dir    string
	Expect Expect
}

// LoadCorpus reads every case under root/CorpusDir.
func LoadCorpus(root string) ([]Case, error) {
	dir := filepath.Join(root, CorpusDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []Case
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "expect.yaml"))
		if err != nil {
			return nil, err
		}
		c := Case{Name: e.Name(), Dir: filepath.Join(dir, e.Name())}
		if err := yaml.UnmarshalStrict(b, &c.Expect); err != nil {
			return nil, fmt.Errorf("%s/expect.yaml: %w", e.Name(), err)
		}
		out = append(out, c)
	}
	return out, nil
}

// Entry is one path of a flattened image.
type Entry = layer.Entry

// Flatten pulls ref, validates every blob against its digest, and returns
// the image's config and file system as seen by a container.
func Flatten(ref string) (*v1.ConfigFile, map[string]Entry, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, nil, err
	}
	img, err := remote.Image(r)
	if err != nil {
		return nil, nil, err
	}
	if err := validate.Image(img); err != nil {
		return nil, nil, fmt.Errorf("pulled image does not validate: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, nil, err
	}
	files, err := layer.Flatten(img, 64<<10)
	return cf, files, err
}

// Check compares a built image with the expectations and returns every
// difference.
func (x Expect) Check(cf *v1.ConfigFile, files map[string]Entry) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if c := x.Config; c != nil {
		got := cf.Config
		if c.User != "" && got.User != c.User {
			bad("config user %q, want %q", got.User, c.User)
		}
		if c.Entrypoint != nil && !slices.Equal(got.Entrypoint, c.Entrypoint) {
			bad("entrypoint %q, want %q", got.Entrypoint, c.Entrypoint)
		}
		if c.Cmd != nil && !slices.Equal(got.Cmd, c.Cmd) {
			bad("cmd %q, want %q", got.Cmd, c.Cmd)
		}
		if c.WorkingDir != "" && got.WorkingDir != c.WorkingDir {
			bad("workingDir %q, want %q", got.WorkingDir, c.WorkingDir)
		}
		for _, e := range c.Env {
			if !slices.Contains(got.Env, e) {
				bad("env %q lacks %q", got.Env, e)
			}
		}
		for k, v := range c.Labels {
			if got.Labels[k] != v {
				bad("label %s = %q, want %q", k, got.Labels[k], v)
			}
		}
		for _, p := range c.ExposedPorts {
			if _, ok := got.ExposedPorts[p]; !ok {
				bad("exposed ports %v lack %s", got.ExposedPorts, p)
			}
		}
		if c.StopSignal != "" && got.StopSignal != c.StopSignal {
			bad("stop signal %q, want %q", got.StopSignal, c.StopSignal)
		}
	}
	for _, f := range x.Files {
		e, ok := files[f.Path]
		if !ok {
			bad("%s: missing", f.Path)
			continue
		}
		out = append(out, f.check(e, files)...)
	}
	for _, p := range x.Absent {
		if _, ok := files[p]; ok {
			bad("%s: present, want absent", p)
		}
	}
	return out
}

func (f FileExpect) check(e Entry, files map[string]Entry) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, f.Path+": "+fmt.Sprintf(format, args...)) }
	h := e.Header
	content := e.Content
	switch f.Type {
	case "file":
		if h.Typeflag != tar.TypeReg {
			bad("type %c, want a regular file", h.Typeflag)
		}
	case "dir":
		if h.Typeflag != tar.TypeDir {
			bad("type %c, want a folder", h.Typeflag)
		}
	case "symlink":
		if h.Typeflag != tar.TypeSymlink {
			bad("type %c, want a symbolic link", h.Typeflag)
		}
	case "hardlink-or-file":
		// Kaniko may store a hard link as a link entry or as a second copy;
		// either way the content must be the target's.
		if h.Typeflag == tar.TypeLink {
			content = files[filepath.Clean("/"+h.Linkname)].Content
		} else if h.Typeflag != tar.TypeReg {
			bad("type %c, want a hard link or a regular file", h.Typeflag)
		}
	default:
		bad("unknown expected type %q", f.Type)
	}
	if f.Mode != "" {
		want, err := strconv.ParseInt(f.Mode, 8, 64)
		if err != nil {
			bad("bad mode %q in expect.yaml", f.Mode)
		} else if got := h.Mode & 0o7777; got != want {
			bad("mode %04o, want %04o", got, want)
		}
	}
	if f.UID != nil && h.Uid != *f.UID {
		bad("uid %d, want %d", h.Uid, *f.UID)
	}
	if f.GID != nil && h.Gid != *f.GID {
		bad("gid %d, want %d", h.Gid, *f.GID)
	}
	if f.Link != "" && h.Linkname != f.Link {
		bad("link to %q, want %q", h.Linkname, f.Link)
	}
	if f.Content != "" && content != f.Content {
		bad("content %q, want %q", content, f.Content)
	}
	if f.Contains != "" && !strings.Contains(content, f.Contains) {
		bad("content %q lacks %q", content, f.Contains)
	}
	if f.Capability && !hasCapability(h) {
		bad("no security.capability xattr (PAX records %v)", h.PAXRecords)
	}
	return out
}

func hasCapability(h *tar.Header) bool {
	if _, ok := h.PAXRecords["SCHILY.xattr.security.capability"]; ok {
		return true
	}
	//lint:ignore SA1019 Kaniko writes the deprecated field; the reader fills both.
	_, ok := h.Xattrs["security.capability"]
	return ok
}
