//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/apis"
)

// TestFunctionBuildFailures: each bad input ends in a failed PipelineRun
// whose failing step says why in one line, and IMAGE's tag is never pushed
// (a rejected image stays under the staging tag).
func TestFunctionBuildFailures(t *testing.T) {
	t.Parallel()
	b := newBuildEnv(t)
	busybox := c.registry + "/library/busybox:1.36"

	b.s3.Put(t, b.bucket, "traversal.tar.gz", tarGzEntries(t, map[string]string{"main.py": "print('hi')\n", "../../escape.py": "owned\n"}))
	b.s3.Put(t, b.bucket, "broken/Dockerfile", []byte("FROM "+busybox+"\nRUN echo building && exit 3\n"))
	b.s3.Put(t, b.bucket, "root/Dockerfile", []byte("FROM "+busybox+"\nUSER 0\nENTRYPOINT [\"/bin/busybox\", \"httpd\", \"-f\"]\n"))

	tests := []struct {
		name, source string
		step         string // the step that must fail
		says         []string
	}{
		{"missing prefix", "s3://" + b.bucket + "/no-such-function/", "fetch", []string{"fetch-code:", "no-such-function"}},
		{"path traversal in an archive", "s3://" + b.bucket + "/traversal.tar.gz", "fetch", []string{"fetch-code:", "escape.py"}},
		{"a Dockerfile that fails to build", "s3://" + b.bucket + "/broken/", "build", []string{"exit", "3"}},
		{"a user Dockerfile running as root", "s3://" + b.bucket + "/root/", "verify", []string{"verify-image:", "config-user"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			image := c.registry + "/e2e/" + b.ns + "/" + strings.ReplaceAll(t.Name()[strings.LastIndex(t.Name(), "/")+1:], "_", "-") + ":v1"
			image = strings.ToLower(image)
			pr := waitRunFails(t, b.ns, b.tknStart(t, "SOURCE="+tt.source, "IMAGE="+image))
			step, line := failedStep(t, b.ns, pr)
			if step != tt.step {
				t.Errorf("step %s failed (%q), want %s", step, line, tt.step)
			}
			for _, want := range tt.says {
				if !strings.Contains(line, want) {
					t.Errorf("the failing step's last log line %q does not say %q", line, want)
				}
			}
			if pipelineResult(pr, "IMAGE_REF") != "" {
				t.Errorf("a failed run exposes IMAGE_REF %q", pipelineResult(pr, "IMAGE_REF"))
			}
			ref, err := name.ParseReference(image)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := remote.Head(ref); err == nil {
				t.Errorf("tag %s was pushed for a failed build", image)
			}
		})
	}
}

// waitRunFails waits for the PipelineRun to finish and fails the test if it
// succeeded.
func waitRunFails(t *testing.T, ns, run string) *v1.PipelineRun {
	t.Helper()
	var pr *v1.PipelineRun
	eventually(t, "PipelineRun "+run+" to finish", runTimeout, func(ctx context.Context) (bool, error) {
		var err error
		if pr, err = c.tekton.TektonV1().PipelineRuns(ns).Get(ctx, run, metav1.GetOptions{}); err != nil {
			return false, err
		}
		cond := pr.Status.GetCondition(apis.ConditionSucceeded)
		return cond != nil && !cond.IsUnknown(), nil
	})
	if pr.Status.GetCondition(apis.ConditionSucceeded).IsTrue() {
		t.Fatalf("PipelineRun %s succeeded, want a failure", run)
	}
	return pr
}

// stepError is the one line every step binary ends with on failure
// (internal/step): "NAME: Reason: what went wrong and how to fix it".
var stepError = regexp.MustCompile(`^(fetch-code|render-dockerfile|kaniko-build|verify-image): [A-Z][A-Za-z]+: `)

// failedStep names the step of the run's TaskRun that exited non-zero and
// returns its one-line error from the log. (The step writes progress to
// stdout and that line to stderr; the pod log interleaves the two streams,
// so the line is looked for near the end rather than taken as the last.)
func failedStep(t *testing.T, ns string, pr *v1.PipelineRun) (string, string) {
	t.Helper()
	ctx := context.Background()
	trs, err := c.tekton.TektonV1().TaskRuns(ns).List(ctx, metav1.ListOptions{LabelSelector: "tekton.dev/pipelineRun=" + pr.Name})
	if err != nil || len(trs.Items) != 1 {
		t.Fatalf("TaskRuns of %s: %v (%d)", pr.Name, err, len(trs.Items))
	}
	tr := trs.Items[0]
	for _, s := range tr.Status.Steps {
		if s.Terminated == nil || s.Terminated.ExitCode == 0 {
			continue
		}
		tail := int64(40)
		raw, err := c.kube.CoreV1().Pods(ns).GetLogs(tr.Status.PodName, &corev1.PodLogOptions{Container: s.Container, TailLines: &tail}).Do(ctx).Raw()
		if err != nil {
			t.Fatalf("log of %s: %v", s.Container, err)
		}
		lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
		for i := len(lines) - 1; i >= 0; i-- {
			if stepError.MatchString(lines[i]) {
				return s.Name, lines[i]
			}
		}
		t.Fatalf("step %s failed without its one-line error; log tail:\n%s", s.Name, raw)
	}
	t.Fatalf("no step of %s exited non-zero: %s", tr.Name, toYAML(tr.Status.Conditions))
	return "", ""
}

// tarGzEntries is a .tar.gz holding exactly these entries, names as given
// (hostile ones included).
func tarGzEntries(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for n, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}
