// Command release assembles the catalog for `kubectl apply`: every resource
// catalog/catalog.yaml publishes, with step images and image param defaults
// pinned by digest. Run it from the repository top level.
//
//	release resolve -o release.yaml \
//	  -image fetch-code=r.example/lb/fetch-code@sha256:... \
//	  -param BUILDER_IMAGE=r.example/lb/kaniko@sha256:...
//	release resolve-files -o dist/triggers -image sns-interceptor=... FILE...
//	release bundle -f release.yaml -registry r.example   # prints the bundle by digest
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/knative-lambda/lambda-builder/catalog"
	"github.com/knative-lambda/lambda-builder/catalog/bundle"
	"github.com/knative-lambda/lambda-builder/catalog/release"
)

// cmdPath is the import path of the step binaries; -image names them by
// their folder under cmd/.
const cmdPath = "github.com/knative-lambda/lambda-builder/cmd/"

type pairs map[string]string

func (p pairs) String() string { return fmt.Sprint(map[string]string(p)) }
func (p pairs) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" || v == "" {
		return fmt.Errorf("%q is not NAME=REFERENCE", s)
	}
	p[k] = v
	return nil
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

const usage = "usage: release resolve -o FILE [-image CMD=REF]... [-param NAME=REF]... | release resolve-files -o DIR [-image CMD=REF]... FILE... | release bundle -f FILE -registry HOST[/PATH]"

func run(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%s", usage)
	}
	switch args[0] {
	case "resolve":
		return resolve(args[1:])
	case "resolve-files":
		return resolveFiles(args[1:])
	case "bundle":
		return pushBundle(args[1:])
	}
	return fmt.Errorf("%s", usage)
}

// pushBundle builds the Tekton bundle of a release file's documents and
// pushes it as REGISTRY/<catalog.yaml bundle>:<catalog.yaml version>.
func pushBundle(args []string) error {
	fs := flag.NewFlagSet("bundle", flag.ContinueOnError)
	file := fs.String("f", "release.yaml", "the release file (release resolve's output)")
	registry := fs.String("registry", "", "registry host[:port][/path] to push to")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *registry == "" {
		return fmt.Errorf("-registry is required")
	}
	f, err := catalog.Load(".")
	if err != nil {
		return err
	}
	doc, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	if strings.Contains(string(doc), "ko://") {
		return fmt.Errorf("%s has unresolved ko:// images: run release resolve first", *file)
	}
	img, _, err := bundle.Build([]string{string(doc)}, bundleTime())
	if err != nil {
		return err
	}
	ref, err := bundle.Push(context.Background(), img, strings.TrimSuffix(*registry, "/")+"/"+f.Bundle+":"+f.Version)
	if err != nil {
		return err
	}
	fmt.Println(ref)
	return nil
}

// bundleTime is the bundle's created time: Unix 0 (as tkn bundle push), or
// SOURCE_DATE_EPOCH when set.
func bundleTime() time.Time {
	if s, err := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64); err == nil {
		return time.Unix(s, 0).UTC()
	}
	return time.Unix(0, 0).UTC()
}

// resolveFiles copies YAML files that are not catalog resources (the
// triggers and the sns-interceptor) into a folder, ko:// images pinned.
func resolveFiles(args []string) error {
	fs := flag.NewFlagSet("resolve-files", flag.ContinueOnError)
	out := fs.String("o", "", "folder to write the resolved files to")
	imgs := pairs{}
	fs.Var(imgs, "image", "CMD=REF: the image of cmd/CMD, by digest (repeat)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() == 0 {
		return fmt.Errorf("%s", usage)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	im := release.Images{Ko: koImages(imgs)}
	for _, in := range fs.Args() {
		doc, err := os.ReadFile(in)
		if err != nil {
			return err
		}
		resolved, err := release.Resolve(doc, im)
		if err != nil {
			return fmt.Errorf("%s: %w", in, err)
		}
		if err := os.WriteFile(filepath.Join(*out, filepath.Base(in)), resolved, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func koImages(imgs pairs) map[string]string {
	ko := map[string]string{}
	for cmd, ref := range imgs {
		ko[cmdPath+cmd] = ref
	}
	return ko
}

func resolve(args []string) error {
	fs := flag.NewFlagSet("resolve", flag.ContinueOnError)
	out := fs.String("o", "release.yaml", "where to write the multi-document YAML")
	imgs, params := pairs{}, pairs{}
	fs.Var(imgs, "image", "CMD=REF: the image of cmd/CMD, by digest (repeat)")
	fs.Var(params, "param", "NAME=REF: the default of image param NAME, by digest (repeat)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f, err := catalog.Load(".")
	if err != nil {
		return err
	}
	im := release.Images{Ko: koImages(imgs), ParamDefaults: params}
	doc, err := release.Assemble(".", f, im)
	if err != nil {
		return err
	}
	return os.WriteFile(*out, doc, 0o644)
}
