package render

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"github.com/knative-lambda/lambda-builder/internal/step"
)

// Plan is everything a template needs. Render checks every field again, so a
// Plan built by hand (tests, the fuzzer) gets the same protection as one built
// from validated Options.
type Plan struct {
	Language     Language
	BuildImage   string
	RuntimeImage string
	BuildArgs    []string
	Entrypoint   []string
	Python       PythonFacts
	Node         NodeFacts
	Go           GoFacts
}

// NewPlan combines validated options with the facts of the source tree.
func NewPlan(o Options, f Facts) (Plan, error) {
	p := Plan{Language: f.Language, BuildArgs: o.BuildArgs, Python: f.Python, Node: f.Node, Go: f.Go}
	p.BuildImage, p.RuntimeImage = o.Images.For(f.Language)
	p.Entrypoint = o.Entrypoint
	if p.Entrypoint == nil {
		p.Entrypoint = f.Entrypoint
	}
	if p.Entrypoint == nil {
		return p, step.InputError("no entrypoint found for the %s function: %s, or set ENTRYPOINT", f.Language, f.EntrypointHint)
	}
	if f.Language == Go && o.GoBuilderIsDefault && f.Go.GoVersion != "" && newerMinor(f.Go.GoVersion, o.GoVersion) {
		return p, step.ConfigError("go.mod requires go %s but the builder image is Go %s (GOTOOLCHAIN=local never downloads a toolchain): set GO_VERSION=%s or GO_BUILDER_IMAGE", f.Go.GoVersion, o.GoVersion, majorMinor(f.Go.GoVersion))
	}
	return p, nil
}

// newerMinor reports whether version a's major.minor is above b's.
func newerMinor(a, b string) bool {
	pa, pb := versionParts(a), versionParts(b)
	for i := range 2 {
		if pa[i] != pb[i] {
			return pa[i] > pb[i]
		}
	}
	return false
}

func versionParts(v string) [2]int {
	var out [2]int
	for i, s := range strings.SplitN(v, ".", 3) {
		if i == 2 {
			break
		}
		out[i], _ = strconv.Atoi(s)
	}
	return out
}

func majorMinor(v string) string {
	p := versionParts(v)
	return fmt.Sprintf("%d.%d", p[0], p[1])
}

// Images lists the distinct base images of the plan in FROM order.
func (p Plan) Images() []string {
	if p.BuildImage == p.RuntimeImage {
		return []string{p.BuildImage}
	}
	return []string{p.BuildImage, p.RuntimeImage}
}

// check is the last gate before text/template: every string that a template
// writes is validated here, whatever built the Plan.
func (p Plan) check() error {
	switch p.Language {
	case Python, Node, Go:
	default:
		return fmt.Errorf("no template for language %q", p.Language)
	}
	if _, err := checkImage("build image", p.BuildImage); err != nil {
		return err
	}
	if _, err := checkImage("runtime image", p.RuntimeImage); err != nil {
		return err
	}
	for _, a := range p.BuildArgs {
		if !buildArgName.MatchString(a) {
			return fmt.Errorf("build argument %q is not a name matching [A-Z_][A-Z0-9_]*", a)
		}
	}
	if len(p.BuildArgs) > maxBuildArgs {
		return fmt.Errorf("%d build arguments, more than %d", len(p.BuildArgs), maxBuildArgs)
	}
	if err := checkEntrypoint("the entrypoint", p.Entrypoint); err != nil {
		return err
	}
	switch p.Python.Manifest {
	case "", "requirements.txt", "pyproject.toml":
	default:
		return fmt.Errorf("unknown Python manifest %q", p.Python.Manifest)
	}
	if !nodeLockOK(p.Node) {
		return fmt.Errorf("unknown Node package manager %q with lock file %q", p.Node.Manager, p.Node.LockFile)
	}
	if p.Language == Go {
		return checkGoPackage("the main package directory", p.Go.Package)
	}
	return nil
}

// nodeLockFiles are the lock files each package manager may come with.
var nodeLockFiles = map[string][]string{
	"npm":        {"package-lock.json", "npm-shrinkwrap.json"},
	"yarn":       {"yarn.lock"},
	"yarn-berry": {"yarn.lock"},
	"pnpm":       {"pnpm-lock.yaml"},
}

func nodeLockOK(n NodeFacts) bool {
	if n.Manager == "" {
		return n.LockFile == ""
	}
	return slices.Contains(nodeLockFiles[n.Manager], n.LockFile)
}

//go:embed templates/*.tmpl
var templateFS embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{"json": execJSON}).
	Option("missingkey=error").ParseFS(templateFS, "templates/*.tmpl"))

// execJSON writes exec-form arguments: a JSON array with ", " between the
// elements and no HTML escaping (readable < > &), which BuildKit, Docker and
// Kaniko parse back to exactly these strings. JSON escapes quotes and
// backslashes; checkText already refused newlines and control characters.
// Each element is encoded on its own: a separator is never searched for in
// encoded text, where an argument could contain it.
func execJSON(args []string) (string, error) {
	parts := make([]string, len(args))
	for i, a := range args {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(a); err != nil {
			return "", err
		}
		parts[i] = strings.TrimSuffix(b.String(), "\n")
	}
	return "[" + strings.Join(parts, ", ") + "]", nil
}

// Render returns the Dockerfile of a plan. Same plan, same bytes.
func Render(p Plan) ([]byte, error) {
	if err := p.check(); err != nil {
		return nil, fmt.Errorf("refusing to render: %w", err)
	}
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, string(p.Language)+".Dockerfile.tmpl", p); err != nil {
		return nil, fmt.Errorf("rendering the %s template: %w", p.Language, err)
	}
	return b.Bytes(), nil
}

// dockerfilePath is what a rendered .dockerignore may name: plain path
// characters, so the line is not a glob, a negation (!) or a comment (#).
var dockerfilePath = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._+@/-]*$`)

// RenderDockerignore returns the .dockerignore rendered next to a plan's
// Dockerfile (dockerfile is its path inside the context).
func RenderDockerignore(p Plan, dockerfile string) ([]byte, error) {
	if !dockerfilePath.MatchString(dockerfile) {
		return nil, fmt.Errorf("refusing to render .dockerignore: Dockerfile path %q is not plain path characters", dockerfile)
	}
	var b bytes.Buffer
	data := struct {
		Plan
		Dockerfile string
	}{p, dockerfile}
	if err := templates.ExecuteTemplate(&b, "dockerignore.tmpl", data); err != nil {
		return nil, fmt.Errorf("rendering .dockerignore: %w", err)
	}
	return b.Bytes(), nil
}
