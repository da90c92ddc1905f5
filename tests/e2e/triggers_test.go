//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/knative-lambda/lambda-builder/internal/sns"
	"github.com/knative-lambda/lambda-builder/internal/sns/snstest"
	"github.com/knative-lambda/lambda-builder/tests/harness"
)

// triggerFile is one of the catalog's trigger files as `make stage` resolved
// it (images pinned), with the settings of the local cluster: b's namespace
// and bucket.
func (b *buildEnv) triggerFile(t *testing.T, name string) string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(os.Getenv("LB_TRIGGERS_DIR"), name))
	if err != nil {
		t.Fatalf("%v: run `make e2e` (make stage resolves the trigger files)", err)
	}
	return strings.ReplaceAll(string(doc), "namespace: functions", "namespace: "+b.ns)
}

// withTriggers installs the catalog's triggers in b's namespace, with the
// site settings pointed at the local cluster, and returns the
// EventListener's URL.
func (b *buildEnv) withTriggers(t *testing.T, githubSecret string) string {
	t.Helper()
	for _, f := range []string{"rbac.yaml", "template.yaml", "event-listener.yaml"} {
		s := b.triggerFile(t, f)
		s = strings.ReplaceAll(s, "name: functions-function-build-listener", "name: "+b.ns+"-function-build-listener")
		s = strings.ReplaceAll(s, "extensions.bucket == 'functions'", "extensions.bucket == '"+b.bucket+"'")
		apply(t, b.ns, s)
	}
	apply(t, b.ns, fmt.Sprintf(`apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerBinding
metadata:
  name: function-build-settings
spec:
  params:
  - {name: image-repository, value: %s/e2e/%s}
  - {name: aws-region, value: %s}
  - {name: aws-credentials-secret, value: s3-credentials}
  - {name: s3-endpoint, value: %s}
  - {name: base-registry, value: %s}
  - {name: git-insecure, value: "true"}
---
apiVersion: v1
kind: Secret
metadata:
  name: github-webhook-secret
stringData:
  token: %s
`, c.registry, b.ns, b.s3.Region, b.s3.Endpoint, os.Getenv("LB_BASE_REGISTRY"), githubSecret))

	els := c.dynamic.Resource(schema.GroupVersionResource{Group: "triggers.tekton.dev", Version: "v1beta1", Resource: "eventlisteners"}).Namespace(b.ns)
	eventually(t, "EventListener function-build Ready", runTimeout, func(ctx context.Context) (bool, error) {
		el, err := els.Get(ctx, "function-build", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return conditionTrue(el, "Ready"), nil
	})
	svc, err := c.kube.CoreV1().Services(b.ns).Get(context.Background(), "el-function-build", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("http://%s:8080", svc.Spec.ClusterIP)
}

// send POSTs an event with headers and returns the EventListener's event ID.
func send(t *testing.T, url, body string, headers map[string]string) string {
	t.Helper()
	var id string
	eventually(t, "the EventListener to accept an event", time.Minute, func(ctx context.Context) (bool, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		var reply struct {
			EventID string `json:"eventID"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&reply); err != nil || resp.StatusCode != http.StatusAccepted {
			return false, fmt.Errorf("status %d, decode error %v", resp.StatusCode, err)
		}
		id = reply.EventID
		return true, nil
	})
	return id
}

// snsTopic is the topic the e2e's sns-interceptor allows.
const snsTopic = "arn:aws:sns:us-east-1:123456789012:functions"

// withSNSInterceptor deploys the catalog's sns-interceptor in b's namespace,
// trusting a test CA whose signing certificate an https server in the
// services network namespace hands out, as AWS does from
// sns.<region>.amazonaws.com. It returns a func that signs messages as SNS.
func (b *buildEnv) withSNSInterceptor(t *testing.T) func(sns.Message) string {
	t.Helper()
	pki, err := snstest.New()
	if err != nil {
		t.Fatal(err)
	}
	ip := os.Getenv("LB_SERVICES_IP")
	certs, tlsDir := t.TempDir(), t.TempDir()
	serverCert, serverKey, err := pki.ServerCert(net.ParseIP(ip))
	if err != nil {
		t.Fatal(err)
	}
	for path, data := range map[string][]byte{
		filepath.Join(certs, "SimpleNotificationService-e2e.pem"): pki.CertPEM,
		filepath.Join(tlsDir, "tls.crt"):                          serverCert,
		filepath.Join(tlsDir, "tls.key"):                          serverKey,
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	addr := ip + ":9443"
	certURL := "https://" + addr + "/SimpleNotificationService-e2e.pem"
	srv := harness.Start(t, "httpsfiles", []string{"ip", "netns", "exec", os.Getenv("LB_SERVICES_NETNS"), os.Getenv("LB_HTTPSFILES"),
		"-addr", addr, "-root", certs, "-cert", filepath.Join(tlsDir, "tls.crt"), "-key", filepath.Join(tlsDir, "tls.key")})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pki.Roots(), MinVersion: tls.VersionTLS12}}}
	srv.WaitReady(t, 20*time.Second, func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, certURL, nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	})

	// The catalog's Deployment, pointed at the test CA, host and topic.
	doc := b.triggerFile(t, "sns-interceptor.yaml")
	for old, new := range map[string]string{
		"value: arn:aws:sns:eu-west-1:123456789012:functions": "value: " + snsTopic,
		"            - name: SNS_MAX_AGE\n": "            - name: SNS_CERT_HOSTS\n" +
			"              value: '^" + strings.ReplaceAll(ip, ".", `\.`) + "$'\n" +
			"            - name: SNS_CA_FILE\n              value: /etc/sns-ca/ca.pem\n            - name: SNS_MAX_AGE\n",
		"          ports:\n":  "          volumeMounts:\n            - {name: sns-ca, mountPath: /etc/sns-ca, readOnly: true}\n          ports:\n",
		"      containers:\n": "      volumes:\n        - name: sns-ca\n          configMap: {name: sns-ca}\n      containers:\n",
	} {
		if !strings.Contains(doc, old) {
			t.Fatalf("sns-interceptor.yaml no longer has %q", old)
		}
		doc = strings.Replace(doc, old, new, 1)
	}
	apply(t, b.ns, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: sns-ca\ndata:\n  ca.pem: %q\n---\n%s", pki.CAPEM, doc))
	eventually(t, "sns-interceptor ready", runTimeout, func(ctx context.Context) (bool, error) {
		d, err := c.kube.AppsV1().Deployments(b.ns).Get(ctx, "sns-interceptor", metav1.GetOptions{})
		return err == nil && d.Status.ReadyReplicas > 0, err
	})
	return func(m sns.Message) string {
		m.SigningCertURL, m.SignatureVersion = certURL, "1"
		s, err := sns.StringToSign(m)
		if err != nil {
			t.Fatal(err)
		}
		if m.Signature, err = pki.Sign(m.SignatureVersion, s); err != nil {
			t.Fatal(err)
		}
		return mustJSON(t, m)
	}
}

// runsOf lists the PipelineRuns an event created.
func runsOf(t *testing.T, ns, eventID string) []v1.PipelineRun {
	prs, err := c.tekton.TektonV1().PipelineRuns(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "triggers.tekton.dev/triggers-eventid=" + eventID})
	if err != nil {
		t.Fatal(err)
	}
	return prs.Items
}

func waitRunOf(t *testing.T, ns, eventID string) *v1.PipelineRun {
	t.Helper()
	var name string
	eventually(t, "the PipelineRun of event "+eventID, time.Minute, func(ctx context.Context) (bool, error) {
		if runs := runsOf(t, ns, eventID); len(runs) > 0 {
			name = runs[0].Name
			return true, nil
		}
		return false, nil
	})
	return waitPipelineRun(t, ns, name)
}

func paramOf(pr *v1.PipelineRun, name string) string {
	for _, p := range pr.Spec.Params {
		if p.Name == name {
			return p.Value.StringVal
		}
	}
	return ""
}

func s3Record(bucket, encodedKey, event, etag string) map[string]any {
	return map[string]any{
		"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventName": event,
		"s3": map[string]any{"bucket": map[string]any{"name": bucket}, "object": map[string]any{"key": encodedKey, "size": 1, "eTag": etag}},
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestTriggersS3Events posts the three real shapes of an S3 "object created"
// notification, each for a different object, and events that must start
// nothing; each accepted one must build exactly its object.
func TestTriggersS3Events(t *testing.T) {
	t.Parallel()
	b := newBuildEnv(t)
	signSNS := b.withSNSInterceptor(t)
	url := b.withTriggers(t, "unused")

	// Direct S3 event: the marker of a folder whose key S3 URL-encodes.
	b.uploadDir(t, fixtureFunction("python"), "incoming/team a/hello-py/")
	b.s3.Put(t, b.bucket, "incoming/team a/hello-py/.lambda-build", nil)
	direct := mustJSON(t, map[string]any{"Records": []any{s3Record(b.bucket, "incoming/team+a/hello-py/.lambda-build", "ObjectCreated:Put", "0123456789abcdef")}})

	// SNS-wrapped: an archive.
	b.s3.Put(t, b.bucket, "incoming/hello-node.tar.gz", tarGz(t, fixtureFunction("node")))
	message := mustJSON(t, map[string]any{"Records": []any{s3Record(b.bucket, "incoming/hello-node.tar.gz", "ObjectCreated:CompleteMultipartUpload", "fedcba9876543210-2")}})
	snsMessage := sns.Message{Type: "Notification", MessageID: "e2e-1", TopicArn: snsTopic, Message: message,
		Timestamp: time.Now().UTC().Format(time.RFC3339)}
	snsSigned := signSNS(snsMessage)
	// The same notification, its message swapped after signing.
	var forged sns.Message
	if err := json.Unmarshal([]byte(snsSigned), &forged); err != nil {
		t.Fatal(err)
	}
	forged.Message = strings.Replace(forged.Message, "hello-node.tar.gz", "hello-forged.tar.gz", 1)

	// EventBridge: the marker of a folder, key as it is.
	b.uploadDir(t, fixtureFunction("go"), "incoming/hello-go/")
	b.s3.Put(t, b.bucket, "incoming/hello-go/.lambda-build", nil)
	eventBridge := mustJSON(t, map[string]any{"version": "0", "source": "aws.s3", "detail-type": "Object Created",
		"detail": map[string]any{"bucket": map[string]any{"name": b.bucket}, "object": map[string]any{"key": "incoming/hello-go/.lambda-build", "etag": "aaaabbbbcccc"}, "reason": "PutObject"}})

	snsHeaders := map[string]string{"X-Amz-Sns-Message-Type": "Notification"}
	ignored := map[string]struct {
		body    string
		headers map[string]string
	}{
		"a file that is not the marker":    {mustJSON(t, map[string]any{"Records": []any{s3Record(b.bucket, "incoming/hello-go/main.go", "ObjectCreated:Put", "01")}}), nil},
		"a removed object":                 {mustJSON(t, map[string]any{"Records": []any{s3Record(b.bucket, "incoming/hello-node.tar.gz", "ObjectRemoved:Delete", "02")}}), nil},
		"outside the prefix":               {mustJSON(t, map[string]any{"Records": []any{s3Record(b.bucket, "other/hello.zip", "ObjectCreated:Put", "03")}}), nil},
		"another bucket":                   {mustJSON(t, map[string]any{"Records": []any{s3Record("not-ours", "incoming/hello.zip", "ObjectCreated:Put", "04")}}), nil},
		"a name that is no image name":     {mustJSON(t, map[string]any{"Records": []any{s3Record(b.bucket, "incoming/Bad%24Name.zip", "ObjectCreated:Put", "05")}}), nil},
		"an SNS subscription confirmation": {mustJSON(t, map[string]any{"Type": "SubscriptionConfirmation", "SubscribeURL": "https://sns.example/confirm"}), map[string]string{"X-Amz-Sns-Message-Type": "SubscriptionConfirmation"}},
		"an S3 test event over SNS (signed)": {signSNS(sns.Message{Type: "Notification", MessageID: "e2e-2", TopicArn: snsTopic,
			Message: `{"Service":"Amazon S3","Event":"s3:TestEvent"}`, Timestamp: time.Now().UTC().Format(time.RFC3339)}), snsHeaders},
		"a forged SNS notification":    {mustJSON(t, forged), snsHeaders},
		"an unsigned SNS notification": {mustJSON(t, map[string]any{"Type": "Notification", "TopicArn": snsTopic, "Message": message}), snsHeaders},
	}
	var ignoredIDs []string
	for what, e := range ignored {
		t.Logf("sending %s", what)
		ignoredIDs = append(ignoredIDs, send(t, url, e.body, e.headers))
	}

	cases := []struct {
		name, body string
		headers    map[string]string
		source     string
		image      string
	}{
		{"direct", direct, nil, "s3://" + b.bucket + "/incoming/team a/hello-py/", "hello-py:s3-0123456789abcdef"},
		{"sns", snsSigned, snsHeaders, "s3://" + b.bucket + "/incoming/hello-node.tar.gz", "hello-node:s3-fedcba9876543210-2"},
		{"eventbridge", eventBridge, nil, "s3://" + b.bucket + "/incoming/hello-go/", "hello-go:s3-aaaabbbbcccc"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pr := waitRunOf(t, b.ns, send(t, url, tt.body, tt.headers))
			if got := paramOf(pr, "SOURCE"); got != tt.source {
				t.Errorf("SOURCE = %q, want %q", got, tt.source)
			}
			wantImage := fmt.Sprintf("%s/e2e/%s/%s", c.registry, b.ns, tt.image)
			if got := paramOf(pr, "IMAGE"); got != wantImage {
				t.Errorf("IMAGE = %q, want %q", got, wantImage)
			}
			if pipelineResult(pr, "VERIFIED") != "true" {
				t.Errorf("VERIFIED = %q", pipelineResult(pr, "VERIFIED"))
			}
		})
	}
	t.Cleanup(func() {
		// By now every accepted event has run to the end: the ignored ones,
		// sent first, would have created their runs long before.
		for _, id := range ignoredIDs {
			if runs := runsOf(t, b.ns, id); len(runs) != 0 {
				t.Errorf("event %s should start nothing but created %s", id, runs[0].Name)
			}
		}
	})
}

// TestTriggersGitHubPush pushes a function to a git server the pods can
// reach, then posts GitHub push events: a signed one builds that commit, one
// with a bad signature and one for another branch create nothing.
func TestTriggersGitHubPush(t *testing.T) {
	t.Parallel()
	b := newBuildEnv(t)
	const secret = "e2e-webhook-secret"
	url := b.withTriggers(t, secret)
	cloneURL, commit := serveGitFunction(t, fixtureFunction("python"), "hello-git")

	push := func(ref string) string {
		return mustJSON(t, map[string]any{"ref": ref, "after": commit, "deleted": false,
			"repository": map[string]any{"name": "hello-git", "clone_url": cloneURL}})
	}
	signed := func(body, key string) map[string]string {
		mac := hmac.New(sha256.New, []byte(key))
		mac.Write([]byte(body))
		return map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + hex.EncodeToString(mac.Sum(nil))}
	}
	badSignature := send(t, url, push("refs/heads/main"), signed(push("refs/heads/main"), "wrong-secret"))
	otherBranch := send(t, url, push("refs/heads/feature"), signed(push("refs/heads/feature"), secret))

	pr := waitRunOf(t, b.ns, send(t, url, push("refs/heads/main"), signed(push("refs/heads/main"), secret)))
	if got := paramOf(pr, "SOURCE_REVISION"); got != commit {
		t.Errorf("SOURCE_REVISION = %q, want %s", got, commit)
	}
	if got, want := paramOf(pr, "IMAGE"), fmt.Sprintf("%s/e2e/%s/hello-git:git-%s", c.registry, b.ns, commit); got != want {
		t.Errorf("IMAGE = %q, want %q", got, want)
	}
	if got := pipelineResult(pr, "VERIFIED"); got != "true" {
		t.Errorf("VERIFIED = %q", got)
	}
	for what, id := range map[string]string{"bad signature": badSignature, "other branch": otherBranch} {
		if runs := runsOf(t, b.ns, id); len(runs) != 0 {
			t.Errorf("the %s event created %s", what, runs[0].Name)
		}
	}
}

// serveGitFunction commits dir to a bare repository NAME.git and serves it
// with git http-backend in the services network namespace, where pods reach
// it. It returns the clone URL and the commit.
func serveGitFunction(t *testing.T, dir, name string) (string, string) {
	t.Helper()
	work := t.TempDir()
	env := []string{"HOME=" + work, "GIT_CONFIG_NOSYSTEM=1", "GIT_AUTHOR_NAME=e2e", "GIT_AUTHOR_EMAIL=e2e@example.invalid",
		"GIT_COMMITTER_NAME=e2e", "GIT_COMMITTER_EMAIL=e2e@example.invalid"}
	git := func(dir string, args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir, cmd.Env = dir, append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	src := filepath.Join(work, "src")
	if err := os.CopyFS(src, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	git(src, "init", "-q", "-b", "main")
	git(src, "add", "-A")
	git(src, "commit", "-q", "-m", "function")
	commit := git(src, "rev-parse", "HEAD")
	root := filepath.Join(work, "served")
	git(work, "clone", "-q", "--bare", src, filepath.Join(root, name+".git"))
	// The backend runs as root on files the test made: fine; git's
	// safe.directory check is about other users' repositories.
	addr := os.Getenv("LB_SERVICES_IP") + ":9080"
	srv := harness.Start(t, "gitserver", []string{"ip", "netns", "exec", os.Getenv("LB_SERVICES_NETNS"), os.Getenv("LB_GITSERVER"), "-addr", addr, "-root", root})
	srv.WaitReady(t, 20*time.Second, func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/"+name+".git/info/refs?service=git-upload-pack", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})
	return "http://" + addr + "/" + name + ".git", commit
}

// tarGz is a .tar.gz of the files under dir, paths relative to it.
func tarGz(t *testing.T, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	if err := tw.AddFS(os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
