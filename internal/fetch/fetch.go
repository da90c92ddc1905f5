package fetch

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/knative-lambda/lambda-builder/internal/step"
)

// stdout receives progress and the summary line.
var stdout io.Writer = os.Stdout

// Result names, as the Task declares them.
const (
	ResultDigest         = "SOURCE_DIGEST"
	ResultURI            = "SOURCE_URI"
	ResultFileCount      = "FILE_COUNT"
	ResultBytes          = "BYTES"
	ResultArtifactInputs = "SOURCE_ARTIFACT_INPUTS"
)

// Report is what a successful fetch tells: the results, and a line for logs.
type Report struct {
	URI string
	Summary
	Elapsed time.Duration
	Detail  string // source-specific, e.g. how objects were verified
}

// detailer is implemented by sources that have more to say in the summary.
type detailer interface{ Detail() string }

// Run fetches cfg.Source into cfg.Dest and writes the results. Progress and
// the summary go to log.
func Run(ctx context.Context, cfg Config, log io.Writer) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	ref, err := ParseSource(cfg.Source, cfg.GitInsecure)
	if err != nil {
		return err
	}
	if ref.Kind != KindGit && cfg.Revision != "" {
		return step.ConfigError("SOURCE_REVISION %q applies to git sources, and SOURCE is %s; leave it empty (use ?versionId= for an S3 archive version)", cfg.Revision, cfg.Source)
	}
	src, err := NewSource(ctx, cfg, ref)
	if err != nil {
		return err
	}
	rep, err := FetchInto(ctx, src, cfg.Dest, cfg.CleanDest, Limits{MaxBytes: cfg.MaxBytes, MaxFiles: cfg.MaxFiles}, cfg.ProgressInterval, log)
	if err != nil {
		return err
	}
	inputs, err := step.JSONResult(ResultArtifactInputs, map[string]string{"uri": rep.URI, "digest": rep.Digest})
	if err != nil {
		return err
	}
	return cfg.Writer().Write(
		step.Result{Name: ResultDigest, Value: rep.Digest},
		step.Result{Name: ResultURI, Value: rep.URI},
		step.Result{Name: ResultFileCount, Value: strconv.FormatInt(rep.Files, 10)},
		step.Result{Name: ResultBytes, Value: strconv.FormatInt(rep.Bytes, 10)},
		inputs,
	)
}

// NewSource builds the fetcher for a parsed SOURCE.
func NewSource(ctx context.Context, cfg Config, ref SourceRef) (Source, error) {
	switch ref.Kind {
	case KindS3Prefix, KindS3Archive:
		return newS3Source(ctx, cfg, ref)
	case KindGit:
		return newGitSource(cfg, ref), nil
	}
	return nil, fmt.Errorf("unknown source kind %q", ref.Kind)
}

// FetchInto stages src, checks it and moves it into dest: on any error dest
// is left as it was and nothing is reported.
func FetchInto(ctx context.Context, src Source, dest string, clean bool, limits Limits, interval time.Duration, log io.Writer) (Report, error) {
	start := time.Now()
	stage, err := PrepareStage(dest, clean)
	if err != nil {
		return Report{}, err
	}
	committed := false
	defer func() {
		if !committed {
			stage.Abort()
		}
	}()
	tree := NewTree(stage.TreeDir(), limits)
	progress := step.StartProgress(log, interval, func() string {
		files, bytes := tree.Progress()
		return fmt.Sprintf("fetch-code: %d files, %s so far (%s)", files, step.HumanBytes(bytes), step.Rate(bytes, time.Since(start)))
	})
	err = src.Fetch(ctx, tree, stage.ScratchDir())
	progress.Stop()
	if err != nil {
		return Report{}, err
	}
	if ctx.Err() != nil {
		return Report{}, context.Cause(ctx)
	}
	sum, err := tree.Finish()
	if err != nil {
		return Report{}, err
	}
	if err := stage.Commit(); err != nil {
		return Report{}, err
	}
	committed = true
	rep := Report{URI: src.URI(), Summary: sum, Elapsed: time.Since(start)}
	if d, ok := src.(detailer); ok {
		rep.Detail = d.Detail()
	}
	line := fmt.Sprintf("fetch-code: fetched %s: %d files, %s in %s (%s)", rep.URI, rep.Files, step.HumanBytes(rep.Bytes),
		rep.Elapsed.Round(time.Millisecond), step.Rate(rep.Bytes, rep.Elapsed))
	if rep.Detail != "" {
		line += "; " + rep.Detail
	}
	fmt.Fprintf(log, "%s; %s\n", line, rep.Digest)
	return rep, nil
}
