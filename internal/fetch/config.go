// Package fetch is the fetch-code step: it copies user code from an S3 prefix,
// an archive in S3 or a git repository into a destination folder, checks every
// byte on the way (sizes, S3 checksums or MD5 ETags, path and link safety,
// limits), and only then moves the tree into place and reports its digest.
//
// Everything is staged in a folder inside the destination; a failure removes
// it, so the destination is either the complete, checked tree or what it was
// before.
package fetch

import (
	"context"
	"time"

	"github.com/knative-lambda/lambda-builder/internal/step"
)

// Config is the step's configuration, read from the environment (the Task
// passes each param through env).
type Config struct {
	// Source is s3://bucket/prefix/, s3://bucket/key.tar.gz|.tgz|.tar|.zip
	// (optionally ?versionId=ID), or a git URL (https://host/repo.git).
	Source string `env:"SOURCE, required"`
	// Revision is the git commit, tag or branch; empty means the remote's HEAD.
	Revision string `env:"SOURCE_REVISION"`
	// Dest is the folder the tree lands in (the source workspace).
	Dest string `env:"DEST, default=/workspace/source"`
	// CleanDest allows replacing what Dest already holds.
	CleanDest bool `env:"CLEAN_DEST, default=false"`

	// S3Endpoint is an S3-compatible endpoint; setting it turns on path-style
	// addressing.
	S3Endpoint string `env:"S3_ENDPOINT"`
	Region     string `env:"AWS_REGION"`
	// CredentialsDir is the aws-credentials workspace: a folder holding an
	// AWS shared `credentials` and/or `config` file. Empty when not bound.
	CredentialsDir string `env:"AWS_CREDENTIALS_DIR"`

	Concurrency int   `env:"FETCH_CONCURRENCY, default=32"`
	MaxBytes    int64 `env:"FETCH_MAX_BYTES, default=1073741824"`
	MaxFiles    int64 `env:"FETCH_MAX_FILES, default=100000"`

	// GitInsecure allows plain http git URLs to hosts other than localhost.
	GitInsecure bool `env:"GIT_INSECURE, default=false"`

	ProgressInterval time.Duration `env:"FETCH_PROGRESS_INTERVAL, default=5s"`

	step.ResultsConfig
}

// validate checks what go-envconfig cannot.
func (c *Config) validate() error {
	switch {
	case c.Concurrency < 1 || c.Concurrency > 512:
		return step.ConfigError("FETCH_CONCURRENCY: %d is out of range; use 1 to 512", c.Concurrency)
	case c.MaxBytes < 1:
		return step.ConfigError("FETCH_MAX_BYTES: %d must be positive", c.MaxBytes)
	case c.MaxFiles < 1:
		return step.ConfigError("FETCH_MAX_FILES: %d must be positive", c.MaxFiles)
	case c.ProgressInterval <= 0:
		return step.ConfigError("FETCH_PROGRESS_INTERVAL: %s must be positive", c.ProgressInterval)
	case c.Dest == "":
		return step.ConfigError("DEST: empty; set it to the folder the code goes to")
	}
	return nil
}

// Main is the step's entry point: configuration from the environment, then Run.
func Main(ctx context.Context) error {
	var cfg Config
	if err := step.LoadConfig(ctx, &cfg); err != nil {
		return err
	}
	return Run(ctx, cfg, stdout)
}
