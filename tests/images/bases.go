package images

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// NonRootUID is the uid distroless calls nonroot; every image we make runs as it.
const NonRootUID = 65532

const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// etcFiles are the passwd/group every base gets: root, nonroot (65532), nobody.
func etcFiles(shell string) []File {
	return []File{
		{Path: "/etc", Dir: true, Mode: 0o755},
		{Path: "/etc/passwd", Mode: 0o644, Content: []byte(fmt.Sprintf(
			"root:x:0:0:root:/root:%[1]s\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:%[2]d:%[2]d:nonroot:/home/nonroot:/sbin/nologin\n", shell, NonRootUID))},
		{Path: "/etc/group", Mode: 0o644, Content: []byte(fmt.Sprintf("root:x:0:\nnogroup:x:65534:\nnonroot:x:%[1]d:\n", NonRootUID))},
		{Path: "/root", Dir: true, Mode: 0o700},
		{Path: "/home", Dir: true, Mode: 0o755},
		{Path: "/home/nonroot", Dir: true, Mode: 0o700, UID: NonRootUID, GID: NonRootUID},
		{Path: "/tmp", Dir: true, Mode: 0o1777},
	}
}

// withConfig sets what every base shares: the platform, PATH, and env.
func withConfig(img v1.Image, env []string, cmd []string, user string) (v1.Image, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Config.Env = append([]string{"PATH=" + defaultPath}, env...)
	cf.Config.Cmd = cmd
	cf.Config.User = user
	return mutate.ConfigFile(img, cf)
}

func imageOf(layers []v1.Layer, env, cmd []string, user string) (v1.Image, error) {
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		return nil, err
	}
	return withConfig(img, env, cmd, user)
}

// BusyboxBinary is where Debian's busybox-static installs its static binary.
const BusyboxBinary = "/bin/busybox"

// Busybox is a small shell image: the static busybox with its applets linked,
// passwd/group with nonroot 65532, and /tmp.
func Busybox() (v1.Image, error) {
	layer, err := busyboxLayer()
	if err != nil {
		return nil, err
	}
	return imageOf([]v1.Layer{layer}, nil, []string{"sh"}, "")
}

// BusyboxNonRoot is Busybox running as nonroot 65532 (like Chainguard's
// busybox): Tekton's shell image, whose init container set-security-context
// marks runAsNonRoot.
func BusyboxNonRoot() (v1.Image, error) {
	layer, err := busyboxLayer()
	if err != nil {
		return nil, err
	}
	return imageOf([]v1.Layer{layer}, nil, []string{"sh"}, fmt.Sprint(NonRootUID))
}

func busyboxLayer() (v1.Layer, error) {
	out, err := exec.Command(BusyboxBinary, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("listing busybox applets (is Debian's busybox-static installed?): %w", err)
	}
	files := append(etcFiles("/bin/sh"),
		File{Path: "/bin", Dir: true, Mode: 0o755}, File{Path: "/sbin", Dir: true, Mode: 0o755},
		File{Path: "/usr", Dir: true, Mode: 0o755}, File{Path: "/usr/bin", Dir: true, Mode: 0o755},
		File{Path: "/usr/sbin", Dir: true, Mode: 0o755},
		File{Path: "/bin/busybox", Mode: 0o755, Source: BusyboxBinary})
	for _, applet := range strings.Fields(string(out)) {
		if applet == "bin/busybox" {
			continue
		}
		files = append(files, File{Path: "/" + applet, Linkname: "/bin/busybox", Mode: 0o777})
	}
	return FileLayer(files)
}

// Static is a distroless-like base for static binaries: CA certificates,
// tzdata, passwd/group, /tmp, no shell, user nonroot. It is ko's base image.
func Static() (v1.Image, error) {
	files := append(etcFiles("/sbin/nologin"),
		File{Path: "/etc/ssl", Dir: true, Mode: 0o755}, File{Path: "/etc/ssl/certs", Dir: true, Mode: 0o755},
		File{Path: "/etc/ssl/certs/ca-certificates.crt", Mode: 0o644, Source: "/etc/ssl/certs/ca-certificates.crt"})
	zoneinfo, err := treeFiles("/usr/share/zoneinfo")
	if err != nil {
		return nil, fmt.Errorf("tzdata (is Debian's tzdata installed?): %w", err)
	}
	files = append(files, zoneinfo...)
	layer, err := FileLayer(files)
	if err != nil {
		return nil, err
	}
	return imageOf([]v1.Layer{layer}, []string{"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"}, nil, fmt.Sprint(NonRootUID))
}

// TiniBinary is where Debian's tini installs its static build.
const TiniBinary = "/usr/bin/tini-static"

// Tini is Static with tini at /sbin/tini, the init Tekton's resolvers image
// runs under (its release base is tini-git).
func Tini() (v1.Image, error) {
	base, err := Static()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(TiniBinary); err != nil {
		return nil, fmt.Errorf("tini (is Debian's tini installed?): %w", err)
	}
	layer, err := FileLayer([]File{
		{Path: "/sbin", Dir: true, Mode: 0o755},
		{Path: "/sbin/tini", Mode: 0o755, Source: TiniBinary},
	})
	if err != nil {
		return nil, err
	}
	return mutate.AppendLayers(base, layer)
}

// treeFiles lists a host tree as layer entries at the same paths.
func treeFiles(root string) ([]File, error) {
	var files []File
	for _, dir := range parents(root) {
		files = append(files, File{Path: dir, Dir: true, Mode: 0o755})
	}
	err := filepath.Walk(root, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		switch {
		case fi.IsDir():
			files = append(files, File{Path: path, Dir: true, Mode: 0o755})
		case fi.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			files = append(files, File{Path: path, Linkname: target, Mode: 0o777})
		case fi.Mode().IsRegular():
			files = append(files, File{Path: path, Mode: 0o644, Source: path})
		}
		return nil
	})
	return files, err
}

// parents of /a/b/c are /a and /a/b.
func parents(p string) []string {
	var out []string
	for d := filepath.Dir(p); d != "/" && d != "."; d = filepath.Dir(d) {
		out = append([]string{d}, out...)
	}
	return out
}

// GoToolchain is busybox plus this machine's Go at /usr/local/go: the
// golang builder image for Go functions (CGO off, no toolchain download).
func GoToolchain(ctx context.Context, cache *Cache) (v1.Image, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOROOT").Output()
	if err != nil {
		return nil, fmt.Errorf("locating the Go toolchain (go env GOROOT): %w", err)
	}
	goroot := strings.TrimSpace(string(out))
	version, err := os.ReadFile(filepath.Join(goroot, "VERSION"))
	if err != nil {
		return nil, fmt.Errorf("reading the Go toolchain version: %w", err)
	}
	key := strings.SplitN(string(version), "\n", 2)[0]
	goLayer, err := cache.Layer("go-toolchain", key, func(path string) error {
		return WriteTarGzFile(path, goroot, "usr/local/go", func(rel string) bool {
			return rel == "test" || rel == "doc" // not needed to build, 21 MB
		})
	})
	if err != nil {
		return nil, err
	}
	bb, err := busyboxLayer()
	if err != nil {
		return nil, err
	}
	env := []string{"GOROOT=/usr/local/go", "GOPATH=/go", "GOTOOLCHAIN=local", "CGO_ENABLED=0", "HOME=/root"}
	img, err := imageOf([]v1.Layer{bb, goLayer}, env, []string{"sh"}, "")
	if err != nil {
		return nil, err
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.Config.Env[0] = "PATH=/go/bin:/usr/local/go/bin:" + defaultPath
	return mutate.ConfigFile(img, cf)
}
