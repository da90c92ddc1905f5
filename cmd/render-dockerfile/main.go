// Command render-dockerfile detects the language of a source tree and writes
// a hardened Dockerfile for it (see internal/render and the Task
// tasks/render-dockerfile). Configuration comes from the environment.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/knative-lambda/lambda-builder/internal/render"
	"github.com/knative-lambda/lambda-builder/internal/step"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	step.Main(ctx, "render-dockerfile", render.Main)
}
