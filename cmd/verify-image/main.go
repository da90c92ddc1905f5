// Command verify-image is the verify-image step: it proves the image a build
// pushed is the one in the registry and that it meets policy. Configuration
// comes from the environment; see tasks/verify-image/0.1/README.md.
package main

import (
	"github.com/knative-lambda/lambda-builder/internal/step"
	"github.com/knative-lambda/lambda-builder/internal/verify"
)

func main() { step.Main("verify-image", verify.Main) }
