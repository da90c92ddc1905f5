package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBinaryStaysSmall: the step binary must not link the test-only Dockerfile
// parser (BuildKit) nor the cluster libraries the catalog lint uses.
func TestBinaryStaysSmall(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	forbidden := []string{"github.com/moby/buildkit/", "github.com/tektoncd/", "k8s.io/", "knative.dev/"}
	for _, pkg := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if strings.HasPrefix(pkg, f) {
				t.Errorf("render-dockerfile links %s", pkg)
			}
		}
	}
}
