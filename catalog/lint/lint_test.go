package lint

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/knative-lambda/lambda-builder/catalog"
	"github.com/knative-lambda/lambda-builder/catalog/compose"
)

const goodRoot = "testdata/good"
const helloTask = "tasks/hello/0.1/hello.yaml"

func TestGoodFixturePasses(t *testing.T) {
	findings, err := Run(goodRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range findings {
		t.Errorf("unexpected finding: %s", f)
	}
}

// TestRepositoryCatalog lints the real tasks/ and pipelines/ of this repository.
func TestRepositoryCatalog(t *testing.T) {
	if _, err := catalog.Load("../.."); err != nil {
		t.Fatalf("the repository must publish its resources in catalog/catalog.yaml: %v", err)
	}
	findings, err := Run("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range findings {
		t.Errorf("%s", f)
	}
}

// Each case breaks the good fixture in one way and names the finding the lint
// must report, with the line where it must point when that is known.
func TestBrokenFixturesAreRejected(t *testing.T) {
	tests := []struct {
		name     string
		file     string // relative to the fixture root
		old, new string // one replacement in file; new == "" with old == "" deletes the file
		want     string
		wantLine int
	}{
		{name: "broken YAML", file: helloTask, old: "  steps:\n", new: "  steps:\n   - bad: [\n", want: "invalid YAML"},
		{name: "bad param reference", file: helloTask, old: "--destination=$(params.GREETING)", new: "--destination=$(params.GREETNG)",
			want: `non-existent variable in "--destination=$(params.GREETNG)"`, wantLine: 40},
		{name: "unknown field", file: helloTask, old: "      script: |", new: "      scrpit: |", want: `unknown field "scrpit"`},
		{name: "missing annotation", file: helloTask, old: "    tekton.dev/platforms: linux/amd64\n", new: "", want: "missing annotation tekton.dev/platforms"},
		{name: "version label differs from folder", file: helloTask, old: `app.kubernetes.io/version: "0.1"`, new: `app.kubernetes.io/version: "0.2"`,
			want: `label app.kubernetes.io/version is "0.2", want "0.1"`},
		{name: "name differs from folder", file: helloTask, old: "  name: hello\n", new: "  name: hullo\n", want: `metadata.name "hullo" must equal the folder name "hello"`},
		{name: "param without description", file: helloTask, old: "      description: What to say.\n", new: "", want: "param GREETING has no description", wantLine: 17},
		{name: "param spliced into a script", file: helloTask, old: `echo "$GREETING"`, new: `echo "$(params.GREETING)"`, want: "spliced into a script"},
		{name: "privileged step", file: helloTask, old: "      image: registry.example/busybox:1\n", new: "      image: registry.example/busybox:1\n      securityContext:\n        privileged: true\n",
			want: `step "say" fails Pod Security "restricted": privileged`},
		{name: "step running as root", file: helloTask, old: "      runAsNonRoot: true\n      runAsUser: 65532\n", new: "      runAsUser: 0\n", want: `step "say" fails Pod Security "restricted"`},
		{name: "kaniko step adds a capability outside the allow-list", file: helloTask, old: `add: ["CHOWN", "SETUID"]`, new: `add: ["CHOWN", "SYS_ADMIN"]`,
			want: "adds capability SYS_ADMIN, outside the allow-list"},
		{name: "kaniko step without memory limit", file: helloTask, old: "      computeResources:\n        limits:\n          memory: 4Gi\n", new: "", want: "must set computeResources.limits.memory"},
		{name: "kaniko step allows escalation", file: helloTask, old: "        allowPrivilegeEscalation: false\n        readOnlyRootFilesystem: false\n", new: "        allowPrivilegeEscalation: true\n        readOnlyRootFilesystem: false\n",
			want: "must set allowPrivilegeEscalation: false"},
		{name: "annotation names a missing step", file: helloTask, old: "lambda-builder.dev/kaniko-step: build", new: "lambda-builder.dev/kaniko-step: kaniko", want: `names step "kaniko", which the Task does not have`},
		{name: "missing README", file: "tasks/hello/0.1/README.md", want: "missing README.md"},
		{name: "sample run with a wrong param type", file: "tasks/hello/0.1/samples/run.yaml", old: "  taskRef:\n    name: hello\n", new: "  taskRef:\n    name: hello\n  timeout: forever\n",
			want: "cannot decode as tekton.dev/v1 TaskRun"},
		{name: "pipeline with an unknown param", file: "pipelines/hello-pipeline/0.1/hello-pipeline.yaml", old: "value: $(params.GREETING)", new: "value: $(params.NAME)",
			want: "non-existent variable"},
		{name: "folder not in catalog.yaml", file: "catalog/catalog.yaml", old: "  - kind: Task\n    name: hello\n    version: \"0.1\"\n", new: "",
			want: "tasks/hello/0.1 is not in catalog/catalog.yaml"},
		{name: "catalog.yaml lists a missing version", file: "catalog/catalog.yaml", old: `version: "0.1"`, new: `version: "0.2"`,
			want: "Task hello 0.2 is published but tasks/hello/0.2/hello.yaml does not exist"},
		{name: "catalog version not semver", file: "catalog/catalog.yaml", old: "version: 1.2.3", new: "version: v1.2",
			want: `version "v1.2" is not semver`},
		{name: "wrong kind in the published file", file: "pipelines/hello-pipeline/0.1/hello-pipeline.yaml", old: "apiVersion: tekton.dev/v1\nkind: Pipeline", new: "apiVersion: v1\nkind: ConfigMap",
			want: "cannot be the published resource"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := copyTree(t, goodRoot)
			path := filepath.Join(root, tt.file)
			if tt.old == "" && tt.new == "" {
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
			} else {
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(string(b), tt.old) {
					t.Fatalf("fixture %s does not contain %q", tt.file, tt.old)
				}
				if err := os.WriteFile(path, []byte(strings.Replace(string(b), tt.old, tt.new, 1)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			findings, err := Run(root)
			if err != nil {
				t.Fatal(err)
			}
			var all []string
			for _, f := range findings {
				all = append(all, f.String())
				if strings.Contains(f.Message, tt.want) {
					if tt.wantLine != 0 && f.Line != tt.wantLine {
						t.Errorf("finding %q at line %d, want line %d", f, f.Line, tt.wantLine)
					}
					t.Logf("rejected: %s", f)
					return
				}
			}
			t.Errorf("no finding contains %q; got:\n%s", tt.want, strings.Join(all, "\n"))
		})
	}
}

func TestSplitPath(t *testing.T) {
	tests := map[string][]string{
		"spec.steps[0].args[1]":  {"spec", "steps", "[0]", "args", "[1]"},
		"spec.params[NAME]":      {"spec", "params", "[NAME]"},
		"metadata.annotations":   {"metadata", "annotations"},
		"":                       nil,
		"spec.tasks[2].taskSpec": {"spec", "tasks", "[2]", "taskSpec"},
	}
	for in, want := range tests {
		got := splitPath(in)
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("splitPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestGeneratedTaskMustMatchItsParts(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"tasks/produce/0.1/produce.yaml", "tasks/consume/0.1/consume.yaml"} {
		b, err := os.ReadFile(filepath.Join("../compose/testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(root, filepath.Dir(f)), 0o755)
		os.WriteFile(filepath.Join(root, f), b, 0o644)
	}
	spec := compose.Spec{Name: "both", Version: "0.1", Parts: []compose.Part{
		{Task: "produce", Version: "0.1"},
		{Task: "consume", Version: "0.1", Rename: map[string]string{"ARGS": "CONSUME_ARGS"}},
	}}
	specs := []compose.Spec{spec}
	if got := generated(root, specs); len(got) != 1 || !strings.Contains(got[0].Message, "missing") {
		t.Fatalf("findings = %v, want the missing generated file", got)
	}
	out, err := compose.Generate(root, spec)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(root, "tasks/both/0.1"), 0o755)
	os.WriteFile(filepath.Join(root, spec.Path()), out, 0o644)
	if got := generated(root, specs); len(got) != 0 {
		t.Fatalf("findings = %v for a fresh generation", got)
	}
	// A part changes; the generated file is now stale.
	part := filepath.Join(root, "tasks/produce/0.1/produce.yaml")
	os.WriteFile(part, []byte(strings.Replace(string(mustRead(t, part)), "Shared mode.", "Shared mode, changed.", 1)), 0o644)
	if got := generated(root, specs); len(got) != 1 || !strings.Contains(got[0].Message, "make generate") {
		t.Fatalf("findings = %v, want the stale generated file", got)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
