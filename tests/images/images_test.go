package images

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// entries flattens an image into path -> header (and content for small files).
func entries(t *testing.T, img v1.Image) (map[string]*tar.Header, map[string]string) {
	t.Helper()
	// validate.Image is not used here: on an in-memory mutate image it trips on
	// nil vs empty layer annotations; pushed images are validated where pulled.
	if _, err := img.Digest(); err != nil {
		t.Fatal(err)
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	hdrs, contents := map[string]*tar.Header{}, map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := "/" + strings.TrimSuffix(h.Name, "/")
		hdrs[name] = h
		if h.Typeflag == tar.TypeReg && h.Size < 4096 {
			b, _ := io.ReadAll(tr)
			contents[name] = string(b)
		}
	}
	return hdrs, contents
}

func TestBusybox(t *testing.T) {
	img, err := Busybox()
	if err != nil {
		t.Fatal(err)
	}
	hdrs, contents := entries(t, img)
	if h := hdrs["/bin/sh"]; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != "/bin/busybox" {
		t.Errorf("/bin/sh = %+v, want a symlink to /bin/busybox", h)
	}
	if h := hdrs["/tmp"]; h == nil || h.Mode&0o1777 != 0o1777 {
		t.Errorf("/tmp = %+v, want mode 1777", h)
	}
	if !strings.Contains(contents["/etc/passwd"], "nonroot:x:65532:65532:") {
		t.Errorf("/etc/passwd lacks nonroot 65532:\n%s", contents["/etc/passwd"])
	}
	if h := hdrs["/home/nonroot"]; h == nil || h.Uid != NonRootUID {
		t.Errorf("/home/nonroot = %+v, want owned by 65532", h)
	}
	cf, _ := img.ConfigFile()
	if cf.OS != "linux" || cf.Architecture == "" || !strings.HasPrefix(cf.Config.Env[0], "PATH=") {
		t.Errorf("config = %+v", cf.Config)
	}
}

func TestStatic(t *testing.T) {
	img, err := Static()
	if err != nil {
		t.Fatal(err)
	}
	hdrs, _ := entries(t, img)
	for _, p := range []string{"/etc/ssl/certs/ca-certificates.crt", "/usr/share/zoneinfo/UTC", "/etc/passwd"} {
		if hdrs[p] == nil {
			t.Errorf("missing %s", p)
		}
	}
	if hdrs["/bin/sh"] != nil {
		t.Error("the static base must not have a shell")
	}
	cf, _ := img.ConfigFile()
	if cf.Config.User != "65532" {
		t.Errorf("user = %q, want 65532", cf.Config.User)
	}
}

func TestLayersAreReproducible(t *testing.T) {
	a, err := Busybox()
	if err != nil {
		t.Fatal(err)
	}
	b, err := Busybox()
	if err != nil {
		t.Fatal(err)
	}
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Errorf("two builds differ: %s vs %s", da, db)
	}
}

func TestWithBinaries(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "nop")
	if err := os.WriteFile(bin, []byte("\x7fELF fake"), 0o755); err != nil {
		t.Fatal(err)
	}
	base, err := Static()
	if err != nil {
		t.Fatal(err)
	}
	img, err := WithBinaries(base, bin)
	if err != nil {
		t.Fatal(err)
	}
	hdrs, _ := entries(t, img)
	if h := hdrs["/ko-app/nop"]; h == nil || h.Mode&0o111 == 0 {
		t.Errorf("/ko-app/nop = %+v, want an executable", h)
	}
	cf, _ := img.ConfigFile()
	if len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != "/ko-app/nop" || cf.Config.User != "65532" {
		t.Errorf("config = %+v", cf.Config)
	}
}

func TestCacheBuildsOnceAndCleansFailures(t *testing.T) {
	c := &Cache{Dir: t.TempDir()}
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	builds := 0
	build := func(path string) error { builds++; return WriteTarGzFile(path, src, "data", nil) }
	for range 2 {
		if _, err := c.Layer("demo", "k1", build); err != nil {
			t.Fatal(err)
		}
	}
	if builds != 1 {
		t.Errorf("built %d times, want once", builds)
	}
	if _, err := c.Layer("broken", "k", func(path string) error {
		os.WriteFile(path, []byte("partial"), 0o644)
		return io.ErrUnexpectedEOF
	}); err == nil {
		t.Fatal("a failed build returned a layer")
	}
	matches, _ := filepath.Glob(filepath.Join(c.Dir, "broken-*"))
	if len(matches) != 0 {
		t.Errorf("a failed build left %v", matches)
	}
}

func TestCacheWithBinariesKeysOnContent(t *testing.T) {
	c := &Cache{Dir: t.TempDir()}
	bin := filepath.Join(t.TempDir(), "controller")
	base, err := Static()
	if err != nil {
		t.Fatal(err)
	}
	build := func(content string) v1.Image {
		t.Helper()
		if err := os.WriteFile(bin, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
		img, err := c.WithBinaries(base, bin)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	diffID := func(img v1.Image) v1.Hash {
		t.Helper()
		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		h, err := layers[len(layers)-1].DiffID()
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	first := build("\x7fELF one")
	hdrs, contents := entries(t, first)
	if h := hdrs["/ko-app/controller"]; h == nil || h.Mode&0o111 == 0 || contents["/ko-app/controller"] != "\x7fELF one" {
		t.Errorf("/ko-app/controller = %+v %q, want the binary, executable", h, contents["/ko-app/controller"])
	}
	if cf, _ := first.ConfigFile(); cf.Config.Entrypoint[0] != "/ko-app/controller" {
		t.Errorf("entrypoint = %v", cf.Config.Entrypoint)
	}
	uncached, err := WithBinaries(base, bin)
	if err != nil {
		t.Fatal(err)
	}
	if diffID(first) != diffID(uncached) {
		t.Errorf("cached layer content differs from WithBinaries'")
	}
	again := build("\x7fELF one")
	changed := build("\x7fELF two")
	if diffID(again) != diffID(first) || diffID(changed) == diffID(first) {
		t.Errorf("diff IDs: first %s, same content %s, new content %s", diffID(first), diffID(again), diffID(changed))
	}
	if files, _ := filepath.Glob(filepath.Join(c.Dir, "ko-app-controller-*")); len(files) != 2 {
		t.Errorf("cache holds %v, want one layer per binary content", files)
	}
}

func TestTini(t *testing.T) {
	img, err := Tini()
	if err != nil {
		t.Fatal(err)
	}
	hdrs, _ := entries(t, img)
	if h := hdrs["/sbin/tini"]; h == nil || h.Mode&0o111 == 0 || h.Size == 0 {
		t.Errorf("/sbin/tini = %+v, want an executable", h)
	}
	if hdrs["/etc/ssl/certs/ca-certificates.crt"] == nil {
		t.Error("tini base lacks the static base's CA certificates")
	}
	if cf, _ := img.ConfigFile(); cf.Config.User != "65532" {
		t.Errorf("user = %q, want 65532", cf.Config.User)
	}
}

func TestBusyboxNonRootRunsAs65532(t *testing.T) {
	img, err := BusyboxNonRoot()
	if err != nil {
		t.Fatal(err)
	}
	hdrs, _ := entries(t, img)
	if hdrs["/bin/sh"] == nil {
		t.Error("no /bin/sh")
	}
	if cf, _ := img.ConfigFile(); cf.Config.User != "65532" {
		t.Errorf("user = %q, want 65532 (runAsNonRoot needs a numeric non-root user)", cf.Config.User)
	}
}
