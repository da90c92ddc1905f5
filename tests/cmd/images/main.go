// Command images builds the local stand-ins for public base images and pushes
// them to a registry, and wraps Go binaries into images the way ko does.
//
//	go run ./tests/cmd/images push 127.0.0.1:5000 busybox static python
//	go run ./tests/cmd/images static 127.0.0.1:5000/lambda-builder/base:nonroot
//	go run ./tests/cmd/images binaries 127.0.0.1:5000/tekton/nop:dev ./bin/nop
//	go run ./tests/cmd/images each 127.0.0.1:5000/tekton v1.15.1 ./bin/nop ./bin/webhook
//	go run ./tests/cmd/images list
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/knative-lambda/lambda-builder/tests/images"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "images:", err)
		os.Exit(1)
	}
}

const usage = `usage:
  images list
  images push REGISTRY NAME...           build stand-ins and push them (NAME: see list)
  images static REF                      push the static base (CA certificates, tzdata, nonroot 65532) to REF
  images binaries REF [--base REF] BIN...  push BINs at /ko-app/NAME over a base (default: static)
  images each REPO TAG [--base REF] BIN...  push one such image per BIN as REPO/NAME:TAG;
                                            prints "NAME REPO/NAME@DIGEST" lines`

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%s", usage)
	}
	cache := images.DefaultCache()
	switch args[0] {
	case "list":
		for _, n := range images.StandInNames() {
			fmt.Printf("%-8s %v  %s\n", n, images.StandIns[n].Refs, images.StandIns[n].Note)
		}
		return nil
	case "push":
		if len(args) < 3 {
			return fmt.Errorf("%s", usage)
		}
		for _, n := range args[2:] {
			refs, err := images.PushStandIn(ctx, cache, args[1], n)
			if err != nil {
				return err
			}
			for _, r := range refs {
				fmt.Println(r)
			}
		}
		return nil
	case "static":
		if len(args) != 2 {
			return fmt.Errorf("%s", usage)
		}
		base, err := images.Static()
		if err != nil {
			return err
		}
		return pushAndPrint(ctx, base, args[1])
	case "binaries":
		if len(args) < 3 {
			return fmt.Errorf("%s", usage)
		}
		base, bins, err := baseAndBinaries(ctx, args[2:])
		if err != nil {
			return err
		}
		img, err := cache.WithBinaries(base, bins...)
		if err != nil {
			return err
		}
		return pushAndPrint(ctx, img, args[1])
	case "each":
		if len(args) < 4 {
			return fmt.Errorf("%s", usage)
		}
		repo, tag := args[1], args[2]
		base, bins, err := baseAndBinaries(ctx, args[3:])
		if err != nil {
			return err
		}
		for _, bin := range bins {
			img, err := cache.WithBinaries(base, bin)
			if err != nil {
				return err
			}
			app := filepath.Base(bin)
			ref, err := images.Push(ctx, img, repo+"/"+app+":"+tag)
			if err != nil {
				return err
			}
			fmt.Println(app, ref)
		}
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usage)
}

// pushAndPrint pushes img to ref and prints it by digest.
func pushAndPrint(ctx context.Context, img v1.Image, ref string) error {
	pushed, err := images.Push(ctx, img, ref)
	if err != nil {
		return err
	}
	fmt.Println(pushed)
	return nil
}

// baseAndBinaries reads an optional leading "--base REF" (default: the static
// base) and returns the base image and the binaries after it.
func baseAndBinaries(ctx context.Context, args []string) (v1.Image, []string, error) {
	if len(args) < 2 || args[0] != "--base" {
		base, err := images.Static()
		return base, args, err
	}
	ref, err := name.ParseReference(args[1])
	if err != nil {
		return nil, nil, err
	}
	base, err := remote.Image(ref, remote.WithContext(ctx))
	if err != nil {
		return nil, nil, fmt.Errorf("pulling base %s: %w", args[1], err)
	}
	return base, args[2:], nil
}
