//go:build integration

package integration

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/knative-lambda/lambda-builder/tests/harness"
)

func TestHarnessS3RoundTrip(t *testing.T) {
	srv := harness.StartS3(t)
	srv.CreateBucket(t, "smoke")
	want := []byte("print('hello')\n")
	srv.Put(t, "smoke", "fn/main.py", want)

	out, err := srv.Client().GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("smoke"), Key: aws.String("fn/main.py")})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	got, _ := io.ReadAll(out.Body)
	if !bytes.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	// The posix backend stores the object as a plain file: fixtures can be laid down directly.
	list, err := srv.Client().ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("smoke")})
	if err != nil || len(list.Contents) != 1 || aws.ToString(list.Contents[0].Key) != "fn/main.py" {
		t.Errorf("listing = %+v, %v", list, err)
	}
}

func TestHarnessS3RejectsWrongCredentials(t *testing.T) {
	srv := harness.StartS3(t)
	srv.CreateBucket(t, "smoke")
	bad := *srv
	bad.SecretKey = "wrong"
	if _, err := bad.Client().ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("smoke")}); err == nil {
		t.Fatal("listing with a wrong secret succeeded: the server is not checking signatures")
	}
}

func TestHarnessRegistryPushPull(t *testing.T) {
	reg := harness.StartRegistry(t)
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(reg.Host + "/smoke/random:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("push: %v", err)
	}
	pulled, err := remote.Image(ref)
	if err != nil {
		t.Fatalf("pull: %v", err)
	}
	wantDigest, _ := img.Digest()
	gotDigest, _ := pulled.Digest()
	if wantDigest != gotDigest {
		t.Errorf("pulled %s, pushed %s", gotDigest, wantDigest)
	}
	if err := validate.Image(pulled); err != nil {
		t.Errorf("pulled image does not validate: %v", err)
	}
}
