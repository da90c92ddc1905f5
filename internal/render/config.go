package render

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/knative-lambda/lambda-builder/internal/step"
)

// Config is the step's configuration, read from the environment (the Task
// passes each param through env). Empty values mean "the default", so a Task
// may pass every param through even when the user left it empty.
type Config struct {
	SourceDir  string `env:"SOURCE_DIR, required"`
	Language   string `env:"LANGUAGE"`          // auto | python | node | go
	Dockerfile string `env:"DOCKERFILE"`        // default SOURCE_DIR/Dockerfile
	Policy     string `env:"DOCKERFILE_POLICY"` // auto | render | user
	Entrypoint string `env:"ENTRYPOINT"`        // JSON array of strings

	PythonVersion   string `env:"PYTHON_VERSION"`
	NodeVersion     string `env:"NODE_VERSION"`
	GoVersion       string `env:"GO_VERSION"`
	PythonBaseImage string `env:"PYTHON_BASE_IMAGE"`
	NodeBaseImage   string `env:"NODE_BASE_IMAGE"`
	GoBuilderImage  string `env:"GO_BUILDER_IMAGE"`
	GoRuntimeImage  string `env:"GO_RUNTIME_IMAGE"`
	BaseRegistry    string `env:"BASE_REGISTRY"`
	ResolveDigests  bool   `env:"RESOLVE_DIGESTS, default=false"`

	GoPackage string `env:"GO_PACKAGE"` // the main package when a module has several
	BuildArgs string `env:"BUILD_ARGS"` // extra ARG names for the build stage

	step.ResultsConfig
}

// Language is a language the step renders for.
type Language string

const (
	Auto   Language = "auto"
	Python Language = "python"
	Node   Language = "node"
	Go     Language = "go"
)

// Languages are the languages detection knows, in the order errors list them.
var Languages = []Language{Python, Node, Go}

// Policy says whether a Dockerfile the user shipped is kept.
type Policy string

const (
	PolicyAuto   Policy = "auto"   // keep the user's Dockerfile, else render
	PolicyRender Policy = "render" // always render (replaces the user's)
	PolicyUser   Policy = "user"   // require the user's Dockerfile
)

// Options is a validated Config: every field is safe to use as it is.
type Options struct {
	SourceDir     string // absolute, cleaned
	DockerfileRel string // the Dockerfile's path inside SourceDir (slash-separated)
	Language      Language
	Policy        Policy
	Entrypoint    []string // nil: detect
	Images        Images
	GoVersion     string // the Go version of the default builder image
	// GoBuilderIsDefault is false when GO_BUILDER_IMAGE overrides the
	// builder: its Go version is then unknown.
	GoBuilderIsDefault bool
	ResolveDigests     bool
	GoPackage          string // "" : detect
	BuildArgs          []string
}

// Images are the base images per language after defaults, versions, overrides
// and BASE_REGISTRY were applied. Each passed checkImage.
type Images struct {
	Python, Node, GoBuilder, GoRuntime string
}

// For returns the build and runtime images of a language.
func (im Images) For(l Language) (build, runtime string) {
	switch l {
	case Python:
		return im.Python, im.Python
	case Node:
		return im.Node, im.Node
	case Go:
		return im.GoBuilder, im.GoRuntime
	}
	return "", ""
}

// Validate checks every field and applies the defaults. Errors are
// configuration errors naming the variable to fix.
func (c Config) Validate() (Options, error) {
	o, err := c.validate()
	if err != nil {
		return Options{}, step.ConfigError("%v", err)
	}
	return o, nil
}

func (c Config) validate() (Options, error) {
	var o Options
	if err := checkText("SOURCE_DIR", c.SourceDir); err != nil {
		return o, err
	}
	if c.SourceDir == "" {
		return o, fmt.Errorf("SOURCE_DIR is empty: set it to the folder holding the function's code")
	}
	src, err := filepath.Abs(c.SourceDir)
	if err != nil {
		return o, fmt.Errorf("SOURCE_DIR %q: %v", c.SourceDir, err)
	}
	o.SourceDir = src

	if o.DockerfileRel, err = dockerfileRel(src, c.Dockerfile); err != nil {
		return o, err
	}

	lang := Language(strings.ToLower(strings.TrimSpace(c.Language)))
	switch lang {
	case "":
		lang = Auto
	case Auto, Python, Node, Go:
	default:
		return o, fmt.Errorf("LANGUAGE %q is not supported: use auto, python, node or go (or ship a Dockerfile)", c.Language)
	}
	o.Language = lang

	policy := Policy(strings.ToLower(strings.TrimSpace(c.Policy)))
	switch policy {
	case "":
		policy = PolicyAuto
	case PolicyAuto, PolicyRender, PolicyUser:
	default:
		return o, fmt.Errorf("DOCKERFILE_POLICY %q is not one of auto, render, user", c.Policy)
	}
	o.Policy = policy

	if strings.TrimSpace(c.Entrypoint) != "" {
		if o.Entrypoint, err = parseEntrypoint(c.Entrypoint); err != nil {
			return o, err
		}
	}
	if strings.TrimSpace(c.GoPackage) != "" {
		if err := checkText("GO_PACKAGE", c.GoPackage); err != nil {
			return o, err
		}
		o.GoPackage = normalizeGoPackage(c.GoPackage)
		if err := checkGoPackage("GO_PACKAGE", o.GoPackage); err != nil {
			return o, err
		}
	}
	if o.BuildArgs, err = parseBuildArgs(c.BuildArgs); err != nil {
		return o, err
	}
	if o.Images, o.GoVersion, err = c.images(); err != nil {
		return o, err
	}
	o.GoBuilderIsDefault = strings.TrimSpace(c.GoBuilderImage) == ""
	o.ResolveDigests = c.ResolveDigests
	return o, nil
}

// images applies versions, then BASE_REGISTRY to the defaults, then the
// explicit overrides, which are used exactly as given.
func (c Config) images() (im Images, goVersion string, err error) {
	py, err := versionOr("PYTHON_VERSION", c.PythonVersion, DefaultPythonVersion)
	if err != nil {
		return im, "", err
	}
	node, err := versionOr("NODE_VERSION", c.NodeVersion, DefaultNodeVersion)
	if err != nil {
		return im, "", err
	}
	gov, err := versionOr("GO_VERSION", c.GoVersion, DefaultGoVersion)
	if err != nil {
		return im, "", err
	}
	registry := strings.TrimSpace(c.BaseRegistry)
	if registry != "" {
		if err := checkRegistry(registry); err != nil {
			return im, "", err
		}
	}
	for _, s := range []struct {
		dst      *string
		env      string
		override string
		def      string
	}{
		{&im.Python, "PYTHON_BASE_IMAGE", c.PythonBaseImage, defaultPythonImage(py)},
		{&im.Node, "NODE_BASE_IMAGE", c.NodeBaseImage, defaultNodeImage(node)},
		{&im.GoBuilder, "GO_BUILDER_IMAGE", c.GoBuilderImage, defaultGoBuilderImage(gov)},
		{&im.GoRuntime, "GO_RUNTIME_IMAGE", c.GoRuntimeImage, GoRuntimeImage},
	} {
		ref := strings.TrimSpace(s.override)
		if ref == "" {
			if ref, err = RewriteRegistry(s.def, registry); err != nil {
				return im, "", err
			}
		}
		if *s.dst, err = checkImage(s.env, ref); err != nil {
			return im, "", err
		}
	}
	return im, gov, nil
}

func versionOr(env, v, def string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return def, nil
	}
	return v, checkVersion(env, v)
}

// dockerfileRel resolves DOCKERFILE (relative to SOURCE_DIR, or absolute
// inside it) to a slash-separated path inside SOURCE_DIR. The Dockerfile must
// live in the build context: the build step reads it from there and the
// rendered .dockerignore names it.
func dockerfileRel(src, p string) (string, error) {
	if err := checkText("DOCKERFILE", p); err != nil {
		return "", err
	}
	if strings.TrimSpace(p) == "" {
		return "Dockerfile", nil
	}
	abs := p
	if !filepath.IsAbs(p) {
		abs = filepath.Join(src, p)
	}
	rel, err := filepath.Rel(src, filepath.Clean(abs))
	if err != nil || rel == "." || !fs.ValidPath(filepath.ToSlash(rel)) {
		return "", fmt.Errorf("DOCKERFILE %q must name a file inside SOURCE_DIR %s", p, src)
	}
	rel = filepath.ToSlash(rel)
	if !dockerfilePath.MatchString(rel) {
		return "", fmt.Errorf("DOCKERFILE %q: use plain path characters (letters, digits, . _ - + @ /)", p)
	}
	if strings.HasSuffix(rel, ".dockerignore") {
		return "", fmt.Errorf("DOCKERFILE %q names an ignore file, not a Dockerfile", p)
	}
	return rel, nil
}
