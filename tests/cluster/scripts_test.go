package cluster

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// bash runs script with up.sh's functions loaded (its main does not run when
// sourced) and CLUSTER_DIR in a temporary folder.
func bash(t *testing.T, script string, env ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("bash", "-c", "set -euo pipefail; source ./up.sh; export_settings; "+script)
	cmd.Env = append(os.Environ(), append([]string{"CLUSTER_DIR=" + t.TempDir(), "REGISTRY=10.1.2.3:5000"}, env...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRenderRefusesUndefinedVariables(t *testing.T) {
	dir := t.TempDir()
	good := write(t, dir, "good.yaml", "registry: ${REGISTRY}\nport: ${APISERVER_PORT}\n")
	out, err := bash(t, "render "+good+" "+dir+"/good.out && cat "+dir+"/good.out")
	if err != nil || out != "registry: 10.1.2.3:5000\nport: 16443\n" {
		t.Errorf("render = %q, %v", out, err)
	}
	bad := write(t, dir, "bad.yaml", "x: ${NO_SUCH_SETTING}\n")
	out, err = bash(t, "render "+bad+" "+dir+"/bad.out")
	if err == nil || !strings.Contains(out, "undefined ${NO_SUCH_SETTING} in "+bad) {
		t.Errorf("render of an undefined variable: %q, %v; want a failure naming it", out, err)
	}
	if left, _ := filepath.Glob(dir + "/bad.out*"); len(left) != 0 {
		t.Errorf("a failed render left %v", left)
	}
}

func TestReleaseYAML(t *testing.T) {
	dir := t.TempDir()
	// The last line has no newline, as in Triggers' 201-clusterrolebinding.yaml:
	// the next file must still start a new document.
	write(t, dir, "a.yaml", "kind: Deployment\nspec:\n  image: ko://example.com/proj/cmd/controller\n  args: [\"-shell-image\", \"cgr.dev/chainguard/busybox@sha256:abc123\"]")
	write(t, dir, "b.yaml", "kind: ClusterRoleBinding\nname: b\nimage: \"ko://example.com/proj/cmd/controller-extra\"\n")
	images := write(t, dir, "images", "controller 10.1.2.3:5000/proj/controller@sha256:1111\ncontroller-extra 10.1.2.3:5000/proj/controller-extra@sha256:2222\n")
	out, err := bash(t, "cd "+dir+" && release_yaml "+dir+" "+images+" example.com/proj a.yaml b.yaml",
		"SHELL_IMAGE=10.1.2.3:5000/chainguard/busybox@sha256:3333")
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want := "kind: Deployment\nspec:\n  image: 10.1.2.3:5000/proj/controller@sha256:1111\n" +
		"  args: [\"-shell-image\", \"10.1.2.3:5000/chainguard/busybox@sha256:3333\"]\n---\n" +
		"kind: ClusterRoleBinding\nname: b\nimage: \"10.1.2.3:5000/proj/controller-extra@sha256:2222\"\n\n---\n"
	if out != want {
		t.Errorf("release_yaml =\n%s\nwant\n%s", out, want)
	}
}

func TestCheckImages(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		ok         bool
	}{
		{"all local", "image: 10.1.2.3:5000/a@sha256:" + strings.Repeat("a", 64) + "\n# gcr.io/x in a comment\ndescription: 'image:'\n", true},
		{"ko reference left", "image: ko://github.com/tektoncd/pipeline/cmd/nop\n", false},
		{"public image", "      - image: gcr.io/distroless/static\n", false},
		{"public digest in args", "args: [\"-shell-image\", \"cgr.dev/chainguard/busybox@sha256:" + strings.Repeat("b", 64) + "\"]\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := write(t, t.TempDir(), "r.yaml", tc.yaml)
			out, err := bash(t, "check_images "+f)
			if (err == nil) != tc.ok {
				t.Errorf("check_images ok=%v, want %v: %s", err == nil, tc.ok, out)
			}
		})
	}
}

func TestTektonFeatureFlags(t *testing.T) {
	out, err := bash(t, "tekton_feature_flags", "TEKTON_FEATURE_FLAGS=set-security-context=true results-from=sidecar-logs")
	if want := `{"data":{"set-security-context":"true","results-from":"sidecar-logs"}}` + "\n"; err != nil || out != want {
		t.Errorf("tekton_feature_flags = %q, %v; want %q", out, err, want)
	}
}
