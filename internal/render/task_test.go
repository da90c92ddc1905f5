package render

import (
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const taskFile = "../../tasks/render-dockerfile/0.1/render-dockerfile.yaml"

type taskDoc struct {
	Spec struct {
		Params []struct {
			Name    string `yaml:"name"`
			Default string `yaml:"default"`
		} `yaml:"params"`
		Results []struct {
			Name string `yaml:"name"`
		} `yaml:"results"`
		Workspaces []struct {
			Name string `yaml:"name"`
		} `yaml:"workspaces"`
		Steps []struct {
			Name  string `yaml:"name"`
			Image string `yaml:"image"`
			Env   []struct {
				Name  string `yaml:"name"`
				Value string `yaml:"value"`
			} `yaml:"env"`
			SecurityContext map[string]any `yaml:"securityContext"`
		} `yaml:"steps"`
	} `yaml:"spec"`
}

// TestTaskMatchesConfig keeps the Task and the step in step: every param is
// passed through env under its own name, every env variable the step reads
// is set, the version defaults are the same, and the results are the ones
// Run writes. (The catalog lint checks the Task against Tekton itself.)
func TestTaskMatchesConfig(t *testing.T) {
	b, err := os.ReadFile(taskFile)
	if err != nil {
		t.Fatal(err)
	}
	var task taskDoc
	if err := yaml.Unmarshal(b, &task); err != nil {
		t.Fatal(err)
	}
	if len(task.Spec.Steps) != 1 || len(task.Spec.Workspaces) != 1 || task.Spec.Workspaces[0].Name != "source" {
		t.Fatalf("want one step and the workspace source: %+v", task.Spec)
	}
	s := task.Spec.Steps[0]
	if s.Image != "ko://github.com/knative-lambda/lambda-builder/cmd/render-dockerfile" {
		t.Errorf("image = %s", s.Image)
	}

	env := map[string]string{}
	for _, e := range s.Env {
		env[e.Name] = e.Value
	}
	defaults := map[string]string{}
	for _, p := range task.Spec.Params {
		defaults[p.Name] = p.Default
		if env[p.Name] != "$(params."+p.Name+")" {
			t.Errorf("param %s reaches the step as %q, want env %s=$(params.%s)", p.Name, env[p.Name], p.Name, p.Name)
		}
	}
	if env["SOURCE_DIR"] != "$(workspaces.source.path)" {
		t.Errorf("SOURCE_DIR = %q", env["SOURCE_DIR"])
	}

	// Every variable Config reads is set by the Task, except the results
	// settings, whose defaults are Tekton's.
	var read []string
	for _, v := range envVars(Config{}) {
		if v != "RESULTS_DIR" && v != "RESULTS_BUDGET" {
			read = append(read, v)
		}
	}
	var set []string
	for name := range env {
		set = append(set, name)
	}
	sort.Strings(read)
	sort.Strings(set)
	if !reflect.DeepEqual(read, set) {
		t.Errorf("the step reads %v, the Task sets %v", read, set)
	}

	for name, want := range map[string]string{"PYTHON_VERSION": DefaultPythonVersion, "NODE_VERSION": DefaultNodeVersion, "GO_VERSION": DefaultGoVersion,
		"LANGUAGE": string(Auto), "DOCKERFILE_POLICY": string(PolicyAuto), "DOCKERFILE": "Dockerfile", "RESOLVE_DIGESTS": "false"} {
		if defaults[name] != want {
			t.Errorf("param %s defaults to %q, the step to %q", name, defaults[name], want)
		}
	}

	var results []string
	for _, r := range task.Spec.Results {
		results = append(results, r.Name)
	}
	if want := []string{ResultLanguage, ResultDockerfile, ResultBaseImages, ResultRendered}; !reflect.DeepEqual(results, want) {
		t.Errorf("results %v, want %v", results, want)
	}

	// The securityContext sits on the step so that it survives composition
	// into another Task; the lint checks it passes Pod Security restricted.
	sc := s.SecurityContext
	if sc["runAsUser"] != 65532 || sc["runAsGroup"] != 65532 || sc["readOnlyRootFilesystem"] != true || sc["runAsNonRoot"] != true || sc["allowPrivilegeEscalation"] != false {
		t.Errorf("step securityContext = %v", sc)
	}
}

// envVars lists the env tags of a config struct, embedded structs included.
func envVars(v any) []string {
	var out []string
	t := reflect.TypeOf(v)
	for i := range t.NumField() {
		f := t.Field(i)
		if tag, ok := f.Tag.Lookup("env"); ok {
			name, _, _ := strings.Cut(tag, ",")
			out = append(out, name)
			continue
		}
		if f.Type.Kind() == reflect.Struct {
			out = append(out, envVars(reflect.Zero(f.Type).Interface())...)
		}
	}
	return out
}
