package verify

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sethvargo/go-envconfig"

	"github.com/knative-lambda/lambda-builder/internal/step"
)

// Config is the step's whole configuration, read from the environment (the
// Task passes every param through env). Every policy knob has a default and
// a value that switches it off: false, 0 or empty.
type Config struct {
	ImageURL    string `env:"IMAGE_URL, required"`
	ImageDigest string `env:"IMAGE_DIGEST"`

	Platform       string   `env:"PLATFORM, default=linux/amd64"` // empty: no platform check
	Mode           string   `env:"VERIFY_MODE, default=full"`     // full | fast
	MaxImageBytes  int64    `env:"MAX_IMAGE_BYTES, default=1073741824"`
	MaxLayers      int      `env:"MAX_LAYERS, default=127"`
	RequiredLabels []string `env:"REQUIRED_LABELS"`
	CheckUser      bool     `env:"CHECK_USER, default=true"`
	CheckCommand   bool     `env:"CHECK_ENTRYPOINT, default=true"`
	CheckSecrets   bool     `env:"CHECK_SECRETS, default=true"`

	// Promote moves IMAGE_URL's tag to IMAGE_DIGEST once every other check
	// passed (the build pushed the image under a staging tag), then checks
	// the tag: a rejected image never gets the tag users deploy from.
	Promote bool `env:"PROMOTE, default=false"`

	RegistryInsecure bool `env:"REGISTRY_INSECURE, default=false"`
	// DockerConfig is the folder holding config.json (the dockerconfig
	// workspace); go-containerregistry's default keychain reads it.
	DockerConfig string `env:"DOCKER_CONFIG"`

	step.ResultsConfig
}

// Modes of the content check.
const (
	ModeFull = "full" // stream and re-hash every layer
	ModeFast = "fast" // layers must exist with the right size; bodies not re-hashed
)

// minResultsBudget leaves room for every check's name and verdict; the
// details shrink to fit whatever is left.
const minResultsBudget = 1024

// target is the parsed, cross-checked form of Config.
type target struct {
	tag      *name.Tag // the tag to check, nil when IMAGE_URL names no tag
	byDigest name.Digest
	expected v1.Hash
	platform *v1.Platform // nil: no platform check
}

// LoadConfig reads Config from the process environment.
func LoadConfig(ctx context.Context) (Config, error) {
	return LoadConfigFrom(ctx, envconfig.OsLookuper())
}

// LoadConfigFrom reads Config from l (tests use step.MapLookuper).
func LoadConfigFrom(ctx context.Context, l envconfig.Lookuper) (Config, error) {
	var c Config
	if err := step.LoadConfigFrom(ctx, &c, l); err != nil {
		return c, err
	}
	c.ImageURL = strings.TrimSpace(c.ImageURL)
	c.ImageDigest = strings.TrimSpace(c.ImageDigest)
	c.Platform = strings.TrimSpace(c.Platform)
	c.Mode = strings.ToLower(strings.TrimSpace(c.Mode))
	c.RequiredLabels = cleanList(c.RequiredLabels)
	t, err := c.target()
	if err != nil {
		return c, err
	}
	switch {
	case c.Mode != ModeFull && c.Mode != ModeFast:
		return c, step.ConfigError("VERIFY_MODE: %q is not a mode: use full (re-hash every layer) or fast (skip re-hashing layer bodies)", c.Mode)
	case c.MaxImageBytes < 0:
		return c, step.ConfigError("MAX_IMAGE_BYTES: %d is negative: use a byte count, or 0 to switch the size budget off", c.MaxImageBytes)
	case c.MaxLayers < 0:
		return c, step.ConfigError("MAX_LAYERS: %d is negative: use a layer count, or 0 to switch the limit off", c.MaxLayers)
	case c.Promote && t.tag == nil:
		return c, step.ConfigError("PROMOTE=true needs a tag to promote to: IMAGE_URL %q names none", c.ImageURL)
	case c.ResultsBudget < minResultsBudget:
		return c, step.ConfigError("RESULTS_BUDGET: %d bytes cannot hold the report of every check: use at least %d (Tekton's default is 4096)", c.ResultsBudget, minResultsBudget)
	}
	if err := checkDockerConfig(c.DockerConfig); err != nil {
		return c, err
	}
	return c, nil
}

func cleanList(in []string) []string {
	var out []string
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// target parses IMAGE_URL, IMAGE_DIGEST and PLATFORM and checks they agree.
func (c Config) target() (target, error) {
	var t target
	var opts []name.Option
	if c.RegistryInsecure {
		opts = append(opts, name.Insecure)
	}
	if c.ImageDigest != "" {
		h, err := v1.NewHash(c.ImageDigest)
		if err != nil {
			return t, step.ConfigError("IMAGE_DIGEST: %q is not a digest like sha256:<64 hex>: pass the digest the build step reported", c.ImageDigest)
		}
		t.expected = h
	}
	ref, err := name.ParseReference(c.ImageURL, opts...)
	if err != nil {
		return t, step.ConfigError("IMAGE_URL: %q is not an image reference (want REGISTRY/REPO:TAG or REPO@sha256:...): %v", c.ImageURL, err)
	}
	switch r := ref.(type) {
	case name.Tag:
		t.tag = &r
	case name.Digest:
		// REPO:TAG@sha256:... keeps its tag in the string: check it too.
		if repoTag, _, ok := strings.Cut(c.ImageURL, "@"); ok && strings.LastIndex(repoTag, ":") > strings.LastIndex(repoTag, "/") {
			if tg, err := name.NewTag(repoTag, opts...); err == nil {
				t.tag = &tg
			}
		}
		pinned, _ := v1.NewHash(r.DigestStr())
		if t.expected != (v1.Hash{}) && pinned != t.expected {
			return t, step.ConfigError("IMAGE_URL pins %s but IMAGE_DIGEST is %s: pass one digest, the one the build step reported", pinned, t.expected)
		}
		t.expected = pinned
	}
	if t.expected == (v1.Hash{}) {
		return t, step.ConfigError("IMAGE_DIGEST is empty and IMAGE_URL %q names no digest: pass the digest the build step reported (Kaniko's IMAGE_DIGEST result)", c.ImageURL)
	}
	t.byDigest = ref.Context().Digest(t.expected.String())
	if c.Platform != "" {
		p, err := v1.ParsePlatform(c.Platform)
		if err != nil || p.OS == "" || p.Architecture == "" {
			return t, step.ConfigError("PLATFORM: %q is not OS/ARCH[/VARIANT] like linux/amd64 (empty switches the platform check off)", c.Platform)
		}
		t.platform = p
	}
	return t, nil
}

// checkDockerConfig catches a dockerconfig workspace bound without a
// config.json: go-containerregistry would silently go anonymous and the user
// would see a 401 far from its cause.
func checkDockerConfig(dir string) error {
	if dir == "" {
		return nil
	}
	fi, err := os.Stat(filepath.Join(dir, "config.json"))
	if err == nil && !fi.IsDir() {
		return nil
	}
	hint := "bind the dockerconfig workspace to a Secret holding config.json"
	if _, err := os.Stat(filepath.Join(dir, ".dockerconfigjson")); err == nil {
		hint = "the folder holds .dockerconfigjson: map that key to config.json in the workspace binding (secret.items: [{key: .dockerconfigjson, path: config.json}])"
	}
	return step.ConfigError("DOCKER_CONFIG: %s has no config.json: %s", dir, hint)
}
