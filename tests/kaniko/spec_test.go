package kanikotest

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
)

func resolved(t *testing.T, params map[string]pipelinev1.ParamValue, workspaces ...string) *Step {
	t.Helper()
	task, err := LoadTask(filepath.Join(RepoRoot(t), TaskPath))
	if err != nil {
		t.Fatal(err)
	}
	st, err := ResolveStep(task, params, workspaces)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func env(st *Step, name string) string {
	for _, e := range st.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return "<unset>"
}

// The Task as Tekton substitutes it: params reach the step through env and
// argv, the arrays expand element by element, and nothing is left over.
func TestResolveStep(t *testing.T) {
	st := resolved(t, map[string]pipelinev1.ParamValue{
		"IMAGE":         String("r.example/fn:1"),
		"BUILD_ARGS":    Array("A=1", "B=$(reboot)"),
		"EXTRA_ARGS":    Array("--label=x=y"),
		"BUILDER_IMAGE": String("r.example/kaniko@sha256:abc"),
	}, "source")
	if st.Name != "build" || st.Image != "r.example/kaniko@sha256:abc" {
		t.Errorf("step %s image %s", st.Name, st.Image)
	}
	if want := []string{"A=1", "B=$(reboot)", "--", "--label=x=y"}; !slices.Equal(st.Args, want) {
		t.Errorf("args %q, want %q", st.Args, want)
	}
	for k, want := range map[string]string{"IMAGE": "r.example/fn:1", "SOURCE_DIR": "/workspace/source", "CACHE_REPO": "", "CACHE": "true", "REPRODUCIBLE": "false"} {
		if got := env(st, k); got != want {
			t.Errorf("env %s = %q, want %q", k, got, want)
		}
	}
	if st.WorkingDir != "" || st.Mounts["/workspace/source"] != "source" {
		t.Errorf("workingDir %q (none: a workingDir costs an init container, see function-build), mounts %v", st.WorkingDir, st.Mounts)
	}
	if _, ok := st.Mounts["/kaniko/.docker"]; ok {
		t.Errorf("unbound optional dockerconfig is mounted: %v", st.Mounts)
	}
	st = resolved(t, map[string]pipelinev1.ParamValue{"IMAGE": String("r.example/fn:1")}, "source", "dockerconfig")
	if st.Mounts["/kaniko/.docker"] != "dockerconfig" || !st.ReadOnly["/kaniko/.docker"] {
		t.Errorf("dockerconfig mounts %v read-only %v", st.Mounts, st.ReadOnly)
	}
	if want := []string{"--"}; !slices.Equal(st.Args, want) {
		t.Errorf("empty arrays: args %q, want %q", st.Args, want)
	}
}

func TestResolveStepWithoutImage(t *testing.T) {
	task, err := LoadTask(filepath.Join(RepoRoot(t), TaskPath))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ResolveStep(task, nil, []string{"source"}); err == nil || !strings.Contains(err.Error(), "$(params.IMAGE)") {
		t.Errorf("missing IMAGE: %v", err)
	}
	if _, err := ResolveStep(task, map[string]pipelinev1.ParamValue{"IMAGE": String("r/x:1")}, nil); err == nil {
		t.Error("unbound source workspace accepted")
	}
}

func TestSpecFollowsTheSecurityContext(t *testing.T) {
	st := resolved(t, map[string]pipelinev1.ParamValue{"IMAGE": String("r.example/fn:1")}, "source")
	s, err := Spec(SpecInput{Step: st, Image: v1.Config{Env: []string{"PATH=/kaniko", "IMAGE=from-image"}, Entrypoint: []string{"/kaniko/executor"}, WorkingDir: "/workspace"},
		Binds: []Bind{{Source: "/tmp/src", Destination: "/workspace/source"}}, Hostname: "lbk-x", NoFile: 1024})
	if err != nil {
		t.Fatal(err)
	}
	p := s.Process
	if p.User.UID != 0 || p.User.GID != 0 || !p.NoNewPrivileges {
		t.Errorf("user %+v noNewPrivileges %v", p.User, p.NoNewPrivileges)
	}
	var want []string
	for _, c := range st.SecurityContext.Capabilities.Add {
		want = append(want, "CAP_"+string(c))
	}
	slices.Sort(want)
	if !slices.Equal(p.Capabilities.Bounding, want) || !slices.Equal(p.Capabilities.Effective, want) ||
		len(p.Capabilities.Inheritable) != 0 || len(p.Capabilities.Ambient) != 0 {
		t.Errorf("capabilities %+v, want exactly %v in bounding/effective/permitted", p.Capabilities, want)
	}
	if !slices.Equal(p.Args[:1], []string{"/kaniko/kaniko-build"}) || p.Cwd != "/workspace" {
		t.Errorf("args %q cwd %s", p.Args, p.Cwd)
	}
	if !slices.Contains(p.Env, "IMAGE=r.example/fn:1") || slices.Contains(p.Env, "IMAGE=from-image") || !slices.Contains(p.Env, "PATH=/kaniko") {
		t.Errorf("env %q: the step's env must override the image's", p.Env)
	}
	if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != "SCMP_ACT_ERRNO" || len(s.Linux.Seccomp.Syscalls) == 0 {
		t.Errorf("seccomp %+v, want containerd's default profile", s.Linux.Seccomp)
	}
	if s.Root.Readonly {
		t.Error("read-only root, the Task says readOnlyRootFilesystem false")
	}
	if m := s.Linux.Resources.Memory; m == nil || *m.Limit != 4<<30 {
		t.Errorf("memory limit %+v, want 4Gi", m)
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == "network" {
			t.Error("a network namespace: the runner uses the host network")
		}
	}
}

func TestCapabilityNames(t *testing.T) {
	sc := &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}, Add: []corev1.Capability{"setuid", "CHOWN", "CHOWN"}}}
	if got := Capabilities(sc); !slices.Equal(got, []string{"CAP_CHOWN", "CAP_SETUID"}) {
		t.Errorf("Capabilities = %v", got)
	}
}
