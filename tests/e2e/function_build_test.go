//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/knative-lambda/lambda-builder/tests/harness"
)

// buildEnv is a namespace ready for function-build runs, as an operator
// would set one up: Pod Security baseline enforced (the Kaniko step's one
// exception) and restricted audited, this checkout's release.yaml applied,
// S3 credentials in a Secret, and a bucket of its own.
type buildEnv struct {
	ns     string
	bucket string
	s3     *harness.S3
}

func newBuildEnv(t *testing.T) *buildEnv {
	t.Helper()
	release := os.Getenv("LB_RELEASE_YAML")
	if release == "" {
		t.Fatal("LB_RELEASE_YAML is not set: run `make e2e` (it runs `make stage`)")
	}
	doc, err := os.ReadFile(release)
	if err != nil {
		t.Fatal(err)
	}
	b := &buildEnv{ns: newNamespaceWith(t, "baseline"), s3: clusterS3(t)}
	apply(t, b.ns, string(doc))
	apply(t, b.ns, fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata:
  name: s3-credentials
stringData:
  credentials: |
    [default]
    aws_access_key_id = %s
    aws_secret_access_key = %s
`, b.s3.AccessKey, b.s3.SecretKey))
	b.bucket = b.ns // namespace names are valid, unique bucket names
	b.s3.CreateBucket(t, b.bucket)
	return b
}

// clusterS3 is the cluster's S3 (versitygw in the services netns).
func clusterS3(t *testing.T) *harness.S3 {
	s := &harness.S3{Endpoint: os.Getenv("LB_S3_ENDPOINT"), Region: os.Getenv("LB_S3_REGION"),
		AccessKey: os.Getenv("LB_S3_ACCESS_KEY"), SecretKey: os.Getenv("LB_S3_SECRET_KEY")}
	if s.Endpoint == "" || s.AccessKey == "" {
		t.Fatal("LB_S3_ENDPOINT / LB_S3_ACCESS_KEY are not set: run `make e2e`")
	}
	return s
}

// uploadDir puts every file under dir at s3://bucket/prefix/REL.
func (b *buildEnv) uploadDir(t *testing.T, dir, prefix string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		b.s3.Put(t, b.bucket, prefix+filepath.ToSlash(rel), body)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func fixtureFunction(lang string) string { return filepath.Join("..", "fixtures", "functions", lang) }

// s3Params are the params every local run needs besides SOURCE and IMAGE.
func (b *buildEnv) s3Params() []string {
	return []string{"S3_ENDPOINT=" + b.s3.Endpoint, "AWS_REGION=" + b.s3.Region, "BASE_REGISTRY=" + os.Getenv("LB_BASE_REGISTRY")}
}

// params are a PipelineRun's params for SOURCE and IMAGE on the local cluster.
func (b *buildEnv) params(source, image string) v1.Params {
	ps := v1.Params{
		{Name: "SOURCE", Value: *v1.NewStructuredValues(source)},
		{Name: "IMAGE", Value: *v1.NewStructuredValues(image)},
	}
	for _, p := range b.s3Params() {
		k, v, _ := strings.Cut(p, "=")
		ps = append(ps, v1.Param{Name: k, Value: *v1.NewStructuredValues(v)})
	}
	return ps
}

func (b *buildEnv) workspaces() []v1.WorkspaceBinding {
	return []v1.WorkspaceBinding{{Name: "aws-credentials", Secret: &corev1.SecretVolumeSource{SecretName: "s3-credentials"}}}
}

var startedRun = regexp.MustCompile(`PipelineRun started: (\S+)`)

// tknStart runs `tkn pipeline start function-build` as a user would and
// returns the PipelineRun's name (not waiting for it).
func (b *buildEnv) tknStart(t *testing.T, params ...string) string {
	t.Helper()
	args := []string{"pipeline", "start", "function-build", "-n", b.ns, "--use-param-defaults",
		"-w", "name=aws-credentials,secret=s3-credentials"}
	for _, p := range append(params, b.s3Params()...) {
		args = append(args, "-p", p)
	}
	cmd := exec.Command(filepath.Join(os.Getenv("LB_TOOLS_DIR"), "bin", "tkn"), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+os.Getenv("LB_KUBECONFIG"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tkn %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	m := startedRun.FindSubmatch(out)
	if m == nil {
		t.Fatalf("tkn started no PipelineRun:\n%s", out)
	}
	return string(m[1])
}

func mustTag(t *testing.T, s string) name.Tag {
	t.Helper()
	tag, err := name.NewTag(s)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

func pipelineResult(pr *v1.PipelineRun, name string) string {
	for _, r := range pr.Status.Results {
		if r.Name == name {
			return r.Value.StringVal
		}
	}
	return ""
}

// TestFunctionBuildSamples builds the three sample functions from S3 with
// `tkn pipeline start`, then runs each image as a restricted pod and expects
// its HTTP answer on $PORT.
func TestFunctionBuildSamples(t *testing.T) {
	t.Parallel()
	b := newBuildEnv(t)
	for _, lang := range []string{"python", "node", "go"} {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			b.uploadDir(t, fixtureFunction(lang), lang+"/")
			image := fmt.Sprintf("%s/e2e/%s/%s:v1", c.registry, b.ns, lang)
			run := b.tknStart(t, "SOURCE=s3://"+b.bucket+"/"+lang+"/", "IMAGE="+image)
			pr := waitPipelineRun(t, b.ns, run)
			ref := pipelineResult(pr, "IMAGE_REF")
			if !strings.HasPrefix(ref, strings.TrimSuffix(image, ":v1")+"@sha256:") {
				t.Fatalf("IMAGE_REF = %q, want %s by digest", ref, image)
			}
			for name, want := range map[string]string{"VERIFIED": "true", "LANGUAGE": lang} {
				if got := pipelineResult(pr, name); got != want {
					t.Errorf("result %s = %q, want %q", name, got, want)
				}
			}
			// verify-image moved IMAGE's tag from the staging tag to the digest.
			if desc, err := remote.Head(mustTag(t, image)); err != nil || !strings.HasSuffix(ref, "@"+desc.Digest.String()) {
				t.Errorf("tag %s: %v (%v), want it on %s", image, desc, err, ref)
			}
			if d := pipelineResult(pr, "SOURCE_DIGEST"); !strings.HasPrefix(d, "sha256:") {
				t.Errorf("SOURCE_DIGEST = %q", d)
			}
			body := serve(t, b.ns, lang, ref)
			if want := "hello from " + lang; !strings.Contains(body, want) {
				t.Errorf("GET / answered %q, want %q", body, want)
			}
		})
	}
}

// serve runs image as a Pod Security restricted pod with PORT=8080 and
// returns its answer to GET /.
func serve(t *testing.T, ns, name, image string) string {
	t.Helper()
	ctx := context.Background()
	pod, err := c.kube.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "serve-" + name},
		Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			Containers: []corev1.Container{{
				Name: "function", Image: image,
				Env: []corev1.EnvVar{{Name: "PORT", Value: "8080"}},
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
					Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
			}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var body string
	eventually(t, "pod "+pod.Name+" to answer on :8080", 3*time.Minute, func(ctx context.Context) (bool, error) {
		p, err := c.kube.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil || p.Status.PodIP == "" {
			return false, err
		}
		if p.Status.Phase == corev1.PodFailed {
			return false, fmt.Errorf("pod failed: %s", toYAML(p.Status.ContainerStatuses))
		}
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.Status.PodIP+":8080/", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return resp.StatusCode == http.StatusOK, nil
	})
	return body
}

// TestFunctionBuildFromBundle runs the function-build Pipeline taken from a
// bundle of this checkout's release (pipelineRef resolver: bundles), as
// other teams consume the catalog.
func TestFunctionBuildFromBundle(t *testing.T) {
	t.Parallel()
	b := newBuildEnv(t)
	b.uploadDir(t, fixtureFunction("go"), "go/")
	release, err := os.ReadFile(os.Getenv("LB_RELEASE_YAML"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	bundle, err := pushBundle(ctx, c.registry+"/e2e/"+b.ns+"/catalog:0.1", string(release))
	if err != nil {
		t.Fatal(err)
	}
	pr, err := c.tekton.TektonV1().PipelineRuns(b.ns).Create(ctx, &v1.PipelineRun{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "from-bundle-"},
		Spec: v1.PipelineRunSpec{
			PipelineRef: bundledPipeline(bundle, "function-build"),
			Params:      b.params("s3://"+b.bucket+"/go/", c.registry+"/e2e/"+b.ns+"/from-bundle:v1"),
			Workspaces:  b.workspaces(),
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	done := waitPipelineRun(t, b.ns, pr.Name)
	if got := pipelineResult(done, "VERIFIED"); got != "true" {
		t.Errorf("VERIFIED = %q", got)
	}
	if src := done.Status.Provenance; src == nil || src.RefSource == nil || !strings.Contains(src.RefSource.URI, "/catalog") {
		t.Errorf("provenance does not record the bundle: %s", toYAML(done.Status.Provenance))
	}
}
