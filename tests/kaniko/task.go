// Package kanikotest runs the Kaniko step of tasks/kaniko-build exactly as
// the Task declares it: the YAML is decoded and substituted by Tekton's own
// code, and the step's image, command, args, env, user, capabilities,
// privilege escalation and seccomp become an OCI runtime spec run by runc on
// a fresh overlay root. Tests cannot drift from the YAML because they run it.
package kanikotest

import (
	"context"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/reconciler/taskrun/resources"
	"github.com/tektoncd/pipeline/pkg/workspace"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// TaskPath is the Task under test, relative to the repository root.
const TaskPath = "tasks/kaniko-build/0.1/kaniko-build.yaml"

// KanikoStepAnnotation names the step that runs Kaniko (catalog/lint).
const KanikoStepAnnotation = "lambda-builder.dev/kaniko-step"

// LoadTask decodes the Task strictly and applies Tekton's defaults.
func LoadTask(path string) (*v1.Task, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var t v1.Task
	if err := yaml.UnmarshalStrict(b, &t); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t.SetDefaults(context.Background())
	if err := t.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &t, nil
}

// Step is the Kaniko step after Tekton's substitutions, with the mounts
// Tekton would give it.
type Step struct {
	v1.Step
	// Mounts maps a path in the container to the name of the workspace or
	// volume mounted there; ReadOnly the ones mounted read-only.
	Mounts   map[string]string
	ReadOnly map[string]bool
}

// leftover finds a variable Tekton did not substitute (a missing param).
var leftover = regexp.MustCompile(`\$\((params|workspaces|results|context)\.[^)]*\)`)

// ResolveStep substitutes params, context, results and workspaces the way
// the TaskRun reconciler does (applyParamsContextsResultsAndWorkspaces) and
// returns the step the Task's annotation names. workspaces lists the bound
// workspaces by name (their content is mounted by the runner).
func ResolveStep(t *v1.Task, params map[string]v1.ParamValue, workspaces []string) (*Step, error) {
	tr := &v1.TaskRun{ObjectMeta: metav1.ObjectMeta{Name: "lbk-run", Namespace: "default", UID: "lbk"}}
	for _, p := range slices.Sorted(maps.Keys(params)) {
		tr.Spec.Params = append(tr.Spec.Params, v1.Param{Name: p, Value: params[p]})
	}
	for _, w := range workspaces {
		tr.Spec.Workspaces = append(tr.Spec.Workspaces, v1.WorkspaceBinding{Name: w, EmptyDir: &corev1.EmptyDirVolumeSource{}})
	}
	ctx := context.Background()
	ts := t.Spec.DeepCopy()
	ts = resources.ApplyParameters(ts, tr, ts.Params...)
	ts = resources.ApplyContexts(ts, t.Name, tr)
	ts = resources.ApplyResults(ts)
	ts = resources.ApplyArtifacts(ts)
	ts = resources.ApplyStepExitCodePath(ts)
	ts = resources.ApplyWorkspaces(ctx, ts, ts.Workspaces, tr.Spec.Workspaces, workspace.CreateVolumes(tr.Spec.Workspaces))
	steps, err := v1.MergeStepsWithStepTemplate(ts.StepTemplate, ts.Steps)
	if err != nil {
		return nil, err
	}
	want := t.Annotations[KanikoStepAnnotation]
	for _, s := range steps {
		if s.Name != want {
			continue
		}
		st := &Step{Step: s, Mounts: map[string]string{}, ReadOnly: map[string]bool{}}
		for _, decl := range ts.Workspaces {
			if slices.Contains(workspaces, decl.Name) {
				st.Mounts[decl.GetMountPath()] = decl.Name
				st.ReadOnly[decl.GetMountPath()] = decl.ReadOnly
			} else if !decl.Optional {
				return nil, fmt.Errorf("workspace %s is not optional and not bound", decl.Name)
			}
		}
		for _, vm := range s.VolumeMounts {
			st.Mounts[vm.MountPath] = vm.Name
			st.ReadOnly[vm.MountPath] = vm.ReadOnly
		}
		if m := leftover.FindString(strings.Join(append(append(append([]string{s.Image, s.WorkingDir}, s.Command...), s.Args...), envValues(s.Env)...), " ")); m != "" {
			return nil, fmt.Errorf("step %s still has %s after substitution: a param is missing", s.Name, m)
		}
		return st, nil
	}
	return nil, fmt.Errorf("the Task has no step %q (annotation %s)", want, KanikoStepAnnotation)
}

// EmptyDirs are the Task's emptyDir volumes by name.
func EmptyDirs(t *v1.Task) map[string]bool {
	out := map[string]bool{}
	for _, v := range t.Spec.Volumes {
		if v.EmptyDir != nil {
			out[v.Name] = true
		}
	}
	return out
}

// String and Array make param values.
func String(s string) v1.ParamValue { return *v1.NewStructuredValues(s) }
func Array(a ...string) v1.ParamValue {
	return v1.ParamValue{Type: v1.ParamTypeArray, ArrayVal: append([]string{}, a...)}
}

func envValues(env []corev1.EnvVar) []string {
	var out []string
	for _, e := range env {
		out = append(out, e.Value)
	}
	return out
}
