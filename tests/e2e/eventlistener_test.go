//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// listener turns a push-like JSON event into a greet TaskRun. The CEL core
// interceptor filters it and computes the greeting target, so the path
// EventListener -> interceptor Service (DNS, kube-proxy) -> TaskRun is real.
const listener = `apiVersion: v1
kind: ServiceAccount
metadata:
  name: listener
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: listener
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: tekton-triggers-eventlistener-roles}
subjects:
- {kind: ServiceAccount, name: listener, namespace: NAMESPACE}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: NAMESPACE-listener
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: tekton-triggers-eventlistener-clusterroles}
subjects:
- {kind: ServiceAccount, name: listener, namespace: NAMESPACE}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerBinding
metadata:
  name: push
spec:
  params:
  - {name: who, value: $(extensions.target)}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerTemplate
metadata:
  name: greet
spec:
  params:
  - name: who
  resourcetemplates:
  - apiVersion: tekton.dev/v1
    kind: TaskRun
    metadata:
      generateName: greet-
    spec:
      taskRef: {name: greet}
      params:
      - {name: who, value: $(tt.params.who)}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata:
  name: pushes
spec:
  serviceAccountName: listener
  triggers:
  - name: push
    interceptors:
    - ref: {name: cel}
      params:
      - name: filter
        value: body.ref.startsWith('refs/heads/')
      - name: overlays
        value:
        - key: target
          expression: body.repository.name + '@' + body.ref.split('/')[2]
    bindings:
    - ref: push
    template:
      ref: greet
`

func TestEventListenerCreatesTaskRun(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	ctx := context.Background()
	apply(t, ns, withBusybox(greetTask))
	apply(t, ns, strings.ReplaceAll(listener, "NAMESPACE", ns))

	els := c.dynamic.Resource(schema.GroupVersionResource{Group: "triggers.tekton.dev", Version: "v1beta1", Resource: "eventlisteners"}).Namespace(ns)
	eventually(t, "EventListener pushes Ready", runTimeout, func(ctx context.Context) (bool, error) {
		el, err := els.Get(ctx, "pushes", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return conditionTrue(el, "Ready"), nil
	})
	svc, err := c.kube.CoreV1().Services(ns).Get(ctx, "el-pushes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://%s:8080", svc.Spec.ClusterIP)

	event := `{"ref": "refs/heads/main", "repository": {"name": "demo"}}`
	var reply struct {
		EventID string `json:"eventID"`
	}
	eventually(t, "the EventListener at "+url+" to accept a POST", time.Minute, func(ctx context.Context) (bool, error) {
		status, body, err := post(ctx, url, event)
		if err != nil || status != http.StatusAccepted {
			return false, fmt.Errorf("status %d, body %q, error %v", status, body, err)
		}
		return true, json.Unmarshal(body, &reply)
	})
	if reply.EventID == "" {
		t.Fatal("the EventListener reply has no eventID")
	}

	var run string
	eventually(t, "the TaskRun of event "+reply.EventID, runTimeout, func(ctx context.Context) (bool, error) {
		trs, err := c.tekton.TektonV1().TaskRuns(ns).List(ctx, metav1.ListOptions{LabelSelector: "triggers.tekton.dev/triggers-eventid=" + reply.EventID})
		if err != nil || len(trs.Items) == 0 {
			return false, err
		}
		run = trs.Items[0].Name
		return true, nil
	})
	done := waitTaskRun(t, ns, run)
	if got, want := resultOf(done.Status.Results, "greeting"), "hello demo@main"; got != want {
		t.Errorf("result greeting = %q, want %q (the CEL overlay's value)", got, want)
	}
}

func post(ctx context.Context, url, body string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewBufferString(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// conditionTrue reports whether obj's status has condition typ True.
func conditionTrue(obj *unstructured.Unstructured, typ string) bool {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == typ && m["status"] == "True" {
			return true
		}
	}
	return false
}
