//go:build integration

package kaniko

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"

	"github.com/knative-lambda/lambda-builder/tests/harness"
	kanikotest "github.com/knative-lambda/lambda-builder/tests/kaniko"
)

// suite is what every Kaniko test shares: one registry, the executor image
// pushed there once, and the base images pushed on demand.
type suite struct {
	env   *kanikotest.Env
	bases *kanikotest.Bases
	root  string
}

func newSuite(t *testing.T) *suite {
	reg := harness.StartRegistry(t)
	return &suite{env: kanikotest.Setup(t, reg), bases: &kanikotest.Bases{Registry: reg.Host}, root: kanikotest.RepoRoot(t)}
}

// source copies a corpus case (symbolic links and modes kept) into a fresh
// source workspace.
func source(t *testing.T, dir string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "source")
	if out, err := exec.Command("cp", "-a", dir, dst).CombinedOutput(); err != nil {
		t.Fatalf("copying %s: %v\n%s", dir, err, out)
	}
	return dst
}

// build runs a corpus case through the Task, pushing to IMAGE repo/NAME:1.
func (s *suite) build(t *testing.T, c kanikotest.Case, adjust func(*kanikotest.Step)) *kanikotest.Outcome {
	t.Helper()
	if err := s.bases.Need(context.Background(), c.Expect.Bases...); err != nil {
		t.Fatal(err)
	}
	host := s.env.Registry.Host
	args := append([]string{"BASE_REGISTRY=" + host}, c.Expect.BuildArgs...)
	return s.env.Run(context.Background(), t, kanikotest.Build{
		Params: map[string]pipelinev1.ParamValue{
			"IMAGE":      kanikotest.String(host + "/corpus/" + c.Name + ":1"),
			"BUILD_ARGS": kanikotest.Array(args...),
		},
		Source: source(t, c.Dir),
		Adjust: adjust,
	})
}

// verify checks an outcome against the case: a failure with its reason and
// no result, or an image that matches expect.yaml.
func verify(t *testing.T, c kanikotest.Case, out *kanikotest.Outcome) {
	t.Helper()
	if f := c.Expect.Fail; f != nil {
		if out.ExitCode == 0 {
			t.Fatalf("built, want a failure (%s)", f.Reason)
		}
		if len(out.Results) != 0 {
			t.Errorf("results written by a failed build: %v", out.Results)
		}
		last := lastLine(out.Log)
		if !strings.HasPrefix(last, "kaniko-build: "+f.Reason+": ") || !strings.Contains(out.Log, f.Log) {
			t.Errorf("last line %q, want reason %s and %q in the log:\n%s", last, f.Reason, f.Log, out.Log)
		}
		return
	}
	if out.ExitCode != 0 {
		t.Fatalf("exit %d:\n%s", out.ExitCode, out.Log)
	}
	ref := out.Results["IMAGE_REF"]
	if out.Results["IMAGE_URL"] == "" || !strings.HasSuffix(ref, "@"+out.Results["IMAGE_DIGEST"]) {
		t.Fatalf("results %v: want IMAGE_URL, and IMAGE_REF ending in @IMAGE_DIGEST", out.Results)
	}
	cf, files, err := kanikotest.Flatten(ref)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range c.Expect.Check(cf, files) {
		t.Error(d)
	}
	if t.Failed() {
		t.Logf("log:\n%s", out.Log)
	}
}

func lastLine(log string) string {
	lines := strings.Split(strings.TrimSpace(log), "\n")
	return lines[len(lines)-1]
}

// TestCorpus builds every case of tests/fixtures/kaniko-corpus under the
// Task's declared securityContext and checks the pushed image.
func TestCorpus(t *testing.T) {
	s := newSuite(t)
	cases, err := kanikotest.LoadCorpus(s.root)
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 20 {
		t.Fatalf("the corpus has %d cases, want at least 20", len(cases))
	}
	// Two at a time: the machine has two cores, and parallel runs must work.
	sem := make(chan struct{}, 2)
	t.Run("cases", func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.Name, func(t *testing.T) {
				t.Parallel()
				sem <- struct{}{}
				defer func() { <-sem }()
				verify(t, c, s.build(t, c, nil))
			})
		}
	})
}
