//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"knative.dev/pkg/apis"
	"sigs.k8s.io/yaml"
)

// runTimeout bounds every wait for a run; a cold node pulls images first.
const runTimeout = 10 * time.Minute

const fieldManager = "lambda-builder-e2e"

// newNamespace creates a namespace for the test, enforcing Pod Security
// "restricted" like a production build namespace. It is deleted when the test
// passes and kept (with its state dumped to the test log) when it fails.
func newNamespace(t *testing.T) string {
	t.Helper()
	return newNamespaceWith(t, "restricted")
}

// newNamespaceWith is newNamespace enforcing another Pod Security level (and
// auditing restricted): function-build pods need baseline for the Kaniko step.
func newNamespaceWith(t *testing.T, level string) string {
	t.Helper()
	prefix := strings.ToLower(regexp.MustCompile(`[^a-zA-Z0-9]+`).ReplaceAllString(t.Name(), "-"))
	if len(prefix) > 40 {
		prefix = prefix[:40]
	}
	ns, err := c.kube.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		GenerateName: "e2e-" + strings.Trim(prefix, "-") + "-",
		Labels:       map[string]string{"pod-security.kubernetes.io/enforce": level, "pod-security.kubernetes.io/audit": "restricted"},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating a namespace: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			dumpNamespace(t, ns.Name)
			t.Logf("namespace %s kept for inspection", ns.Name)
			return
		}
		if err := c.kube.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{}); err != nil {
			t.Errorf("deleting namespace %s: %v", ns.Name, err)
		}
	})
	return ns.Name
}

// apply server-side applies the YAML documents in manifest, putting
// namespaced objects in ns. Cluster-scoped objects are deleted when the test
// ends.
func apply(t *testing.T, ns, manifest string) {
	t.Helper()
	ctx := context.Background()
	for _, doc := range strings.Split(manifest, "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
			t.Fatalf("decoding %q: %v", doc, err)
		}
		gvk := obj.GroupVersionKind()
		mapping, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			c.mapper.Reset()
			if mapping, err = c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
				t.Fatalf("%s is not served: %v", gvk, err)
			}
		}
		client := c.dynamic.Resource(mapping.Resource)
		var res interface {
			Apply(context.Context, string, *unstructured.Unstructured, metav1.ApplyOptions, ...string) (*unstructured.Unstructured, error)
		} = client
		if mapping.Scope.Name() == "namespace" {
			obj.SetNamespace(ns)
			res = client.Namespace(ns)
		} else {
			t.Cleanup(func() { _ = client.Delete(context.Background(), obj.GetName(), metav1.DeleteOptions{}) })
		}
		if _, err := res.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: fieldManager, Force: true}); err != nil {
			t.Fatalf("applying %s %s: %v", gvk.Kind, obj.GetName(), err)
		}
	}
}

// eventually polls cond until it returns true or an error, or timeout passes.
func eventually(t *testing.T, what string, timeout time.Duration, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), 500*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		ok, err := cond(ctx)
		if err != nil {
			last = err
		}
		return ok, nil
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v (last error: %v)", what, err, last)
	}
}

// waitTaskRun waits until the TaskRun succeeds and returns it; a failed run
// fails the test at once.
func waitTaskRun(t *testing.T, ns, name string) *v1.TaskRun {
	t.Helper()
	var tr *v1.TaskRun
	waitRun(t, "TaskRun "+ns+"/"+name, func(ctx context.Context) (*apis.Condition, error) {
		var err error
		tr, err = c.tekton.TektonV1().TaskRuns(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		return tr.Status.GetCondition(apis.ConditionSucceeded), nil
	})
	return tr
}

// waitPipelineRun is waitTaskRun for a PipelineRun.
func waitPipelineRun(t *testing.T, ns, name string) *v1.PipelineRun {
	t.Helper()
	var pr *v1.PipelineRun
	waitRun(t, "PipelineRun "+ns+"/"+name, func(ctx context.Context) (*apis.Condition, error) {
		var err error
		pr, err = c.tekton.TektonV1().PipelineRuns(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		return pr.Status.GetCondition(apis.ConditionSucceeded), nil
	})
	return pr
}

func waitRun(t *testing.T, what string, get func(context.Context) (*apis.Condition, error)) {
	t.Helper()
	var failed error
	err := wait.PollUntilContextTimeout(context.Background(), 500*time.Millisecond, runTimeout, true, func(ctx context.Context) (bool, error) {
		cond, err := get(ctx)
		switch {
		case err != nil:
			return false, nil // the API server may hiccup; the timeout bounds it
		case cond == nil || cond.IsUnknown():
			return false, nil
		case cond.IsFalse():
			failed = fmt.Errorf("%s failed: %s: %s", what, cond.Reason, cond.Message)
			return false, failed
		}
		return true, nil
	})
	switch {
	case failed != nil:
		t.Fatal(failed)
	case err != nil:
		t.Fatalf("waiting for %s to succeed: %v", what, err)
	}
}

// dumpNamespace logs what helps understand a failure: runs, pods (with every
// container's log tail) and events.
func dumpNamespace(t *testing.T, ns string) {
	ctx := context.Background()
	if trs, err := c.tekton.TektonV1().TaskRuns(ns).List(ctx, metav1.ListOptions{}); err == nil {
		for _, tr := range trs.Items {
			t.Logf("TaskRun %s: %s", tr.Name, toYAML(tr.Status.Conditions))
		}
	}
	if prs, err := c.tekton.TektonV1().PipelineRuns(ns).List(ctx, metav1.ListOptions{}); err == nil {
		for _, pr := range prs.Items {
			t.Logf("PipelineRun %s: %s", pr.Name, toYAML(pr.Status.Conditions))
		}
	}
	pods, err := c.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Logf("listing pods of %s: %v", ns, err)
		return
	}
	for _, p := range pods.Items {
		t.Logf("pod %s: phase %s\n%s", p.Name, p.Status.Phase, toYAML(append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...)))
		for _, ctr := range append(p.Spec.InitContainers, p.Spec.Containers...) {
			tail := int64(40)
			raw, err := c.kube.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{Container: ctr.Name, TailLines: &tail}).Do(ctx).Raw()
			if err != nil {
				raw = []byte(err.Error())
			}
			t.Logf("pod %s container %s log:\n%s", p.Name, ctr.Name, bytes.TrimSpace(raw))
		}
	}
	if evs, err := c.kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{}); err == nil {
		for _, e := range evs.Items {
			t.Logf("event %s %s/%s: %s %s", e.Type, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, e.Message)
		}
	}
}

func toYAML(v any) string {
	b, err := yaml.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
