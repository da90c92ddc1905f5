// Command release assembles the catalog for `kubectl apply`: every resource
// catalog/catalog.yaml publishes, with step images and image param defaults
// pinned by digest. Run it from the repository top level.
//
//	release resolve -o release.yaml \
//	  -image fetch-code=r.example/lb/fetch-code@sha256:... \
//	  -param BUILDER_IMAGE=r.example/lb/kaniko@sha256:...
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/knative-lambda/lambda-builder/catalog"
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

func run(args []string) error {
	if len(args) == 0 || args[0] != "resolve" {
		return fmt.Errorf("usage: release resolve -o FILE [-image CMD=REF]... [-param NAME=REF]")
	}
	fs := flag.NewFlagSet("resolve", flag.ContinueOnError)
	out := fs.String("o", "release.yaml", "where to write the multi-document YAML")
	imgs, params := pairs{}, pairs{}
	fs.Var(imgs, "image", "CMD=REF: the image of cmd/CMD, by digest (repeat)")
	fs.Var(params, "param", "NAME=REF: the default of image param NAME, by digest (repeat)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	f, err := catalog.Load(".")
	if err != nil {
		return err
	}
	im := release.Images{Ko: map[string]string{}, ParamDefaults: params}
	for cmd, ref := range imgs {
		im.Ko[cmdPath+cmd] = ref
	}
	doc, err := release.Assemble(".", f, im)
	if err != nil {
		return err
	}
	return os.WriteFile(*out, doc, 0o644)
}
