// Command fetch-code is the fetch-code step: user code from S3 (a prefix or an
// archive) or git into the source workspace, verified, with its tree digest
// as a Tekton result. See tasks/fetch-code/0.1/README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/knative-lambda/lambda-builder/internal/fetch"
	"github.com/knative-lambda/lambda-builder/internal/step"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	step.Main(ctx, "fetch-code", fetch.Main)
}
