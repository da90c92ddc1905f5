package release

import (
	"strings"
	"testing"

	"github.com/knative-lambda/lambda-builder/catalog"
)

func TestAssembleRepositoryCatalog(t *testing.T) {
	f, err := catalog.Load("../..")
	if err != nil {
		t.Fatal(err)
	}
	im := Images{
		Ko: map[string]string{
			"github.com/knative-lambda/lambda-builder/cmd/fetch-code":        "r.example/lb/fetch-code@" + digest,
			"github.com/knative-lambda/lambda-builder/cmd/render-dockerfile": "r.example/lb/render-dockerfile@" + digest,
			"github.com/knative-lambda/lambda-builder/cmd/verify-image":      "r.example/lb/verify-image@" + digest,
		},
		ParamDefaults: map[string]string{"BUILDER_IMAGE": "r.example/lb/kaniko@" + digest},
	}
	out, err := Assemble("../..", f, im)
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	if strings.Contains(s, "ko://") || strings.Contains(s, "kaniko-executor:v") {
		t.Errorf("release still has floating images:\n%s", s)
	}
	if n := strings.Count(s, "\n---\n") + 1; n != len(f.Resources) {
		t.Errorf("%d documents, want %d", n, len(f.Resources))
	}
	if !strings.Contains(s, "default: r.example/lb/kaniko@"+digest) {
		t.Error("BUILDER_IMAGE default not pinned")
	}

	delete(im.Ko, "github.com/knative-lambda/lambda-builder/cmd/verify-image")
	if _, err := Assemble("../..", f, im); err == nil || !strings.Contains(err.Error(), "no image given for ko://github.com/knative-lambda/lambda-builder/cmd/verify-image") {
		t.Errorf("missing image: err = %v", err)
	}
	im.Ko["github.com/knative-lambda/lambda-builder/cmd/verify-image"] = "r.example/lb/verify-image:latest"
	if _, err := Assemble("../..", f, im); err == nil || !strings.Contains(err.Error(), "not pinned by digest") {
		t.Errorf("tag instead of digest: err = %v", err)
	}
}

func TestResolveRefusesParamDefaultsInManyDocuments(t *testing.T) {
	doc := "kind: Task\nspec:\n  params:\n    - name: BUILDER_IMAGE\n      default: r.example/k:1\n---\nkind: Task\n"
	_, err := Resolve([]byte(doc), Images{ParamDefaults: map[string]string{"BUILDER_IMAGE": "r.example/k@" + digest}})
	if err == nil || !strings.Contains(err.Error(), "single YAML document") {
		t.Errorf("err = %v: the second document would be dropped", err)
	}
}
