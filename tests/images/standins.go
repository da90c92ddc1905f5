package images

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// StandIn is a local image pushed under the path of the public image it
// replaces, so that only the registry host differs.
type StandIn struct {
	Refs  []string // repository:tag paths, without a registry
	Build func(ctx context.Context, c *Cache) (v1.Image, error)
	Note  string
}

// StandIns are the bases tests build on, by short name.
var StandIns = map[string]StandIn{
	"busybox": {
		Refs:  []string{"library/busybox:1.36", "library/busybox:latest"},
		Build: func(context.Context, *Cache) (v1.Image, error) { return Busybox() },
		Note:  "Debian busybox-static, nonroot 65532; seconds",
	},
	"busybox-nonroot": {
		Refs:  []string{"chainguard/busybox:latest"},
		Build: func(context.Context, *Cache) (v1.Image, error) { return BusyboxNonRoot() },
		Note:  "busybox running as nonroot 65532: Tekton's shell image under set-security-context",
	},
	"static": {
		Refs:  []string{"distroless/static-debian12:nonroot", "distroless/static:nonroot"},
		Build: func(context.Context, *Cache) (v1.Image, error) { return Static() },
		Note:  "CA certificates, tzdata, nonroot 65532, no shell; ko's base",
	},
	"python": {
		// 3.13-slim is render-dockerfile's default tag: the stand-in answers
		// to it too (Debian's Python is 3.11; the sample functions run on either).
		Refs: []string{"library/python:3.11-slim", "library/python:3.13-slim"},
		Build: func(ctx context.Context, c *Cache) (v1.Image, error) {
			return Debian(ctx, c, "python", []string{"python3", "python3-venv", "python-is-python3"}, []string{"LANG=C.UTF-8"}, []string{"python3"})
		},
		Note: "debootstrap bookworm + python3 3.11 and venv; minutes the first time",
	},
	"node": {
		// 24-slim is render-dockerfile's default tag (Debian's Node.js is 18).
		Refs: []string{"library/node:18-slim", "library/node:24-slim"},
		Build: func(ctx context.Context, c *Cache) (v1.Image, error) {
			return DebianWithApt(ctx, c, "node", []string{"nodejs"}, []string{"npm"}, nil, []string{"node"})
		},
		Note: "debootstrap bookworm + nodejs 18 and npm; minutes the first time",
	},
	"tini": {
		Refs:  []string{"tektoncd/plumbing/tini-git:latest"},
		Build: func(context.Context, *Cache) (v1.Image, error) { return Tini() },
		Note:  "static base + Debian's tini-static at /sbin/tini: Tekton's resolvers base (no git: the git resolver cannot clone)",
	},
	"golang": {
		Refs:  []string{"library/golang:1.26"},
		Build: GoToolchain,
		Note:  "busybox + this machine's Go at /usr/local/go, CGO off, GOTOOLCHAIN=local",
	},
}

// StandInNames lists the stand-ins in a stable order.
func StandInNames() []string {
	var names []string
	for n := range StandIns {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// PushStandIn builds the named stand-in and pushes it under each of its
// paths in registry (host:port). It returns the pushed references by digest.
func PushStandIn(ctx context.Context, c *Cache, registry, short string) ([]string, error) {
	s, ok := StandIns[short]
	if !ok {
		return nil, fmt.Errorf("unknown base image %q (have %v)", short, StandInNames())
	}
	img, err := s.Build(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("building %s: %w", short, err)
	}
	var out []string
	for _, path := range s.Refs {
		ref, err := Push(ctx, img, registry+"/"+path)
		if err != nil {
			return nil, err
		}
		out = append(out, ref)
	}
	return out, nil
}

// Push writes img to ref and returns ref's repository @ the image digest.
func Push(ctx context.Context, img v1.Image, ref string) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", err
	}
	if err := remote.Write(r, img, remote.WithContext(ctx)); err != nil {
		return "", fmt.Errorf("pushing %s: %w", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	return r.Context().Digest(d.String()).String(), nil
}

// WithBinaries adds Go binaries the way ko lays them out: each at
// /ko-app/NAME, the first one the entrypoint.
func WithBinaries(base v1.Image, binaries ...string) (v1.Image, error) {
	if len(binaries) == 0 {
		return nil, fmt.Errorf("no binaries")
	}
	layer, err := FileLayer(koAppFiles(binaries))
	if err != nil {
		return nil, err
	}
	return withKoApp(base, layer, binaries[0])
}

// WithBinaries is the package's WithBinaries with the binaries' layer kept in
// c, keyed by their content: gzipping 100 MB of Go binaries takes seconds,
// and the local cluster wraps a dozen of them on every start.
func (c *Cache) WithBinaries(base v1.Image, binaries ...string) (v1.Image, error) {
	if len(binaries) == 0 {
		return nil, fmt.Errorf("no binaries")
	}
	key := sha256.New()
	for _, b := range binaries {
		f, err := os.Open(b)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(key, "%s\n", baseName(b))
		_, err = io.Copy(key, f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", b, err)
		}
	}
	files := koAppFiles(binaries)
	layer, err := c.Layer("ko-app-"+baseName(binaries[0]), hex.EncodeToString(key.Sum(nil)), func(path string) error {
		return writeFilesTarGz(path, files)
	})
	if err != nil {
		return nil, err
	}
	return withKoApp(base, layer, binaries[0])
}

func koAppFiles(binaries []string) []File {
	files := []File{{Path: "/ko-app", Dir: true, Mode: 0o755}}
	for _, b := range binaries {
		files = append(files, File{Path: "/ko-app/" + baseName(b), Mode: 0o755, Source: b})
	}
	return files
}

// withKoApp appends the /ko-app layer and makes the first binary the
// entrypoint, with ko's KO_DATA_PATH.
func withKoApp(base v1.Image, layer v1.Layer, first string) (v1.Image, error) {
	img, err := mutate.AppendLayers(base, layer)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Config.Entrypoint = []string{"/ko-app/" + baseName(first)}
	cf.Config.Cmd = nil
	cf.Config.Env = append(cf.Config.Env, "KO_DATA_PATH=/var/run/ko")
	return mutate.ConfigFile(img, cf)
}

func baseName(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}
