//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// greetTask is a Task whose steps pass Pod Security "restricted" (as ours
// must): one script step (Tekton's shell image places the script) and one
// command step, a param passed through env, a result.
const greetTask = `apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: greet
spec:
  params:
  - name: who
    type: string
  results:
  - name: greeting
  stepTemplate:
    securityContext:
      runAsNonRoot: true
      runAsUser: 65532
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      capabilities: {drop: [ALL]}
      seccompProfile: {type: RuntimeDefault}
  steps:
  - name: greet
    image: BUSYBOX
    env:
    - {name: WHO, value: $(params.who)}
    script: |
      #!/bin/sh
      set -eu
      printf 'hello %s' "$WHO" | tee "$(results.greeting.path)"
  - name: whoami
    image: BUSYBOX
    command: [id, -u]
`

func withBusybox(manifest string) string { return strings.ReplaceAll(manifest, "BUSYBOX", c.busybox) }

func TestTaskRunSucceeds(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	apply(t, ns, withBusybox(greetTask))
	tr, err := c.tekton.TektonV1().TaskRuns(ns).Create(context.Background(), &v1.TaskRun{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "greet-"},
		Spec: v1.TaskRunSpec{
			TaskRef: &v1.TaskRef{Name: "greet"},
			Params:  v1.Params{{Name: "who", Value: *v1.NewStructuredValues("e2e")}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	done := waitTaskRun(t, ns, tr.Name)
	if got := resultOf(done.Status.Results, "greeting"); got != "hello e2e" {
		t.Errorf("result greeting = %q, want %q", got, "hello e2e")
	}
}

func resultOf(results []v1.TaskRunResult, name string) string {
	for _, r := range results {
		if r.Name == name {
			return r.Value.StringVal
		}
	}
	return ""
}
