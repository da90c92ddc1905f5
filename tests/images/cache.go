package images

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Cache keeps big layers (debootstrap roots, the Go toolchain) as .tar.gz
// files so they are made once per machine, not per test.
type Cache struct{ Dir string }

// DefaultCache is the images folder of the tool cache.
func DefaultCache() *Cache {
	if d := os.Getenv("LB_TOOLS_DIR"); d != "" {
		return &Cache{Dir: filepath.Join(d, "images")}
	}
	home, _ := os.UserHomeDir()
	return &Cache{Dir: filepath.Join(home, ".cache", "lambda-builder", "tools", "images")}
}

// Layer returns the layer cached as NAME-HASH(key).tar.gz, calling build to
// write it (gzipped tar) first when it is missing. A failed build leaves no file.
func (c *Cache) Layer(name, key string, build func(path string) error) (v1.Layer, error) {
	sum := sha256.Sum256([]byte(key))
	path := filepath.Join(c.Dir, fmt.Sprintf("%s-%s.tar.gz", name, hex.EncodeToString(sum[:6])))
	if _, err := os.Stat(path); err != nil {
		if err := os.MkdirAll(c.Dir, 0o755); err != nil {
			return nil, err
		}
		tmp := path + ".tmp"
		if err := build(tmp); err != nil {
			os.Remove(tmp)
			return nil, fmt.Errorf("building layer %s: %w", name, err)
		}
		if err := os.Rename(tmp, path); err != nil {
			return nil, err
		}
	}
	return tarball.LayerFromFile(path)
}

// WriteTarGzFile writes the tree under root, placed at prefix, as a gzipped tar.
func WriteTarGzFile(path, root, prefix string, skip func(rel string) bool) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	zw, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
	err = WriteDirTar(zw, root, prefix, skip)
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
