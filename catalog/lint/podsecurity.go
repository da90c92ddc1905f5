package lint

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

// KanikoStepAnnotation names the one step of a Task that runs the Kaniko
// executor. Only that step may fall short of Pod Security "restricted".
const KanikoStepAnnotation = "lambda-builder.dev/kaniko-step"

// KanikoCapabilities is the only place the capabilities the Kaniko step may
// add are allowed. Each one is justified, with the failure seen without it, in
// tasks/kaniko-build/0.1/README.md; the Kaniko corpus tests run under exactly
// what the Task declares.
var KanikoCapabilities = []corev1.Capability{"CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETFCAP", "SETGID", "SETUID"}

var evaluator = sync.OnceValues(func() (policy.Evaluator, error) {
	return policy.NewEvaluator(policy.DefaultChecks(), nil)
})

// podSecurity builds, step by step, the pod Tekton would make for the Task
// and evaluates it: "restricted" for every step and sidecar, "baseline" plus
// the Kaniko rules for the step the Task names as its Kaniko step.
func (l *linter) podSecurity(d *document, t *v1.Task) []Finding {
	ev, err := evaluator()
	if err != nil {
		return []Finding{d.finding("", "pod security evaluator: "+err.Error())}
	}
	steps, err := v1.MergeStepsWithStepTemplate(t.Spec.StepTemplate, t.Spec.Steps)
	if err != nil {
		return []Finding{d.finding("spec.stepTemplate", "merging stepTemplate: "+err.Error())}
	}
	kanikoStep := t.Annotations[KanikoStepAnnotation]
	var out []Finding
	if kanikoStep != "" && !slices.ContainsFunc(steps, func(s v1.Step) bool { return s.Name == kanikoStep }) {
		out = append(out, d.findingf("metadata.annotations", "annotation %s names step %q, which the Task does not have", KanikoStepAnnotation, kanikoStep))
	}
	var containers []corev1.Container
	var paths []string
	for i, s := range steps {
		c, f := l.stepContainer(d, i, s)
		if f != nil {
			out = append(out, *f)
			continue
		}
		containers = append(containers, c)
		paths = append(paths, fmt.Sprintf("spec.steps[%d]", i))
	}
	for i, s := range t.Spec.Sidecars {
		containers = append(containers, corev1.Container{Name: s.Name, Image: s.Image, SecurityContext: s.SecurityContext})
		paths = append(paths, fmt.Sprintf("spec.sidecars[%d]", i))
	}
	var volumes []corev1.Volume
	volumes = append(volumes, t.Spec.Volumes...)
	for i, c := range containers {
		level := psapi.LevelRestricted
		if c.Name == kanikoStep && strings.HasPrefix(paths[i], "spec.steps") {
			level = psapi.LevelBaseline
			out = append(out, kanikoRules(d, paths[i], c)...)
		}
		pod := &corev1.PodSpec{Containers: []corev1.Container{c}, Volumes: volumes}
		for _, r := range ev.EvaluatePod(psapi.LevelVersion{Level: level, Version: psapi.LatestVersion()}, &metav1.ObjectMeta{}, pod) {
			if !r.Allowed {
				out = append(out, d.findingf(paths[i]+".securityContext", "step %q fails Pod Security %q: %s (%s)", c.Name, level, r.ForbiddenReason, r.ForbiddenDetail))
			}
		}
	}
	return out
}

// stepContainer is the container Tekton makes for a step; a step with a ref
// takes its image and securityContext from the StepAction.
func (l *linter) stepContainer(d *document, i int, s v1.Step) (corev1.Container, *Finding) {
	c := corev1.Container{Name: s.Name, Image: s.Image, SecurityContext: s.SecurityContext, Resources: s.ComputeResources}
	if s.Ref == nil {
		return c, nil
	}
	path := fmt.Sprintf("spec.steps[%d].ref", i)
	sa, ok := l.stepActions[s.Ref.Name]
	if s.Ref.Name == "" || !ok {
		f := d.findingf(path, "step %q refers to StepAction %q, which is not in the catalog: its pod security cannot be checked", s.Name, s.Ref.Name)
		return c, &f
	}
	var action v1beta1.StepAction
	if err := sa.decodeStrict(&action); err != nil {
		f := d.findingf(path, "StepAction %q: %v", s.Ref.Name, err)
		return c, &f
	}
	c.Image, c.SecurityContext = action.Spec.Image, action.Spec.SecurityContext
	return c, nil
}

// kanikoRules are what Kaniko's step must declare beyond "baseline": every
// capability dropped but the allow-list, no privilege escalation, an explicit
// user, the runtime's seccomp profile, and bounded memory.
func kanikoRules(d *document, path string, c corev1.Container) []Finding {
	sc := c.SecurityContext
	if sc == nil {
		return []Finding{d.findingf(path, "the Kaniko step %q has no securityContext", c.Name)}
	}
	var out []Finding
	at := path + ".securityContext"
	if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		out = append(out, d.findingf(at, "the Kaniko step %q must drop ALL capabilities", c.Name))
	}
	if sc.Capabilities != nil {
		for _, add := range sc.Capabilities.Add {
			if !slices.Contains(KanikoCapabilities, add) {
				out = append(out, d.findingf(at, "the Kaniko step %q adds capability %s, outside the allow-list %v", c.Name, add, KanikoCapabilities))
			}
		}
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		out = append(out, d.findingf(at, "the Kaniko step %q must set allowPrivilegeEscalation: false", c.Name))
	}
	if sc.RunAsUser == nil {
		out = append(out, d.findingf(at, "the Kaniko step %q must declare runAsUser explicitly", c.Name))
	}
	if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		out = append(out, d.findingf(at, "the Kaniko step %q must use seccompProfile RuntimeDefault", c.Name))
	}
	if sc.Privileged != nil && *sc.Privileged {
		out = append(out, d.findingf(at, "the Kaniko step %q must not be privileged", c.Name))
	}
	if c.Resources.Limits.Memory().IsZero() {
		out = append(out, d.findingf(path, "the Kaniko step %q must set computeResources.limits.memory", c.Name))
	}
	return out
}
