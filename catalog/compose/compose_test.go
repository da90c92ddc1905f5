package compose

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"knative.dev/pkg/apis"
	"sigs.k8s.io/yaml"
)

var demo = Spec{
	Name: "both", Version: "0.1", DisplayName: "Both", Categories: "Build Tools", Tags: "demo",
	Description: "Produce, then consume.",
	Parts: []Part{
		{Task: "produce", Version: "0.1"},
		{Task: "consume", Version: "0.1", Rename: map[string]string{"ARGS": "CONSUME_ARGS"}, Wire: map[string]string{"DIGEST": "DIGEST"}, Set: map[string]string{"STRICT": "true"}},
	},
	Scratch: []string{"source"},
}

func TestGenerate(t *testing.T) {
	out, err := Generate("testdata", demo)
	if err != nil {
		t.Fatal(err)
	}
	var task v1.Task
	if err := yaml.UnmarshalStrict(out, &task); err != nil {
		t.Fatalf("output is not a Task: %v\n%s", err, out)
	}
	ctx := apis.WithinCreate(context.Background())
	task.SetDefaults(ctx)
	if err := task.Validate(ctx); err != nil {
		t.Fatalf("Tekton rejects the generated Task: %v\n%s", err, out)
	}
	var params []string
	for _, p := range task.Spec.Params {
		params = append(params, p.Name+":"+string(p.Type))
	}
	if got := strings.Join(params, " "); got != "ARGS:array MODE:string CONSUME_ARGS:string" {
		t.Errorf("params = %s (shared MODE once, ARGS renamed, DIGEST wired away)", got)
	}
	if len(task.Spec.Steps) != 2 || task.Spec.Steps[0].Name != "make" || task.Spec.Steps[1].Name != "check" {
		t.Fatalf("steps = %+v", task.Spec.Steps)
	}
	env := map[string]string{}
	for _, e := range task.Spec.Steps[1].Env {
		env[e.Name] = e.Value
	}
	if env["DIGEST_FILE"] != "$(results.DIGEST.path)" || env["ARGS"] != "$(params.CONSUME_ARGS)" || env["MODE"] != "$(params.MODE)" || env["STRICT"] != "true" {
		t.Errorf("consume env = %v", env)
	}
	if len(task.Spec.Workspaces) != 1 {
		t.Fatalf("workspaces = %+v: the Scratch workspace source must be gone", task.Spec.Workspaces)
	}
	if v := task.Spec.Volumes; len(v) != 1 || v[0].Name != "source" || v[0].EmptyDir == nil {
		t.Errorf("volumes = %+v, want the emptyDir source", v)
	}
	makeStep := task.Spec.Steps[0]
	if m := makeStep.VolumeMounts; len(m) != 1 || m[0].Name != "source" || m[0].MountPath != "/workspace/source" {
		t.Errorf("make's volumeMounts = %+v", m)
	}
	if m := task.Spec.Steps[1].VolumeMounts; len(m) != 0 {
		t.Errorf("check does not use source but mounts %+v", m)
	}
	makeEnv := map[string]string{}
	for _, e := range makeStep.Env {
		makeEnv[e.Name] = e.Value
	}
	if makeEnv["DEST"] != "/workspace/source" || makeStep.WorkingDir != "/workspace/source" {
		t.Errorf("make env = %v, workingDir %q: both must be the mount", makeEnv, makeStep.WorkingDir)
	}
	// Two steps, Tekton's prepare and (for make's workingDir) its
	// working-dir-initializer share the pod's 12 KiB of termination messages.
	if makeEnv["RESULTS_BUDGET"] != "3072" || env["RESULTS_BUDGET"] != "3072" {
		t.Errorf("RESULTS_BUDGET = %q and %q, want 3072 (12 KiB / 4 containers)", makeEnv["RESULTS_BUDGET"], env["RESULTS_BUDGET"])
	}
	// Steps run one at a time: the pod requests the largest step's needs.
	mk, ck := makeStep.ComputeResources, task.Spec.Steps[1].ComputeResources
	if mk.Requests.Cpu().String() != "0" || mk.Requests.Memory().String() != "64Mi" || mk.Limits.Memory().String() != "128Mi" ||
		ck.Requests.Cpu().String() != "200m" || ck.Requests.Memory().String() != "0" {
		t.Errorf("requests: make %v (limits %v), check %v: each resource requested once, by the step needing the most", mk.Requests, mk.Limits, ck.Requests)
	}
	if pl := task.Annotations["tekton.dev/platforms"]; pl != "linux/amd64" {
		t.Errorf("platforms = %q, want the parts' common linux/amd64", pl)
	}
	creds := task.Spec.Workspaces[0]
	if creds.Name != "creds" || creds.Optional || creds.ReadOnly || creds.MountPath != "/creds" {
		t.Errorf("merged workspace = %+v: optional/readOnly only when both parts say so", creds)
	}
	if task.Annotations["tekton.dev/pipelines.minVersion"] != "1.2.0" || task.Annotations[kanikoStepAnnotation] != "make" {
		t.Errorf("annotations = %v", task.Annotations)
	}
	if task.Labels["app.kubernetes.io/version"] != "0.1" {
		t.Errorf("labels = %v", task.Labels)
	}
	for _, want := range []string{"# Comments survive composition.", "tasks/produce/0.1/produce.yaml", "make generate"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	again, _ := Generate("testdata", demo)
	if string(again) != string(out) {
		t.Error("two generations differ")
	}
}

func TestGenerateRejects(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Spec)
		file string // fixture file to break, relative to testdata
		old  string
		new  string
		want string
	}{
		{name: "type clash without a rename", edit: func(s *Spec) { s.Parts[1].Rename = nil }, want: "param ARGS is a string here and a array in an earlier part"},
		{name: "wire from a result nobody writes", edit: func(s *Spec) { s.Parts[1].Wire = map[string]string{"DIGEST": "NOPE"} }, want: "no earlier part writes"},
		{name: "wire an unknown param", edit: func(s *Spec) { s.Parts[1].Wire = map[string]string{"NOPE": "DIGEST"} }, want: "wire: no param NOPE"},
		{name: "scratch an unknown workspace", edit: func(s *Spec) { s.Scratch = []string{"nope"} }, want: "scratch: no part declares workspace nope"},
		{name: "set an unknown param", edit: func(s *Spec) { s.Parts[1].Set = map[string]string{"NOPE": "1"} }, want: "set: no param NOPE"},
		{name: "rename an unknown param", edit: func(s *Spec) { s.Parts[1].Rename["NOPE"] = "X" }, want: "rename: no param NOPE"},
		{name: "wired param used outside env", file: "tasks/consume/0.1/consume.yaml", old: "      env:\n", new: "      args: [\"$(params.DIGEST)\"]\n      env:\n", want: "used outside an env value"},
		{name: "result written twice", file: "tasks/consume/0.1/consume.yaml", old: "    - name: OK\n", new: "    - name: DIGEST\n", want: "result DIGEST is also written by produce"},
		{name: "step name twice", file: "tasks/consume/0.1/consume.yaml", old: "    - name: check\n", new: "    - name: make\n", want: "step make is also in an earlier part"},
		{name: "mountPaths differ", file: "tasks/consume/0.1/consume.yaml", old: "mountPath: /creds", new: "mountPath: /other", want: "mountPath /other differs"},
		{name: "no common platform", file: "tasks/consume/0.1/consume.yaml", old: "tekton.dev/platforms: linux/amd64", new: "tekton.dev/platforms: linux/s390x", want: "share none"},
		{name: "scratch workspace in a param default", file: "tasks/consume/0.1/consume.yaml", old: "      default: \"\"\n", new: "      default: $(workspaces.source.path)\n", want: "which an emptyDir cannot answer"},
		{name: "a stepTemplate", file: "tasks/consume/0.1/consume.yaml", old: "  steps:\n", new: "  stepTemplate:\n    env: []\n  steps:\n", want: "has a stepTemplate"},
		{name: "two Kaniko steps", file: "tasks/consume/0.1/consume.yaml", old: "    tekton.dev/platforms: linux/amd64\n", new: "    tekton.dev/platforms: linux/amd64\n    lambda-builder.dev/kaniko-step: check\n", want: "a second part names a Kaniko step"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for _, f := range []string{"tasks/produce/0.1/produce.yaml", "tasks/consume/0.1/consume.yaml"} {
				b, err := os.ReadFile(filepath.Join("testdata", f))
				if err != nil {
					t.Fatal(err)
				}
				if f == tt.file {
					if !strings.Contains(string(b), tt.old) {
						t.Fatalf("%s lacks %q", f, tt.old)
					}
					b = []byte(strings.Replace(string(b), tt.old, tt.new, 1))
				}
				os.MkdirAll(filepath.Dir(filepath.Join(root, f)), 0o755)
				if err := os.WriteFile(filepath.Join(root, f), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			s := demo
			s.Parts = []Part{demo.Parts[0], {Task: "consume", Version: "0.1", Rename: map[string]string{"ARGS": "CONSUME_ARGS"}, Wire: map[string]string{"DIGEST": "DIGEST"}}}
			if tt.edit != nil {
				tt.edit(&s)
			}
			_, err := Generate(root, s)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestVersionLess(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{{"", "1.0.0", true}, {"1.9.0", "1.10.0", true}, {"1.10.0", "1.9.0", false}, {"1.2.0", "1.2.0", false}, {"1.2", "1.2.1", true}} {
		if got := versionLess(tt.a, tt.b); got != tt.want {
			t.Errorf("versionLess(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
}
