// Package render is the render-dockerfile step: it detects the language of a
// source tree (Python, Node, Go) and writes a hardened, cache-friendly
// Dockerfile from the templates embedded in this package, unless the user
// shipped one. Every value that reaches a Dockerfile is validated (see
// validate.go); Render refuses a Plan that breaks a rule.
package render

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/knative-lambda/lambda-builder/internal/step"
)

// Result names, as the Task declares them.
const (
	ResultLanguage   = "LANGUAGE"
	ResultDockerfile = "DOCKERFILE"
	ResultBaseImages = "BASE_IMAGES"
	ResultRendered   = "RENDERED"
)

// maxUserDockerfile bounds the user's Dockerfile the step reads to report its
// base images.
const maxUserDockerfile = 1 << 20

// Main is the step: configuration from the environment, then Run.
func Main(ctx context.Context) error {
	var cfg Config
	if err := step.LoadConfig(ctx, &cfg); err != nil {
		return err
	}
	return Run(ctx, cfg, NewRemoteResolver(), os.Stdout)
}

// Outcome is what one run did; Run writes it as the step's results.
type Outcome struct {
	Language   string
	Dockerfile string // absolute path
	BaseImages []string
	Rendered   bool
}

// Run keeps or renders the Dockerfile, then writes the results. log receives
// a short account and the rendered Dockerfile, for the TaskRun's log.
func Run(ctx context.Context, cfg Config, resolver Resolver, log io.Writer) error {
	opts, err := cfg.Validate()
	if err != nil {
		return err
	}
	out, err := Apply(ctx, opts, resolver, log)
	if err != nil {
		return err
	}
	images, err := step.JSONResult(ResultBaseImages, out.BaseImages)
	if err != nil {
		return err
	}
	return cfg.Writer().Write(
		step.Result{Name: ResultLanguage, Value: out.Language},
		step.Result{Name: ResultDockerfile, Value: out.Dockerfile},
		images,
		step.Result{Name: ResultRendered, Value: strconv.FormatBool(out.Rendered)},
	)
}

// Apply does the work of Run without writing results.
func Apply(ctx context.Context, o Options, resolver Resolver, log io.Writer) (Outcome, error) {
	ws, err := openWorkspace(o.SourceDir)
	if err != nil {
		return Outcome{}, err
	}
	defer ws.Close()
	out := Outcome{Dockerfile: filepath.Join(o.SourceDir, filepath.FromSlash(o.DockerfileRel))}

	shipped, err := ws.shippedByUser(o.DockerfileRel)
	if err != nil {
		return out, err
	}
	switch {
	case o.Policy == PolicyUser && !shipped:
		return out, step.InputError("DOCKERFILE_POLICY is user but SOURCE_DIR has no %s: ship one, or set DOCKERFILE_POLICY=auto to render it", o.DockerfileRel)
	case shipped && o.Policy != PolicyRender:
		return keepUserDockerfile(ws, o, out, log)
	}

	facts, err := Detect(ws.FS(), o.Language, o.GoPackage)
	if err != nil {
		return out, asInputError(err)
	}
	plan, err := NewPlan(o, facts)
	if err != nil {
		return out, err
	}
	if o.ResolveDigests {
		if err := pinImages(ctx, resolver, &plan); err != nil {
			return out, err
		}
	}
	dockerfile, err := Render(plan)
	if err != nil {
		return out, err
	}
	if err := writeDockerignore(ws, plan, o.DockerfileRel, log); err != nil {
		return out, err
	}
	if err := ws.writeFile(o.DockerfileRel, dockerfile); err != nil {
		return out, err
	}
	fmt.Fprintf(log, "rendered %s for %s (base images %v):\n%s", o.DockerfileRel, plan.Language, plan.Images(), dockerfile)
	out.Language, out.BaseImages, out.Rendered = string(plan.Language), plan.Images(), true
	return out, nil
}

// keepUserDockerfile reports the user's Dockerfile as it is: its language
// when the tree says so plainly, and the images its FROM lines name.
func keepUserDockerfile(ws *workspace, o Options, out Outcome, log io.Writer) (Outcome, error) {
	content, err := readSmall(ws.FS(), o.DockerfileRel, maxUserDockerfile)
	if err != nil {
		return out, asInputError(err)
	}
	out.Language = string(o.Language)
	if o.Language == Auto {
		out.Language = "unknown"
		if l, err := DetectLanguage(ws.FS()); err == nil {
			out.Language = string(l)
		}
	}
	out.BaseImages = FromImages(content)
	fmt.Fprintf(log, "keeping the Dockerfile shipped at %s (DOCKERFILE_POLICY=%s); base images %v\n", o.DockerfileRel, o.Policy, out.BaseImages)
	if o.ResolveDigests {
		fmt.Fprintln(log, "RESOLVE_DIGESTS does not rewrite a shipped Dockerfile: pin its FROM lines by digest in the code")
	}
	return out, nil
}

// writeDockerignore renders a .dockerignore unless the user shipped one
// (either file the build step reads: <Dockerfile>.dockerignore first, then
// .dockerignore at the top of the context).
func writeDockerignore(ws *workspace, p Plan, dockerfileRel string, log io.Writer) error {
	for _, name := range []string{dockerfileRel + ".dockerignore", ".dockerignore"} {
		shipped, err := ws.shippedByUser(name)
		if err != nil {
			return err
		}
		if shipped {
			fmt.Fprintf(log, "keeping the %s shipped with the code\n", name)
			return nil
		}
	}
	content, err := RenderDockerignore(p, dockerfileRel)
	if err != nil {
		return err
	}
	return ws.writeFile(".dockerignore", content)
}

// asInputError classifies a detection error: the tree is the user's input.
func asInputError(err error) error {
	if step.ExitCode(err) != step.CodeInternal {
		return err
	}
	return step.InputError("%w", err)
}
