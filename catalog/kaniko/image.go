// Package kaniko assembles the Kaniko executor image the kaniko-build Task
// runs, from binaries built from source (the executor, the ECR credential
// helper, our kaniko-build step), in the layout upstream's image has:
//
//	/kaniko/executor                       github.com/chainguard-dev/kaniko ./cmd/executor
//	/kaniko/docker-credential-ecr-login    amazon-ecr-credential-helper
//	/kaniko/kaniko-build                   ./cmd/kaniko-build (the Task's command)
//	/kaniko/ssl/certs/ca-certificates.crt  the CA bundle
//	/kaniko/.docker/config.json            credHelpers for the ECR hosts that are fixed
//	/etc/nsswitch.conf                     "hosts: files dns", as upstream ships it
//
// Everything lives under /kaniko because Kaniko never snapshots or deletes
// that folder (pkg/util/fs_util.go, defaultIgnoreList) while it unpacks the
// base image over /. Every entry has a fixed timestamp and the config a fixed
// creation time, so the same binaries give the same digest.
package kaniko

import (
	"encoding/json"
	"fmt"
	"runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/knative-lambda/lambda-builder/internal/layer"
)

// Binaries are the host paths of what goes into the image.
type Binaries struct {
	Executor string // kaniko ./cmd/executor, static
	ECRLogin string // docker-credential-ecr-login, static
	Step     string // ./cmd/kaniko-build, static
	CACerts  string // a PEM bundle, e.g. Debian's /etc/ssl/certs/ca-certificates.crt
	// Versions become image labels (dev.lambda-builder.version.NAME).
	Versions map[string]string
}

// Paths inside the image.
const (
	Dir          = "/kaniko"
	ExecutorPath = Dir + "/executor"
	StepPath     = Dir + "/kaniko-build"
	DockerConfig = Dir + "/.docker/"
	certsDir     = Dir + "/ssl/certs"
)

// Env is the executor image's environment, upstream's (deploy/Dockerfile).
// No /busybox: the image has no shell at all.
var Env = []string{
	"HOME=/root",
	"USER=root",
	"PATH=/usr/local/bin:" + Dir,
	"SSL_CERT_DIR=" + certsDir,
	"DOCKER_CONFIG=" + DockerConfig,
}

// ECRCredHelpers are the registries config.json sends to
// docker-credential-ecr-login. Private ECR hosts carry the account and region
// (ACCOUNT.dkr.ecr.REGION.amazonaws.com) and cannot be listed ahead of time:
// the executor resolves them itself with the same helper compiled in
// (pkg/creds, since Kaniko v1.8.0), which upstream relies on too: its image
// ships /kaniko/.docker empty. Public ECR has one fixed host.
var ECRCredHelpers = map[string]string{"public.ecr.aws": "ecr-login"}

// DockerConfigJSON is /kaniko/.docker/config.json. A dockerconfig workspace
// mounted over /kaniko/.docker replaces it.
func DockerConfigJSON() []byte {
	b, _ := json.MarshalIndent(map[string]any{"auths": map[string]any{}, "credHelpers": ECRCredHelpers}, "", "  ")
	return append(b, '\n')
}

const nsswitch = "hosts: files dns\n"

// Image builds the executor image: one layer for the small files, then one
// per binary, the least often changed first, so a new step binary only
// changes the last layer.
func Image(b Binaries) (v1.Image, error) {
	base := []layer.File{
		{Path: "/etc", Dir: true, Mode: 0o755},
		{Path: "/etc/nsswitch.conf", Mode: 0o644, Content: []byte(nsswitch)},
		{Path: "/root", Dir: true, Mode: 0o700},
		{Path: "/workspace", Dir: true, Mode: 0o755},
		{Path: Dir, Dir: true, Mode: 0o755},
		{Path: Dir + "/ssl", Dir: true, Mode: 0o755},
		{Path: certsDir, Dir: true, Mode: 0o755},
		{Path: certsDir + "/ca-certificates.crt", Mode: 0o644, Source: b.CACerts},
		{Path: Dir + "/.docker", Dir: true, Mode: 0o755},
		{Path: Dir + "/.docker/config.json", Mode: 0o644, Content: DockerConfigJSON()},
	}
	layers := [][]layer.File{
		base,
		{{Path: Dir + "/docker-credential-ecr-login", Mode: 0o755, Source: b.ECRLogin}},
		{{Path: ExecutorPath, Mode: 0o755, Source: b.Executor}},
		{{Path: StepPath, Mode: 0o755, Source: b.Step}},
	}
	img := empty.Image
	for _, files := range layers {
		l, err := layer.FromFiles(files)
		if err != nil {
			return nil, err
		}
		if img, err = mutate.Append(img, mutate.Addendum{Layer: l, History: v1.History{Created: v1.Time{Time: layer.Epoch}, CreatedBy: "lambda-builder catalog/kaniko"}}); err != nil {
			return nil, err
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Created = v1.Time{Time: layer.Epoch}
	cf.Config.Env = Env
	cf.Config.Entrypoint = []string{ExecutorPath}
	cf.Config.WorkingDir = "/workspace"
	cf.Config.Labels = map[string]string{"org.opencontainers.image.title": "lambda-builder kaniko executor"}
	for name, v := range b.Versions {
		cf.Config.Labels["dev.lambda-builder.version."+name] = v
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("kaniko image config: %w", err)
	}
	return img, nil
}
