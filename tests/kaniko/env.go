package kanikotest

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"golang.org/x/sys/unix"

	"github.com/knative-lambda/lambda-builder/catalog/kaniko"
	"github.com/knative-lambda/lambda-builder/tests/harness"
)

// Env is one test process's Kaniko setup: the executor image, built from the
// tool cache's binaries and this checkout's step, pushed to a registry and
// unpacked once as the read-only lower layer of every run.
type Env struct {
	Registry *harness.Registry
	ImageRef string // repository@digest of the executor image
	Runner   *Runner
}

// StateParent holds one folder per test process (lbk-PID): runc state,
// bundles, the unpacked executor image.
func StateParent() string { return filepath.Join(os.TempDir(), "lbk-kaniko") }

// ProcessDir is this process's folder under StateParent.
func ProcessDir() string {
	return filepath.Join(StateParent(), fmt.Sprintf("%s%d", Prefix, os.Getpid()))
}

// Setup builds and pushes the executor image and prepares the runner. The
// caller's cleanup removes the process folder.
func Setup(t testing.TB, reg *harness.Registry) *Env {
	t.Helper()
	ctx := context.Background()
	SweepStale(StateParent())
	dir := ProcessDir()
	for _, d := range []string{"runc", "work", "lower", "bin"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		CleanupAll()
		os.RemoveAll(dir)
	})
	step := filepath.Join(dir, "bin", "kaniko-build")
	if err := kaniko.BuildStep(ctx, step); err != nil {
		t.Fatal(err)
	}
	img, err := kaniko.Image(kaniko.Binaries{
		Executor: harness.Tool(t, "kaniko-executor"),
		ECRLogin: harness.Tool(t, "docker-credential-ecr-login"),
		Step:     step,
		CACerts:  "/etc/ssl/certs/ca-certificates.crt",
	})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewTag(reg.Host + "/lambda-builder/kaniko-executor:test")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	lower := filepath.Join(dir, "lower")
	if err := Unpack(img, lower); err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return &Env{
		Registry: reg,
		ImageRef: ref.Context().Digest(d.String()).String(),
		Runner:   &Runner{Runc: harness.Tool(t, Runc), Root: filepath.Join(dir, "runc"), Work: filepath.Join(dir, "work"), Lower: lower, Image: cf.Config},
	}
}

// Unpack writes the image's flattened file system under dir with its owners
// and modes: folders, regular files, symbolic and hard links. Device files
// are skipped (runc makes /dev).
func Unpack(img v1.Image, dir string) error {
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	var links []*tar.Header // made last: their targets may come later
	for {
		h, err := tr.Next()
		if err == io.EOF {
			for _, l := range links {
				if err := os.Link(filepath.Join(dir, filepath.Clean("/"+l.Linkname)), filepath.Join(dir, filepath.Clean("/"+l.Name))); err != nil {
					return err
				}
			}
			return nil
		}
		if err != nil {
			return err
		}
		rel := filepath.Clean("/" + h.Name)
		if strings.Contains(h.Name, "..") {
			return fmt.Errorf("unsafe path %q in the executor image", h.Name)
		}
		p := filepath.Join(dir, rel)
		// Extract goes from the top layer down: parents may come later.
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, os.FileMode(h.Mode).Perm())
		case tar.TypeReg:
			var f *os.File
			if f, err = os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode).Perm()); err == nil {
				_, err = io.Copy(f, tr)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
		case tar.TypeSymlink:
			err = os.Symlink(h.Linkname, p)
		case tar.TypeLink:
			if strings.Contains(h.Linkname, "..") {
				return fmt.Errorf("unsafe link %q in the image", h.Linkname)
			}
			links = append(links, h)
			continue
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			continue
		default:
			return fmt.Errorf("%s: tar entry type %c not expected", h.Name, h.Typeflag)
		}
		if err != nil {
			return err
		}
		if err := os.Lchown(p, h.Uid, h.Gid); err != nil {
			return err
		}
		if h.Typeflag == tar.TypeReg && hasCapability(h) {
			//lint:ignore SA1019 the reader fills Xattrs from SCHILY.xattr records
			if err := unix.Lsetxattr(p, "security.capability", []byte(h.Xattrs["security.capability"]), 0); err != nil {
				return err
			}
		}
		if h.Typeflag != tar.TypeSymlink {
			if err := os.Chmod(p, os.FileMode(h.Mode).Perm()|modeBits(h.Mode)); err != nil {
				return err
			}
		}
	}
}

func modeBits(m int64) os.FileMode {
	var out os.FileMode
	if m&0o4000 != 0 {
		out |= os.ModeSetuid
	}
	if m&0o2000 != 0 {
		out |= os.ModeSetgid
	}
	if m&0o1000 != 0 {
		out |= os.ModeSticky
	}
	return out
}

// Build is one TaskRun of the Task: its params (BUILDER_IMAGE defaults to
// the executor image under test) and the host folders of its workspaces.
type Build struct {
	Params       map[string]pipelinev1.ParamValue
	Source       string // the source workspace
	DockerConfig string // the optional dockerconfig workspace, "" when unbound
	// Adjust changes the resolved step before it runs: only the capability
	// measurements use it, to run the corpus with one capability less.
	Adjust func(*Step)
}

// Run resolves the Task's Kaniko step for b with Tekton's substitution and
// runs it. Each emptyDir volume of the Task gets a fresh folder.
func (e *Env) Run(ctx context.Context, t testing.TB, b Build) *Outcome {
	t.Helper()
	task, err := LoadTask(filepath.Join(RepoRoot(t), TaskPath))
	if err != nil {
		t.Fatal(err)
	}
	params := map[string]pipelinev1.ParamValue{"BUILDER_IMAGE": String(e.ImageRef)}
	for k, v := range b.Params {
		params[k] = v
	}
	volumes := map[string]string{"source": b.Source}
	bound := []string{"source"}
	if b.DockerConfig != "" {
		volumes["dockerconfig"] = b.DockerConfig
		bound = append(bound, "dockerconfig")
	}
	for name := range EmptyDirs(task) {
		volumes[name] = t.TempDir()
	}
	st, err := ResolveStep(task, params, bound)
	if err != nil {
		t.Fatal(err)
	}
	if b.Adjust != nil {
		b.Adjust(st)
	}
	if st.Image != e.ImageRef {
		t.Fatalf("the step runs image %q, want the executor under test %q", st.Image, e.ImageRef)
	}
	out, err := e.Runner.Run(ctx, Run{Step: st, Volumes: volumes, Results: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// RepoRoot is the folder holding go.mod above the test's working directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}
