// Command fetch-code is the fetch-code step: user code from S3 (a prefix or an
// archive) or git into the source workspace, verified, with its tree digest
// as a Tekton result. See tasks/fetch-code/0.1/README.md.
package main

import (
	"github.com/knative-lambda/lambda-builder/internal/fetch"
	"github.com/knative-lambda/lambda-builder/internal/step"
)

func main() { step.Main("fetch-code", fetch.Main) }
