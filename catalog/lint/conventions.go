package lint

import (
	"fmt"
	"regexp"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
)

// RequiredAnnotations are the tektoncd/catalog annotations hub and users read.
var RequiredAnnotations = []string{
	"tekton.dev/pipelines.minVersion",
	"tekton.dev/categories",
	"tekton.dev/tags",
	"tekton.dev/displayName",
	"tekton.dev/platforms",
}

const versionLabel = "app.kubernetes.io/version"

// splicedParam finds a param spliced into shell: Tekton substitutes it before
// the shell parses the script, so a value like `$(reboot)` or a newline runs.
// Params must reach scripts through env.
var splicedParam = regexp.MustCompile(`\$\(\s*params[.\[]`)

// conventions holds a published resource to the catalog's rules.
func (l *linter) conventions(d *document, obj tektonObject) []Finding {
	var out []Finding
	meta, kind := objectMeta(obj)
	if kind != d.folder.kind {
		return []Finding{d.findingf("kind", "%s.yaml holds a %s, want a %s (folder %s)", d.folder.name, kind, d.folder.kind, d.folder.dir)}
	}
	if meta.name != d.folder.name {
		out = append(out, d.findingf("metadata.name", "metadata.name %q must equal the folder name %q", meta.name, d.folder.name))
	}
	if got := meta.labels[versionLabel]; got != d.folder.version {
		out = append(out, d.findingf("metadata.labels", "label %s is %q, want %q (the version folder)", versionLabel, got, d.folder.version))
	}
	for _, a := range RequiredAnnotations {
		if meta.annotations[a] == "" {
			out = append(out, d.findingf("metadata.annotations", "missing annotation %s", a))
		}
	}
	for i, p := range meta.params {
		if p.Description == "" {
			out = append(out, d.findingf(fmt.Sprintf("spec.params[%d]", i), "param %s has no description", p.Name))
		}
	}
	for path, script := range meta.scripts {
		if splicedParam.MatchString(script) {
			out = append(out, d.findingf(path, "a $(params.*) reference is spliced into a script (an injection hole): pass the param through env and use \"$NAME\""))
		}
	}
	return out
}

type metaView struct {
	name        string
	labels      map[string]string
	annotations map[string]string
	params      v1.ParamSpecs
	scripts     map[string]string // field path -> script
}

func objectMeta(obj tektonObject) (metaView, string) {
	switch o := obj.(type) {
	case *v1.Task:
		return metaView{o.Name, o.Labels, o.Annotations, o.Spec.Params, taskScripts("spec", &o.Spec)}, "Task"
	case *v1.Pipeline:
		scripts := map[string]string{}
		for i, pt := range append(append([]v1.PipelineTask{}, o.Spec.Tasks...), o.Spec.Finally...) {
			if pt.TaskSpec != nil {
				section := "tasks"
				idx := i
				if i >= len(o.Spec.Tasks) {
					section, idx = "finally", i-len(o.Spec.Tasks)
				}
				for k, v := range taskScripts(fmt.Sprintf("spec.%s[%d].taskSpec", section, idx), &pt.TaskSpec.TaskSpec) {
					scripts[k] = v
				}
			}
		}
		return metaView{o.Name, o.Labels, o.Annotations, o.Spec.Params, scripts}, "Pipeline"
	case *v1beta1.StepAction:
		return metaView{o.Name, o.Labels, o.Annotations, o.Spec.Params, map[string]string{"spec.script": o.Spec.Script}}, "StepAction"
	case *v1.TaskRun:
		return metaView{name: o.Name}, "TaskRun"
	case *v1.PipelineRun:
		return metaView{name: o.Name}, "PipelineRun"
	}
	return metaView{}, fmt.Sprintf("%T", obj)
}

func taskScripts(prefix string, spec *v1.TaskSpec) map[string]string {
	out := map[string]string{}
	for i, s := range spec.Steps {
		out[fmt.Sprintf("%s.steps[%d].script", prefix, i)] = s.Script
	}
	for i, s := range spec.Sidecars {
		out[fmt.Sprintf("%s.sidecars[%d].script", prefix, i)] = s.Script
	}
	return out
}
