package images

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// DebianMirror is where debootstrap fetches packages; apt's own mirror here.
var DebianMirror = envOr("LB_DEBIAN_MIRROR", "http://deb.debian.org/debian")

// DebianSuite is the release the language bases are made from.
const DebianSuite = "bookworm"

// Debian is a minbase Debian root with extra packages, made by debootstrap
// (root only, minutes the first time) and cached as one layer.
func Debian(ctx context.Context, cache *Cache, name string, packages, env, cmd []string) (v1.Image, error) {
	return DebianWithApt(ctx, cache, name, packages, nil, env, cmd)
}

// DebianWithApt is Debian plus packages installed afterwards by apt-get in
// the new root. debootstrap's own resolver ignores virtual packages (npm
// needs node-has, which only node-function-bind provides, and a dozen more
// like it), so what it cannot resolve goes through apt.
func DebianWithApt(ctx context.Context, cache *Cache, name string, packages, aptPackages, env, cmd []string) (v1.Image, error) {
	key := strings.Join(append([]string{"v1", DebianSuite, DebianMirror}, packages...), " ")
	if len(aptPackages) > 0 {
		key += " apt: " + strings.Join(aptPackages, " ")
	}
	layer, err := cache.Layer("debian-"+name, key, func(path string) error {
		root, err := os.MkdirTemp(filepath.Dir(path), "rootfs-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(root)
		args := []string{"--variant=minbase"}
		if len(packages) > 0 {
			args = append(args, "--include="+strings.Join(packages, ","))
		}
		args = append(args, DebianSuite, root, DebianMirror)
		cmd := exec.CommandContext(ctx, "debootstrap", args...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("debootstrap %s (needs root and Debian's debootstrap): %w\n%s", name, err, tailLines(string(out), 20))
		}
		if len(aptPackages) > 0 {
			if err := aptInstall(ctx, root, aptPackages); err != nil {
				return fmt.Errorf("apt-get install in the %s root: %w", name, err)
			}
		}
		return WriteTarGzFile(path, root, "", func(rel string) bool {
			// Downloaded packages and lists are build leftovers (74 MB of 250).
			return rel == "debootstrap" ||
				strings.HasPrefix(rel, "var/cache/apt/archives/") && strings.HasSuffix(rel, ".deb") ||
				strings.HasPrefix(rel, "var/lib/apt/lists/") && rel != "var/lib/apt/lists/partial"
		})
	})
	if err != nil {
		return nil, err
	}
	return imageOf([]v1.Layer{layer}, env, cmd, "")
}

// aptInstall installs packages in a debootstrapped root with its own apt,
// using the host's DNS settings for the download, then puts them back.
func aptInstall(ctx context.Context, root string, packages []string) error {
	resolv := filepath.Join(root, "etc/resolv.conf")
	old, readErr := os.ReadFile(resolv)
	host, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		return err
	}
	if err := os.WriteFile(resolv, host, 0o644); err != nil {
		return err
	}
	defer func() {
		if readErr == nil {
			os.WriteFile(resolv, old, 0o644)
		} else {
			os.Remove(resolv)
		}
	}()
	args := append([]string{root, "apt-get", "install", "-y", "-qq", "--no-install-recommends"}, packages...)
	cmd := exec.CommandContext(ctx, "chroot", args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%w\n%s", err, tailLines(string(out), 20))
	}
	return nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
