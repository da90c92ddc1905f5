// Command render-dockerfile detects the language of a source tree and writes
// a hardened Dockerfile for it (see internal/render and the Task
// tasks/render-dockerfile). Configuration comes from the environment.
package main

import (
	"github.com/knative-lambda/lambda-builder/internal/render"
	"github.com/knative-lambda/lambda-builder/internal/step"
)

func main() { step.Main("render-dockerfile", render.Main) }
