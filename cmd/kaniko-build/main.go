// Command kaniko-build runs the Kaniko executor for the kaniko-build Task and
// writes its results only after the push succeeded. It is baked into the
// executor image at /kaniko/kaniko-build (catalog/kaniko), not built by ko.
package main

import (
	"github.com/knative-lambda/lambda-builder/internal/kaniko"
	"github.com/knative-lambda/lambda-builder/internal/step"
)

func main() { step.Main("kaniko-build", kaniko.Main) }
