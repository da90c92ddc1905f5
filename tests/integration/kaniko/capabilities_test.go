//go:build integration

package kaniko

import (
	"slices"
	"strings"
	"testing"

	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/knative-lambda/lambda-builder/catalog/lint"
	kanikotest "github.com/knative-lambda/lambda-builder/tests/kaniko"
)

// necessary names, for each capability of the allow-list, a corpus case that
// fails without it and what it shows then (the README's table, measured by
// running the whole corpus one capability short).
var necessary = map[corev1.Capability]struct {
	corpusCase string
	want       string // in the log, or in the image check
}{
	"CHOWN":        {"copy-basic", "failed to get filesystem from image: chown /home/nonroot: operation not permitted"},
	"DAC_OVERRIDE": {"copy-chown", "creating file: open /data/a.txt: permission denied"},
	"FOWNER":       {"copy-basic", "failed to get filesystem from image: chmod /home/nonroot: operation not permitted"},
	"FSETID":       {"setuid-next-stage", "/usr/local/bin/tool: mode 4755, want 6755"},
	"KILL":         {"background-nonroot", "failed to execute command: operation not permitted"},
	"SETFCAP":      {"setcap", "unable to set CAP_SETFCAP effective capability: Operation not permitted"},
	"SETGID":       {"user-switch", "fork/exec /bin/sh: operation not permitted"},
	"SETUID":       {"user-switch", "fork/exec /bin/sh: operation not permitted"},
}

// TestCapabilitiesAreNecessary runs, for every capability the Task adds, one
// corpus case with the Task's profile minus that capability, and expects it
// to break: the allow-list is minimal as well as sufficient (TestCorpus).
func TestCapabilitiesAreNecessary(t *testing.T) {
	s := newSuite(t)
	cases, err := kanikotest.LoadCorpus(s.root)
	if err != nil {
		t.Fatal(err)
	}
	task, err := kanikotest.LoadTask(s.root + "/" + kanikotest.TaskPath)
	if err != nil {
		t.Fatal(err)
	}
	st, err := kanikotest.ResolveStep(task, map[string]pipelinev1.ParamValue{"IMAGE": kanikotest.String("x/y:1")}, []string{"source"})
	if err != nil {
		t.Fatal(err)
	}
	declared := st.SecurityContext.Capabilities.Add
	if !slices.Equal(declared, lint.KanikoCapabilities) {
		t.Errorf("the Task adds %v, the lint allows %v: keep them equal", declared, lint.KanikoCapabilities)
	}
	sem := make(chan struct{}, 2)
	for _, capability := range declared {
		want, ok := necessary[capability]
		if !ok {
			t.Errorf("capability %s has no case showing it is needed", capability)
			continue
		}
		i := slices.IndexFunc(cases, func(c kanikotest.Case) bool { return c.Name == want.corpusCase })
		if i < 0 {
			t.Fatalf("no corpus case %s", want.corpusCase)
		}
		c := cases[i]
		t.Run(string(capability), func(t *testing.T) {
			t.Parallel()
			sem <- struct{}{}
			defer func() { <-sem }()
			out := s.build(t, c, func(st *kanikotest.Step) {
				st.SecurityContext.Capabilities.Add = slices.DeleteFunc(slices.Clone(st.SecurityContext.Capabilities.Add),
					func(x corev1.Capability) bool { return x == capability })
			})
			if out.ExitCode != 0 {
				if len(out.Results) != 0 {
					t.Errorf("results after a failed build: %v", out.Results)
				}
				if !strings.Contains(out.Log, want.want) {
					t.Errorf("without %s, %s failed without %q:\n%s", capability, c.Name, want.want, out.Log)
				}
				return
			}
			// It built: then the image must be wrong, in the expected way.
			cf, files, err := kanikotest.Flatten(out.Results["IMAGE_REF"])
			if err != nil {
				t.Fatal(err)
			}
			diffs := strings.Join(c.Expect.Check(cf, files), "\n")
			if !strings.Contains(diffs, want.want) {
				t.Errorf("without %s, %s built an image; differences %q, want %q", capability, c.Name, diffs, want.want)
			}
		})
	}
}
