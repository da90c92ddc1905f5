// Package kaniko is the kaniko-build step: it turns the Task's params into the
// Kaniko executor's flags, runs the executor, and writes IMAGE_DIGEST,
// IMAGE_URL and IMAGE_REF only after the push has succeeded.
//
// Why a wrapper and not the executor alone: Kaniko writes --digest-file and
// --image-name-with-digest-file before it pushes (pkg/executor/push.go,
// DoPush), so a push that fails would leave a digest result behind; Tekton
// cannot prefix each BUILD_ARGS element with --build-arg; and IMAGE_URL needs a
// writer that takes IMAGE from the environment, never from a script.
package kaniko

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/knative-lambda/lambda-builder/internal/step"
)

// Config is the step's environment; the Task maps each param to one variable.
type Config struct {
	Image        string `env:"IMAGE, required"`
	SourceDir    string `env:"SOURCE_DIR, required"`
	Context      string `env:"CONTEXT, default=."`
	Dockerfile   string `env:"DOCKERFILE, default=./Dockerfile"`
	Cache        bool   `env:"CACHE, default=true"`
	CacheRepo    string `env:"CACHE_REPO"`
	CacheTTL     string `env:"CACHE_TTL, default=24h"`
	Reproducible bool   `env:"REPRODUCIBLE, default=false"`
	// StagingTag, when set, makes Kaniko push to IMAGE's repository under
	// this tag instead of IMAGE's: function-build's verify step moves
	// IMAGE's tag to the digest only once the image passed its checks, so a
	// rejected image never carries the tag users deploy from. The results
	// still name IMAGE (the digest is the same in the same repository).
	StagingTag string `env:"STAGING_TAG"`
	// Executor and WorkDir are fixed by the image; tests point them elsewhere.
	Executor string `env:"KANIKO_EXECUTOR, default=/kaniko/executor"`
	WorkDir  string `env:"KANIKO_DIR, default=/kaniko"`
	step.ResultsConfig
}

// Invocation is what the step runs: the executor's argv and where Kaniko
// writes the files the results are taken from.
type Invocation struct {
	Args       []string
	DigestFile string
	RefFile    string
}

// buildArg is Docker's ARG name rule; the value must be given (KEY=VALUE): a
// bare KEY would make Kaniko copy the step's own environment into the image.
var buildArg = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

// ownedFlags are the executor flags the Task sets from its params or needs
// for its results. EXTRA_ARGS may not set them: a second --destination or a
// --no-push would make the results name an image that was not pushed there,
// and a --digest-file would bring back the write-before-push race.
var ownedFlags = map[string]string{
	"context": "CONTEXT", "c": "CONTEXT",
	"dockerfile": "DOCKERFILE", "f": "DOCKERFILE",
	"destination": "IMAGE", "d": "IMAGE",
	"build-arg":                       "BUILD_ARGS",
	"cache":                           "CACHE",
	"cache-repo":                      "CACHE_REPO",
	"cache-ttl":                       "CACHE_TTL",
	"reproducible":                    "REPRODUCIBLE",
	"digest-file":                     "the IMAGE_DIGEST result",
	"image-name-with-digest-file":     "the IMAGE_REF result",
	"image-name-tag-with-digest-file": "the IMAGE_REF result",
	"no-push":                         "the results (an image that is not pushed has no digest to report)",
	"tar-path":                        "the results",
	"kaniko-dir":                      "the executor image layout",
}

// tuningFlags: snapshot by mtime/size/mode (redo), uncompressed cache layers
// (less memory), plain text logs (no colour codes in Tekton logs). The seed
// ADR's --use-new-run is left out: with it a RUN that deletes files from the
// base image keeps them in the image (corpus case delete-from-base).
var tuningFlags = []string{"--compressed-caching=false", "--log-format=text"}

// Plan validates the configuration and the step's arguments (BUILD_ARGS
// elements, then a literal "--", then EXTRA_ARGS elements) and returns the
// executor invocation. It touches the file system only to resolve paths.
func Plan(cfg Config, argv []string) (Invocation, error) {
	buildArgs, extra, err := splitArgs(argv)
	if err != nil {
		return Invocation{}, err
	}
	if _, err := name.ParseReference(cfg.Image); err != nil {
		return Invocation{}, step.ConfigError("IMAGE %q is not an image reference (want registry/repository[:tag]): %v", cfg.Image, err)
	}
	if strings.Contains(cfg.Image, "@") {
		return Invocation{}, step.ConfigError("IMAGE %q has a digest: give a repository and tag to push to; the digest is the IMAGE_DIGEST result", cfg.Image)
	}
	destination := cfg.Image
	if cfg.StagingTag != "" {
		ref, _ := name.ParseReference(cfg.Image)
		tag, err := name.NewTag(ref.Context().Name() + ":" + cfg.StagingTag)
		if err != nil {
			return Invocation{}, step.ConfigError("STAGING_TAG %q is not a tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}): %v", cfg.StagingTag, err)
		}
		destination = tag.String()
	}
	if cfg.CacheRepo != "" {
		if _, err := name.NewRepository(cfg.CacheRepo); err != nil {
			return Invocation{}, step.ConfigError("CACHE_REPO %q is not a repository (want registry/repository, no tag): %v", cfg.CacheRepo, err)
		}
	}
	if _, err := time.ParseDuration(cfg.CacheTTL); err != nil {
		return Invocation{}, step.ConfigError("CACHE_TTL %q is not a duration (like 24h or 90m): %v", cfg.CacheTTL, err)
	}
	contextDir, err := inside(cfg.SourceDir, cfg.Context, "CONTEXT", true)
	if err != nil {
		return Invocation{}, err
	}
	dockerfile, err := inside(cfg.SourceDir, cfg.Dockerfile, "DOCKERFILE", false)
	if err != nil {
		return Invocation{}, err
	}
	inv := Invocation{
		DigestFile: filepath.Join(cfg.WorkDir, "lb-results", "digest"),
		RefFile:    filepath.Join(cfg.WorkDir, "lb-results", "image-ref"),
	}
	inv.Args = []string{
		"--context=" + contextDir,
		"--dockerfile=" + dockerfile,
		"--destination=" + destination,
		"--digest-file=" + inv.DigestFile,
		"--image-name-with-digest-file=" + inv.RefFile,
		fmt.Sprintf("--cache=%t", cfg.Cache),
		"--cache-ttl=" + cfg.CacheTTL,
	}
	// An empty CACHE_REPO leaves the flag out: Kaniko then caches in
	// <IMAGE repository>/cache (pkg/cache.Destination), the Task's default.
	if cfg.CacheRepo != "" {
		inv.Args = append(inv.Args, "--cache-repo="+cfg.CacheRepo)
	}
	if cfg.Reproducible {
		inv.Args = append(inv.Args, "--reproducible")
	}
	inv.Args = append(inv.Args, tuningFlags...)
	for _, a := range buildArgs {
		inv.Args = append(inv.Args, "--build-arg="+a)
	}
	if err := checkExtra(extra); err != nil {
		return Invocation{}, err
	}
	inv.Args = append(inv.Args, extra...)
	return inv, nil
}

// splitArgs splits the step's argv at the first literal "--". No build arg
// can be "--" (it must start with a name), so the split is unambiguous.
func splitArgs(argv []string) (buildArgs, extra []string, err error) {
	sep := -1
	for i, a := range argv {
		if a == "--" {
			sep = i
			break
		}
	}
	if sep < 0 {
		return nil, nil, step.ConfigError(`the step's args must be BUILD_ARGS, then "--", then EXTRA_ARGS; got no "--" in %q`, argv)
	}
	for _, a := range argv[:sep] {
		if !buildArg.MatchString(a) {
			return nil, nil, step.ConfigError("BUILD_ARGS element %q is not KEY=VALUE (KEY: letters, digits, _; a bare KEY would copy the step's environment into the image)", a)
		}
	}
	return argv[:sep], argv[sep+1:], nil
}

// checkExtra refuses EXTRA_ARGS that set a flag the Task owns.
func checkExtra(extra []string) error {
	for _, a := range extra {
		var flag string
		switch {
		case strings.HasPrefix(a, "--"):
			flag, _, _ = strings.Cut(a[2:], "=")
		case strings.HasPrefix(a, "-") && len(a) > 1:
			flag = a[1:2] // -dVALUE and -d VALUE alike
		default:
			continue // the value of the previous flag
		}
		if owner, ok := ownedFlags[flag]; ok {
			return step.ConfigError("EXTRA_ARGS element %q sets a flag the Task sets itself (from %s): use that instead", a, owner)
		}
	}
	return nil
}

// inside resolves rel (a CONTEXT or DOCKERFILE param) under root and refuses
// anything that leaves root, through ".." or a symbolic link: the executor's
// own files (/kaniko, registry credentials) must not become build input. An
// absolute path is accepted when it lies in root: render-dockerfile's
// DOCKERFILE result, which function-build feeds in, is one.
func inside(root, rel, param string, wantDir bool) (string, error) {
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", step.ConfigError("SOURCE_DIR %q: %v", root, err)
	}
	joined := filepath.Join(realRoot, rel)
	if filepath.IsAbs(rel) {
		cleanRoot := filepath.Clean(root)
		if p := filepath.Clean(rel); p != cleanRoot && !strings.HasPrefix(p, cleanRoot+string(filepath.Separator)) {
			return "", step.InputError("%s %q is absolute and not in the source workspace %s: give a path relative to it", param, rel, root)
		}
		joined = rel
	}
	real, err := filepath.EvalSymlinks(joined)
	if err != nil {
		return "", step.InputError("%s %q: not found in the source workspace (%v)", param, rel, err)
	}
	if real != realRoot && !strings.HasPrefix(real, realRoot+string(filepath.Separator)) {
		return "", step.InputError("%s %q resolves to %s, outside the source workspace: give a path inside it", param, rel, real)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", step.InputError("%s %q: %v", param, rel, err)
	}
	if wantDir != fi.IsDir() {
		kind := "a regular file"
		if wantDir {
			kind = "a directory"
		}
		return "", step.InputError("%s %q is not %s", param, rel, kind)
	}
	return real, nil
}
