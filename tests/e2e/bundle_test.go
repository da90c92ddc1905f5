//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/knative-lambda/lambda-builder/catalog/bundle"
	"github.com/knative-lambda/lambda-builder/tests/images"
)

// TestPipelineRunFromBundle pushes two bundles to the cluster registry (a
// Task, then a Pipeline whose taskRef points at the first by digest) and runs
// the Pipeline through pipelineRef `resolver: bundles`, as other teams will
// use the catalog.
func TestPipelineRunFromBundle(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	ctx := context.Background()
	tag := fmt.Sprint(time.Now().UnixNano())

	taskBundle, err := pushBundle(ctx, c.registry+"/e2e/tasks:"+tag, withBusybox(greetTask))
	if err != nil {
		t.Fatal(err)
	}
	pipeline := fmt.Sprintf(`apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: greet-twice
spec:
  params:
  - name: who
    type: string
  results:
  - name: greetings
    value: $(tasks.first.results.greeting) / $(tasks.second.results.greeting)
  tasks:
  - name: first
    taskRef: &greet
      resolver: bundles
      params:
      - {name: bundle, value: %[1]s}
      - {name: name, value: greet}
      - {name: kind, value: task}
    params:
    - {name: who, value: $(params.who)}
  - name: second
    runAfter: [first]
    taskRef: *greet
    params:
    - {name: who, value: again}
`, taskBundle)
	pipelineBundle, err := pushBundle(ctx, c.registry+"/e2e/pipelines:"+tag, pipeline)
	if err != nil {
		t.Fatal(err)
	}

	pr, err := c.tekton.TektonV1().PipelineRuns(ns).Create(ctx, &v1.PipelineRun{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "greet-twice-"},
		Spec: v1.PipelineRunSpec{
			PipelineRef: bundledPipeline(pipelineBundle, "greet-twice"),
			Params:      v1.Params{{Name: "who", Value: *v1.NewStructuredValues("bundles")}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	done := waitPipelineRun(t, ns, pr.Name)
	var got string
	for _, r := range done.Status.Results {
		if r.Name == "greetings" {
			got = r.Value.StringVal
		}
	}
	if want := "hello bundles / hello again"; got != want {
		t.Errorf("pipeline result greetings = %q, want %q", got, want)
	}
	if src := done.Status.Provenance; src == nil || src.RefSource == nil || !strings.HasPrefix(src.RefSource.URI, c.registry+"/e2e/pipelines") {
		t.Errorf("provenance does not record the bundle: %s", toYAML(done.Status.Provenance))
	}
}

// pushBundle builds a bundle of docs with the catalog's own builder (the one
// `make bundle` uses) and pushes it to the cluster registry, returning
// ref's repository @ digest.
func pushBundle(ctx context.Context, ref string, docs ...string) (string, error) {
	img, _, err := bundle.Build(docs, time.Unix(0, 0))
	if err != nil {
		return "", err
	}
	return images.Push(ctx, img, ref)
}

// bundledPipeline references Pipeline name in bundle through the bundles
// resolver.
func bundledPipeline(bundle, name string) *v1.PipelineRef {
	return &v1.PipelineRef{ResolverRef: v1.ResolverRef{Resolver: "bundles", Params: v1.Params{
		{Name: "bundle", Value: *v1.NewStructuredValues(bundle)},
		{Name: "name", Value: *v1.NewStructuredValues(name)},
		{Name: "kind", Value: *v1.NewStructuredValues("pipeline")},
	}}}
}
