// Package release turns the catalog into what consumers install: every
// ko:// image built and pinned by digest, one release.yaml for kubectl, a
// checksums file, and a Tekton bundle.
package release

import (
	"fmt"
	"regexp"
	"strings"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"sigs.k8s.io/yaml"
)

// pinned is an image reference fixed by digest; a tag may sit before it for
// readers (registry/repo:tag@sha256:...), Kubernetes uses the digest.
var pinned = regexp.MustCompile(`^[^\s@]+@sha256:[0-9a-f]{64}$`)

// paramRef is a step image taken from a Task param, e.g. $(params.BUILDER_IMAGE).
var paramRef = regexp.MustCompile(`^\$\(params\.([A-Za-z0-9_.-]+)\)$`)

// CheckPins reports every image of a Task that could change under a
// consumer: a ko:// reference left unresolved, or an image (or the default of
// the param an image comes from) not pinned by digest.
func CheckPins(doc []byte) []string {
	var problems []string
	if strings.Contains(string(doc), "ko://") {
		problems = append(problems, "contains an unresolved ko:// reference")
	}
	var head struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(doc, &head); err != nil {
		return append(problems, err.Error())
	}
	if head.Kind != "Task" {
		return problems // Pipelines reference Tasks, not images
	}
	var t v1.Task
	if err := yaml.Unmarshal(doc, &t); err != nil {
		return append(problems, err.Error())
	}
	defaults := map[string]string{}
	for _, p := range t.Spec.Params {
		if p.Default != nil {
			defaults[p.Name] = p.Default.StringVal
		}
	}
	check := func(where, image string) {
		if m := paramRef.FindStringSubmatch(image); m != nil {
			def, ok := defaults[m[1]]
			if !ok || !pinned.MatchString(def) {
				problems = append(problems, fmt.Sprintf("Task %s %s: image comes from param %s, whose default %q is not pinned by digest", t.Name, where, m[1], def))
			}
			return
		}
		if !pinned.MatchString(image) {
			problems = append(problems, fmt.Sprintf("Task %s %s: image %q is not pinned by digest", t.Name, where, image))
		}
	}
	for _, s := range t.Spec.Steps {
		if s.Ref == nil {
			check("step "+s.Name, s.Image)
		}
	}
	for _, s := range t.Spec.Sidecars {
		check("sidecar "+s.Name, s.Image)
	}
	if t.Spec.StepTemplate != nil && t.Spec.StepTemplate.Image != "" {
		check("stepTemplate", t.Spec.StepTemplate.Image)
	}
	return problems
}
