// Command images builds the local stand-ins for public base images and pushes
// them to a registry, and wraps Go binaries into images the way ko does.
//
//	go run ./tests/cmd/images push 127.0.0.1:5000 busybox static python
//	go run ./tests/cmd/images binaries 127.0.0.1:5000/tekton/nop:dev ./bin/nop
//	go run ./tests/cmd/images list
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/google/go-containerregistry/pkg/name"
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
  images binaries REF [--base REF] BIN...  push BINs at /ko-app/NAME over a base (default: static)`

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
	case "binaries":
		if len(args) < 3 {
			return fmt.Errorf("%s", usage)
		}
		target, rest := args[1], args[2:]
		base, err := images.Static()
		if err != nil {
			return err
		}
		if len(rest) >= 2 && rest[0] == "--base" {
			ref, err := name.ParseReference(rest[1])
			if err != nil {
				return err
			}
			if base, err = remote.Image(ref, remote.WithContext(ctx)); err != nil {
				return fmt.Errorf("pulling base %s: %w", rest[1], err)
			}
			rest = rest[2:]
		}
		img, err := images.WithBinaries(base, rest...)
		if err != nil {
			return err
		}
		ref, err := images.Push(ctx, img, target)
		if err != nil {
			return err
		}
		fmt.Println(ref)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usage)
}
