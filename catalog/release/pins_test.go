package release

import (
	"strings"
	"testing"
)

const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func taskWith(image, paramDefault string) string {
	return `apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: demo
spec:
  params:
    - name: BUILDER_IMAGE
      default: "` + paramDefault + `"
  steps:
    - name: build
      image: ` + image + `
`
}

func TestCheckPins(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want string // "" for no problem
	}{
		{"pinned", taskWith("r.example/fetch@"+digest, ""), ""},
		{"pinned with a tag for readers", taskWith("r.example/fetch:0.1@"+digest, ""), ""},
		{"floating tag", taskWith("r.example/fetch:latest", ""), `image "r.example/fetch:latest" is not pinned`},
		{"no tag", taskWith("r.example/fetch", ""), "is not pinned"},
		{"unresolved ko", taskWith("ko://github.com/knative-lambda/lambda-builder/cmd/fetch-code", ""), "unresolved ko://"},
		{"param default pinned", taskWith("$(params.BUILDER_IMAGE)", "r.example/kaniko@"+digest), ""},
		{"param default floating", taskWith("$(params.BUILDER_IMAGE)", "r.example/kaniko:v1"), "param BUILDER_IMAGE, whose default \"r.example/kaniko:v1\" is not pinned"},
		{"pipeline has no images", "apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata:\n  name: p\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problems := CheckPins([]byte(tt.doc))
			if tt.want == "" {
				if len(problems) != 0 {
					t.Errorf("unexpected problems: %v", problems)
				}
				return
			}
			if len(problems) == 0 || !strings.Contains(strings.Join(problems, "\n"), tt.want) {
				t.Errorf("problems = %v, want one containing %q", problems, tt.want)
			}
		})
	}
}
