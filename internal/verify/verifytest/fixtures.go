// Package verifytest crafts the images verify-image is tested against, one
// per way an image can fail, and checks what the step said about each. The
// unit tests (in-process registry), the integration tests (a real
// distribution registry) and the benchmark share it, so every suite holds
// the same images to the same expectations.
package verifytest

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// File is one tar entry of a crafted layer.
type File struct {
	Path string
	Body string
	Type byte // tar.TypeReg when zero
}

// Layer is a gzip layer holding files, built with the tarball package.
func Layer(files ...File) (v1.Layer, error) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, f := range files {
		typ := f.Type
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: f.Path, Typeflag: typ, Mode: 0o644, ModTime: time.Unix(0, 0)}
		if typ == tar.TypeReg {
			h.Size = int64(len(f.Body))
		}
		if typ == tar.TypeDir {
			h.Mode = 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := io.WriteString(tw, f.Body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := b.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
}

// Spec describes an image to craft.
type Spec struct {
	Layers     []v1.Layer
	User       string
	Entrypoint []string
	Cmd        []string
	OS, Arch   string
	Labels     map[string]string
	// EditConfig changes the config after everything else (to break it).
	EditConfig func(*v1.ConfigFile)
}

// Build assembles the image with mutate.
func (s Spec) Build() (v1.Image, error) {
	img, err := mutate.AppendLayers(empty.Image, s.Layers...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = s.OS, s.Arch
	cf.Config.User = s.User
	cf.Config.Entrypoint = s.Entrypoint
	cf.Config.Cmd = s.Cmd
	cf.Config.Labels = s.Labels
	cf.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	if s.EditConfig != nil {
		s.EditConfig(cf)
	}
	return mutate.ConfigFile(img, cf)
}

// SourceLabel is the label policy may require (REQUIRED_LABELS).
const SourceLabel = "org.opencontainers.image.source"

// Passwd is an /etc/passwd with root and the nonroot user 65532.
const Passwd = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"

// BaseLayer is a small base: /etc/passwd and a binary-looking file.
func BaseLayer() (v1.Layer, error) {
	return Layer(File{Path: "etc/", Type: tar.TypeDir}, File{Path: "etc/passwd", Body: Passwd}, File{Path: "bin/", Type: tar.TypeDir}, File{Path: "bin/app", Body: strings.Repeat("\x7fELF", 256)})
}

// AppLayer is the function's code, with files whose names are close to
// secret ones but harmless (a .npmrc without a token, a .env.example).
func AppLayer() (v1.Layer, error) {
	return Layer(
		File{Path: "app/", Type: tar.TypeDir},
		File{Path: "app/main.py", Body: "def handler(event, ctx):\n    return {'ok': True}\n"},
		File{Path: "app/.npmrc", Body: "registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n"},
		File{Path: "app/.env.example", Body: "API_KEY=\n"},
		File{Path: "app/.pypirc", Body: "[distutils]\nindex-servers = pypi\n[pypi]\nusername = __token__\n"},
	)
}

// Clean is an image every check passes with the default policy and with
// REQUIRED_LABELS=org.opencontainers.image.source.
func Clean() Spec {
	return Spec{
		Layers:     []v1.Layer{must(BaseLayer()), must(AppLayer())},
		User:       "65532:65532",
		Entrypoint: []string{"/bin/app"},
		Cmd:        []string{"serve"},
		OS:         "linux",
		Arch:       "amd64",
		Labels:     map[string]string{SourceLabel: "https://github.com/example/fn"},
	}
}

// must is for the fixed fixtures below: building them only fails on a bug.
func must(l v1.Layer, err error) v1.Layer {
	if err != nil {
		panic(err)
	}
	return l
}

// Tamper is what happens in the registry after the push.
type Tamper int

const (
	NoTamper     Tamper = iota
	MoveTag             // another image is pushed to the same tag
	CorruptLayer        // the stored bytes of the last layer (the case's own) change: storage corruption
)

// Case is one crafted image and what verify-image must report about it.
type Case struct {
	Name   string
	Build  func() (remote.Taggable, error) // a v1.Image or a v1.ImageIndex
	Env    map[string]string               // config on top of IMAGE_URL and IMAGE_DIGEST
	Tamper Tamper
	Fails  string // the one check that must fail; "" when all pass
	Detail string // a substring the failing (or, when passing, the manifest) detail holds
}

func image(s Spec) func() (remote.Taggable, error) {
	return func() (remote.Taggable, error) { return s.Build() }
}

func with(edit func(*Spec)) Spec {
	s := Clean()
	edit(&s)
	return s
}

// Cases lists the clean image and one crafted image per failing check.
func Cases() []Case {
	return []Case{
		{Name: "clean", Build: image(Clean()), Env: map[string]string{"REQUIRED_LABELS": SourceLabel}, Detail: "layers"},
		{Name: "clean index", Build: index(platformImage("linux", "amd64"), platformImage("linux", "arm64")), Detail: "-> linux/amd64"},
		{Name: "tag moved to another digest", Build: image(Clean()), Tamper: MoveTag, Fails: "tag-digest", Detail: "points to"},
		{Name: "index without the platform", Build: index(platformImage("linux", "arm64"), platformImage("linux", "s390x")), Fails: "manifest", Detail: "no image for linux/amd64"},
		// Blobs are shared by digest across repositories: the corrupted layer is this case's own.
		{Name: "layer bytes do not match the digest", Build: image(with(func(s *Spec) { s.Layers = append(s.Layers, randomLayer(64<<10)) })), Tamper: CorruptLayer, Fails: "content", Detail: "error verifying sha256"},
		{Name: "diff_id does not match the layer", Build: image(with(func(s *Spec) {
			s.EditConfig = func(cf *v1.ConfigFile) { cf.RootFS.DiffIDs[1] = cf.RootFS.DiffIDs[0] }
		})), Fails: "content", Detail: "diff_id"},
		{Name: "root user", Build: image(with(func(s *Spec) { s.User = "root" })), Fails: "config-user", Detail: `USER is "root"`},
		{Name: "no user", Build: image(with(func(s *Spec) { s.User = "" })), Fails: "config-user", Detail: "no USER"},
		{Name: "user named but uid 0", Build: image(with(func(s *Spec) {
			s.User = "admin"
			s.Layers = append(s.Layers, must(Layer(File{Path: "etc/passwd", Body: Passwd + "admin:x:0:0::/root:/bin/sh\n"})))
		})), Fails: "config-user", Detail: "uid 0"},
		{Name: "no entrypoint", Build: image(with(func(s *Spec) { s.Entrypoint, s.Cmd = nil, nil })), Fails: "config-entrypoint", Detail: "neither ENTRYPOINT nor CMD"},
		{Name: "wrong platform", Build: image(with(func(s *Spec) { s.Arch = "arm64" })), Fails: "platform", Detail: "image is linux/arm64, want linux/amd64"},
		{Name: "oversize", Build: image(with(func(s *Spec) { s.Layers = append(s.Layers, randomLayer(2<<20)) })),
			Env: map[string]string{"MAX_IMAGE_BYTES": fmt.Sprint(1 << 20)}, Fails: "size", Detail: "over MAX_IMAGE_BYTES=1048576"},
		{Name: "too many layers", Build: image(with(func(s *Spec) {
			for i := range 4 {
				s.Layers = append(s.Layers, must(Layer(File{Path: fmt.Sprintf("data/%d", i), Body: "x"})))
			}
		})), Env: map[string]string{"MAX_LAYERS": "5"}, Fails: "size", Detail: "6 layers, over MAX_LAYERS=5"},
		{Name: "required label missing", Build: image(with(func(s *Spec) { s.Labels = nil })),
			Env: map[string]string{"REQUIRED_LABELS": SourceLabel}, Fails: "labels", Detail: SourceLabel},
		{Name: "aws credentials in a lower layer, deleted above", Build: image(with(func(s *Spec) {
			s.Layers = append(s.Layers,
				must(Layer(File{Path: "root/.aws/credentials", Body: "[default]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = " + SecretValue + "\n"})),
				must(Layer(File{Path: "root/.aws/.wh.credentials"})))
		})), Fails: "secrets", Detail: `: AWS credentials at "root/.aws/credentials"`},
		{Name: "npm token", Build: image(with(func(s *Spec) {
			s.Layers = append(s.Layers, must(Layer(File{Path: "home/app/.npmrc", Body: "//registry.npmjs.org/:_authToken=" + SecretValue + "\n"})))
		})), Fails: "secrets", Detail: `npm auth token`},
	}
}

// SecretValue is the fake credential inside secret fixtures: it must never
// appear in the step's output.
const SecretValue = "s3cr3t-FIXTURE-do-not-print"

func platformImage(os, arch string) Spec {
	s := Clean()
	s.OS, s.Arch = os, arch
	return s
}

func index(specs ...Spec) func() (remote.Taggable, error) {
	return func() (remote.Taggable, error) {
		var adds []mutate.IndexAddendum
		for _, s := range specs {
			img, err := s.Build()
			if err != nil {
				return nil, err
			}
			adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: s.OS, Architecture: s.Arch}}})
		}
		return mutate.IndexMediaType(mutate.AppendManifests(empty.Index, adds...), types.OCIImageIndex), nil
	}
}

// randomLayer is incompressible: its compressed size is its size.
func randomLayer(size int64) v1.Layer {
	l, err := random.Layer(size, types.DockerLayer, random.WithSource(rand.NewSource(int64(size))))
	if err != nil {
		panic(err)
	}
	return l
}

// Pushed is a case in a registry.
type Pushed struct {
	Ref     name.Tag
	Digest  v1.Hash // what the build "reported": IMAGE_DIGEST
	Corrupt v1.Hash // the layer whose stored bytes the test must corrupt (CorruptLayer)
}

// PushTo writes the case's image to host/repo:1, applies MoveTag, and
// returns the step's environment for it: IMAGE_URL, IMAGE_DIGEST and the
// case's Env. Corrupting stored bytes depends on the registry: the caller
// does it with Pushed.Corrupt.
func PushTo(t testing.TB, host, repo string, c Case) (map[string]string, Pushed) {
	t.Helper()
	ref, err := name.NewTag(host + "/" + repo + ":1")
	if err != nil {
		t.Fatal(err)
	}
	p, err := push(context.Background(), ref, c)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"IMAGE_URL": ref.String(), "IMAGE_DIGEST": p.Digest.String()}
	for k, v := range c.Env {
		env[k] = v
	}
	return env, p
}

func push(ctx context.Context, ref name.Tag, c Case) (Pushed, error) {
	opts := []remote.Option{remote.WithContext(ctx)}
	t, err := c.Build()
	if err != nil {
		return Pushed{}, fmt.Errorf("building %s: %w", c.Name, err)
	}
	p := Pushed{Ref: ref}
	if p.Digest, err = digestOf(t); err != nil {
		return p, err
	}
	if err := remote.Push(ref, t, opts...); err != nil {
		return p, fmt.Errorf("pushing %s: %w", c.Name, err)
	}
	switch c.Tamper {
	case MoveTag:
		other, err := with(func(s *Spec) { s.Cmd = []string{"pushed", "by", "someone", "else"} }).Build()
		if err != nil {
			return p, err
		}
		if err := remote.Write(ref, other, opts...); err != nil {
			return p, fmt.Errorf("moving the tag: %w", err)
		}
	case CorruptLayer:
		img, ok := t.(v1.Image)
		if !ok {
			return p, fmt.Errorf("%s: CorruptLayer needs an image", c.Name)
		}
		ls, err := img.Layers()
		if err != nil {
			return p, err
		}
		if p.Corrupt, err = ls[len(ls)-1].Digest(); err != nil {
			return p, err
		}
	}
	return p, nil
}

func digestOf(t remote.Taggable) (v1.Hash, error) {
	switch t := t.(type) {
	case v1.Image:
		return t.Digest()
	case v1.ImageIndex:
		return t.Digest()
	}
	return v1.Hash{}, fmt.Errorf("cannot digest %T", t)
}

// Corrupt flips bytes in the middle of a blob, keeping its length, as
// storage corruption would.
func Corrupt(b []byte) {
	for i := len(b) / 2; i < len(b)/2+8 && i < len(b); i++ {
		b[i] ^= 0xff
	}
}

// Outcome is what the step left behind: its exit code, its stderr line,
// its VERIFIED and REPORT results (empty when not written).
type Outcome struct {
	Code     int
	Stderr   string
	Verified string
	Report   string
	Stdout   string
}

type result struct {
	Check   string `json:"check"`
	OK      bool   `json:"ok"`
	Skipped string `json:"skipped"`
	Detail  string `json:"detail"`
}

// Checks are the nine check names REPORT must always hold, in order.
var Checks = []string{"tag-digest", "manifest", "content", "config-user", "config-entrypoint", "platform", "size", "labels", "secrets"}

// Check says what is wrong with the outcome of a case, or nil: exactly the
// expected check failed (and it failed for the expected reason; checks it
// blocked may be "not run"), or none did; results were written either way;
// secrets were never printed.
func (c Case) Check(o Outcome) error {
	var rs []result
	if err := json.Unmarshal([]byte(o.Report), &rs); err != nil {
		return fmt.Errorf("REPORT is not a JSON array (%v): %q; stderr %q", err, o.Report, o.Stderr)
	}
	var names, failed []string
	var detail string
	for _, r := range rs {
		names = append(names, r.Check)
		if !r.OK && r.Skipped != "blocked" {
			failed = append(failed, r.Check)
		}
		if (c.Fails == "" && r.Check == "manifest") || r.Check == c.Fails {
			detail = r.Detail
		}
	}
	switch {
	case strings.Join(names, ",") != strings.Join(Checks, ","):
		return fmt.Errorf("REPORT checks = %v, want %v", names, Checks)
	case c.Fails == "" && (len(failed) != 0 || o.Verified != "true" || o.Code != 0 || o.Stderr != ""):
		return fmt.Errorf("want every check to pass; failed %v, VERIFIED %q, exit %d, stderr %q, report %s", failed, o.Verified, o.Code, o.Stderr, o.Report)
	case c.Fails != "" && (strings.Join(failed, ",") != c.Fails || o.Verified != "false" || o.Code != 5):
		return fmt.Errorf("want only %s to fail with exit 5; failed %v, VERIFIED %q, exit %d, report %s", c.Fails, failed, o.Verified, o.Code, o.Report)
	case c.Fails != "" && !strings.Contains(o.Stderr, c.Fails) || strings.Count(o.Stderr, "\n") > 1:
		return fmt.Errorf("stderr must be one line naming %s: %q", c.Fails, o.Stderr)
	case !strings.Contains(detail, c.Detail):
		return fmt.Errorf("detail of %s = %q, want it to mention %q", c.Fails, detail, c.Detail)
	}
	for _, out := range []string{o.Report, o.Stderr, o.Stdout} {
		if strings.Contains(out, SecretValue) {
			return fmt.Errorf("the secret value leaked into the output: %q", out)
		}
	}
	return nil
}
