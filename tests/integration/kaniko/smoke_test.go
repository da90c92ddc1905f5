//go:build integration

package kaniko

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"

	"github.com/knative-lambda/lambda-builder/tests/harness"
	"github.com/knative-lambda/lambda-builder/tests/images"
	kanikotest "github.com/knative-lambda/lambda-builder/tests/kaniko"
)

func TestSmoke(t *testing.T) {
	reg := harness.StartRegistry(t)
	env := kanikotest.Setup(t, reg)
	if _, err := images.PushStandIn(context.Background(), images.DefaultCache(), reg.Host, "busybox"); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "Dockerfile"), []byte("FROM "+reg.Host+"/library/busybox:1.36\nCOPY hello /hello\nRUN chmod 4755 /hello && adduser -D -u 1001 bob\nUSER bob\nRUN id > /tmp/id\n"), 0o644)
	os.WriteFile(filepath.Join(src, "hello"), []byte("hi\n"), 0o644)
	out := env.Run(context.Background(), t, kanikotest.Build{
		Params: map[string]pipelinev1.ParamValue{"IMAGE": kanikotest.String(reg.Host + "/smoke/app:1")},
		Source: src,
	})
	t.Logf("exit %d results %v\n%s", out.ExitCode, out.Results, out.Log)
	t.Logf("upper: %v", out.Upper)
}
