//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// TestWebhooks checks that the API server reaches Tekton's webhook (a pod)
// for validation, defaulting and CRD conversion.
func TestWebhooks(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	ctx := context.Background()

	t.Run("validation rejects an invalid Task", func(t *testing.T) {
		task := &v1.Task{
			ObjectMeta: metav1.ObjectMeta{Name: "invalid"},
			Spec: v1.TaskSpec{Steps: []v1.Step{{
				Name: "echo", Image: c.busybox, Command: []string{"echo"}, Args: []string{"$(params.missing)"},
			}}},
		}
		_, err := c.tekton.TektonV1().Tasks(ns).Create(ctx, task, metav1.CreateOptions{})
		if err == nil {
			t.Fatal("the API server accepted a Task using an undeclared param")
		}
		for _, want := range []string{`admission webhook "validation.webhook.pipeline.tekton.dev" denied`, `$(params.missing)`} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %q", err, want)
			}
		}
	})

	t.Run("defaulting fills a TaskRun", func(t *testing.T) {
		tr, err := c.tekton.TektonV1().TaskRuns(ns).Create(ctx, &v1.TaskRun{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "defaults-"},
			Spec: v1.TaskRunSpec{TaskSpec: &v1.TaskSpec{Steps: []v1.Step{{
				Name: "echo", Image: c.busybox, Command: []string{"true"},
			}}}},
		}, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			t.Fatal(err)
		}
		if tr.Spec.ServiceAccountName != "default" || tr.Spec.Timeout == nil || tr.Spec.Timeout.Duration != time.Hour {
			t.Errorf("defaulted spec: serviceAccountName %q timeout %v, want default and 1h", tr.Spec.ServiceAccountName, tr.Spec.Timeout)
		}
	})

	t.Run("conversion serves a v1beta1 Task as v1", func(t *testing.T) {
		var obj unstructured.Unstructured
		if err := yaml.Unmarshal([]byte(withBusybox(`apiVersion: tekton.dev/v1beta1
kind: Task
metadata:
  name: old-style
spec:
  params:
  - name: who
    default: world
  steps:
  - name: echo
    image: BUSYBOX
    command: [echo, $(params.who)]
`)), &obj.Object); err != nil {
			t.Fatal(err)
		}
		v1beta1 := c.dynamic.Resource(schema.GroupVersionResource{Group: "tekton.dev", Version: "v1beta1", Resource: "tasks"}).Namespace(ns)
		if _, err := v1beta1.Create(ctx, &obj, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating a v1beta1 Task: %v", err)
		}
		got, err := c.tekton.TektonV1().Tasks(ns).Get(ctx, "old-style", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("reading it as v1: %v", err)
		}
		if len(got.Spec.Steps) != 1 || got.Spec.Steps[0].Image != c.busybox || got.Spec.Params[0].Default.StringVal != "world" {
			t.Errorf("v1 view of the v1beta1 Task: %s", toYAML(got.Spec))
		}
	})
}
