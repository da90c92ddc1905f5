package kanikotest

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/knative-lambda/lambda-builder/tests/images"
)

// SetcapRef is the path of the setcap base: busybox plus the host's
// setcap/getcap (Debian libcap2-bin) and the shared libraries they load.
const SetcapRef = "lambda-builder-test/setcap:1"

var lddPath = regexp.MustCompile(`(/[^ ]+\.so[^ ]*) \(0x`)

// SetcapBase is images.Busybox with setcap and getcap added.
func SetcapBase() (v1.Image, error) {
	base, err := images.Busybox()
	if err != nil {
		return nil, err
	}
	files := []images.File{{Path: "/usr/sbin", Dir: true, Mode: 0o755}}
	seen := map[string]bool{}
	for _, bin := range []string{"/usr/sbin/setcap", "/usr/sbin/getcap"} {
		out, err := exec.Command("ldd", bin).Output()
		if err != nil {
			return nil, fmt.Errorf("ldd %s (is Debian's libcap2-bin installed?): %w", bin, err)
		}
		files = append(files, images.File{Path: bin, Mode: 0o755, Source: bin})
		for _, m := range lddPath.FindAllStringSubmatch(string(out), -1) {
			if !seen[m[1]] {
				seen[m[1]] = true
				files = append(files, images.File{Path: m[1], Mode: 0o755, Source: m[1]})
			}
		}
	}
	for _, d := range []string{"/lib", "/lib64", "/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu"} {
		files = append(files, images.File{Path: d, Dir: true, Mode: 0o755})
	}
	l, err := images.FileLayer(files)
	if err != nil {
		return nil, err
	}
	return mutate.AppendLayers(base, l)
}

// Bases pushes stand-in base images to a registry once each.
type Bases struct {
	Registry string
	mu       sync.Mutex
	done     map[string]*sync.Once
	errs     map[string]error
}

// Need pushes the named bases (tests/images stand-ins, or "setcap").
func (b *Bases) Need(ctx context.Context, names ...string) error {
	for _, n := range names {
		b.mu.Lock()
		if b.done == nil {
			b.done, b.errs = map[string]*sync.Once{}, map[string]error{}
		}
		once := b.done[n]
		if once == nil {
			once = &sync.Once{}
			b.done[n] = once
		}
		b.mu.Unlock()
		once.Do(func() {
			var err error
			if n == "setcap" {
				var img v1.Image
				if img, err = SetcapBase(); err == nil {
					_, err = images.Push(ctx, img, b.Registry+"/"+SetcapRef)
				}
			} else {
				_, err = images.PushStandIn(ctx, images.DefaultCache(), b.Registry, n)
			}
			b.mu.Lock()
			b.errs[n] = err
			b.mu.Unlock()
		})
		b.mu.Lock()
		err := b.errs[n]
		b.mu.Unlock()
		if err != nil {
			return fmt.Errorf("base %s: %w", n, err)
		}
	}
	return nil
}
