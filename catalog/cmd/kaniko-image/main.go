// Command kaniko-image assembles the Kaniko executor image (catalog/kaniko)
// from binaries built from source and pushes it, printing repository@digest:
//
//	kaniko-image --executor E --ecr-login H --kaniko-version v1.25.16 \
//	    --ecr-login-version v0.13.0 127.0.0.1:5000/lambda-builder/kaniko-executor:v1.25.16
//
// It builds the kaniko-build step from this module unless --step names a
// binary. With --digest it only prints the digest it would push.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/knative-lambda/lambda-builder/catalog/kaniko"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "kaniko-image:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("kaniko-image", flag.ContinueOnError)
	var b kaniko.Binaries
	var kanikoVersion, ecrVersion string
	fs.StringVar(&b.Executor, "executor", "", "Kaniko executor binary (static)")
	fs.StringVar(&b.ECRLogin, "ecr-login", "", "docker-credential-ecr-login binary (static)")
	fs.StringVar(&b.Step, "step", "", "kaniko-build step binary (default: build ./cmd/kaniko-build)")
	fs.StringVar(&b.CACerts, "ca-certs", "/etc/ssl/certs/ca-certificates.crt", "CA bundle (PEM)")
	fs.StringVar(&kanikoVersion, "kaniko-version", "", "Kaniko version, for the image label")
	fs.StringVar(&ecrVersion, "ecr-login-version", "", "ECR helper version, for the image label")
	digestOnly := fs.Bool("digest", false, "print the image digest and push nothing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if b.Executor == "" || b.ECRLogin == "" || (!*digestOnly && fs.NArg() != 1) {
		return fmt.Errorf("usage: kaniko-image --executor PATH --ecr-login PATH [--step PATH] [--digest | REGISTRY/REPOSITORY:TAG]")
	}
	if b.Step == "" {
		dir, err := os.MkdirTemp("", "kaniko-image-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		b.Step = filepath.Join(dir, "kaniko-build")
		if err := kaniko.BuildStep(ctx, b.Step); err != nil {
			return err
		}
	}
	b.Versions = map[string]string{"kaniko": kanikoVersion, "ecr-login": ecrVersion}
	img, err := kaniko.Image(b)
	if err != nil {
		return err
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	if *digestOnly {
		fmt.Println(d)
		return nil
	}
	ref, err := name.NewTag(fs.Arg(0))
	if err != nil {
		return err
	}
	if err := remote.Write(ref, img, remote.WithContext(ctx)); err != nil {
		return fmt.Errorf("pushing %s: %w", ref, err)
	}
	fmt.Println(ref.Context().Digest(d.String()))
	return nil
}
