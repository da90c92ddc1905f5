package lint

import (
	"context"
	"fmt"
	"strings"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/apis"
)

type linter struct {
	stepActions map[string]*document // by metadata.name, for steps with a ref
}

// tektonObject is what Tekton's webhook calls on every object it admits.
type tektonObject interface {
	SetDefaults(context.Context)
	Validate(context.Context) *apis.FieldError
}

func (l *linter) check(d *document) []Finding {
	obj, findings := decode(d)
	if obj == nil {
		return findings
	}
	ctx := apis.WithinCreate(context.Background())
	obj.SetDefaults(ctx)
	if fe := obj.Validate(ctx).Filter(apis.ErrorLevel); fe != nil {
		for _, e := range fe.WrappedErrors() {
			path := ""
			if len(e.Paths) > 0 {
				path = e.Paths[0]
			}
			msg := e.Message
			if len(e.Paths) > 0 {
				msg += ": " + strings.Join(e.Paths, ", ")
			}
			if e.Details != "" {
				msg += " (" + e.Details + ")"
			}
			findings = append(findings, d.finding(path, "Tekton validation: "+msg))
		}
	}
	if d.role == rolePublished {
		findings = append(findings, l.conventions(d, obj)...)
	}
	if t, ok := obj.(*v1.Task); ok {
		findings = append(findings, l.podSecurity(d, t)...)
	}
	return findings
}

// decode picks the Tekton type for the document's apiVersion and kind.
// Documents Tekton Pipelines does not own (Triggers, RBAC, Secrets) are only
// checked for YAML syntax here.
func decode(d *document) (tektonObject, []Finding) {
	var obj tektonObject
	switch d.apiVersion + "/" + d.kind {
	case "tekton.dev/v1/Task":
		obj = &v1.Task{}
	case "tekton.dev/v1/Pipeline":
		obj = &v1.Pipeline{}
	case "tekton.dev/v1/TaskRun":
		obj = &v1.TaskRun{}
	case "tekton.dev/v1/PipelineRun":
		obj = &v1.PipelineRun{}
	case "tekton.dev/v1beta1/StepAction":
		obj = &v1beta1.StepAction{}
	default:
		switch {
		case strings.HasPrefix(d.apiVersion, "tekton.dev/"):
			return nil, []Finding{d.findingf("apiVersion", "%s %s: the catalog publishes tekton.dev/v1 Tasks, Pipelines and runs (and v1beta1 StepActions)", d.apiVersion, d.kind)}
		case d.apiVersion == "" || d.kind == "":
			return nil, []Finding{d.finding("", "document without apiVersion and kind")}
		case d.role == rolePublished:
			return nil, []Finding{d.findingf("kind", "%s/%s cannot be the published resource: the file must hold a tekton.dev/v1 %s", d.apiVersion, d.kind, d.folder.kind)}
		}
		return nil, nil
	}
	if err := d.decodeStrict(obj); err != nil {
		return nil, []Finding{d.finding("", fmt.Sprintf("cannot decode as %s %s: %v", d.apiVersion, d.kind, err))}
	}
	// Samples use generateName, as `kubectl create` needs; the API server
	// names the object before Tekton's webhook sees it, so do the same.
	if m, ok := obj.(metav1.Object); ok && m.GetName() == "" && m.GetGenerateName() != "" {
		m.SetName(m.GetGenerateName() + "lint0")
	}
	return obj, nil
}
