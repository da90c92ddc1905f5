package harness

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// VersityGW is the pinned S3 server `make tools` builds.
const VersityGW = "versitygw"

// S3 is a versitygw server in single-account mode over a posix folder.
type S3 struct {
	Endpoint  string // http://127.0.0.1:PORT
	Region    string
	AccessKey string
	SecretKey string
	Root      string // the posix backend: ROOT/bucket/key
	Process   *Process
}

// S3Options changes how StartS3With starts the server.
type S3Options struct {
	// Versioning gives the posix backend a versioning folder, so that a
	// bucket can turn versioning on (PutBucketVersioning) and keep versions.
	Versioning bool
	// KeepAlive keeps connections open between requests, as AWS S3 does
	// (versitygw closes each one by default): for benchmarks.
	KeepAlive bool
}

// StartS3 starts versitygw on a free port and waits until it answers.
func StartS3(t testing.TB) *S3 {
	t.Helper()
	return StartS3With(t, S3Options{})
}

// StartS3With is StartS3 with options.
func StartS3With(t testing.TB, opts S3Options) *S3 {
	t.Helper()
	bin := Tool(t, VersityGW)
	s := &S3{Region: "us-east-1", AccessKey: "lambdabuilder", SecretKey: "lambdabuilder-secret", Root: filepath.Join(t.TempDir(), "s3")}
	if err := os.MkdirAll(s.Root, 0o755); err != nil {
		t.Fatal(err)
	}
	posix := []string{"posix"}
	if opts.Versioning {
		// versitygw refuses a versioning folder inside its root.
		posix = append(posix, "--versioning-dir", t.TempDir())
	}
	addr := FreeAddr(t)
	s.Endpoint = "http://" + addr
	args := []string{bin, "--port", addr, "--access", s.AccessKey, "--secret", s.SecretKey, "--region", s.Region, "--quiet"}
	if opts.KeepAlive {
		args = append(args, "--keep-alive")
	}
	s.Process = Start(t, "versitygw", append(append(args, posix...), s.Root))
	s.Process.WaitReady(t, 20*time.Second, func(ctx context.Context) error {
		// Any HTTP answer (403 to an anonymous request) means it serves.
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.Endpoint+"/", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	})
	return s
}

// Client is an aws-sdk-go-v2 S3 client for this server (path-style, as every
// S3-compatible endpoint needs).
func (s *S3) Client() *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Region:       s.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
	})
}

// Env is what a step (or the aws CLI) needs to reach this server.
func (s *S3) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + s.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.SecretKey,
		"AWS_REGION=" + s.Region,
		"AWS_EC2_METADATA_DISABLED=true",
		"S3_ENDPOINT=" + s.Endpoint,
	}
}

// CreateBucket creates a bucket through the S3 API.
func (s *S3) CreateBucket(t testing.TB, name string) {
	t.Helper()
	if _, err := s.Client().CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("creating bucket %s: %v", name, err)
	}
}

// Put uploads one object through the S3 API.
func (s *S3) Put(t testing.TB, bucket, key string, body []byte) {
	t.Helper()
	_, err := s.Client().PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(string(body))})
	if err != nil {
		t.Fatalf("putting s3://%s/%s: %v", bucket, key, err)
	}
}
