// Package depcheck keeps the step binaries small: they are injected into every
// build pod, so each imports only what its own work needs (see
// go-containerregistry's depcheck for the idea).
package depcheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// forbidden are module prefixes no step binary may link: Tekton's API
// machinery and the Kubernetes client stack add tens of MB and belong to the
// catalog tooling and the tests.
var forbidden = []string{
	"github.com/tektoncd/",
	"k8s.io/",
	"knative.dev/",
	"sigs.k8s.io/",
	"github.com/moby/buildkit",
	"github.com/knative-lambda/lambda-builder/catalog",
	"github.com/knative-lambda/lambda-builder/tests",
}

func TestStepBinariesStaySmall(t *testing.T) {
	cmds, err := filepath.Glob("../../cmd/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range cmds {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			continue
		}
		t.Run(filepath.Base(dir), func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", "./"+filepath.ToSlash(dir)).CombinedOutput()
			if err != nil {
				t.Fatalf("go list -deps %s: %v\n%s", dir, err, out)
			}
			for _, pkg := range strings.Fields(string(out)) {
				for _, f := range forbidden {
					if strings.HasPrefix(pkg, f) {
						t.Errorf("%s links %s (forbidden prefix %s)", filepath.Base(dir), pkg, f)
					}
				}
			}
		})
	}
}
