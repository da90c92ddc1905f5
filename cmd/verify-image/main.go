// Command verify-image is the verify-image step: it proves the image a build
// pushed is the one in the registry and that it meets policy. Configuration
// comes from the environment; see tasks/verify-image/0.1/README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/knative-lambda/lambda-builder/internal/step"
	"github.com/knative-lambda/lambda-builder/internal/verify"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	step.Main(ctx, "verify-image", verify.Main)
}
