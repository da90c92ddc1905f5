// Command sns-interceptor is a Tekton Triggers ClusterInterceptor that lets
// through only SNS messages whose signature checks out. See
// pipelines/function-build/0.1/triggers/README.md.
package main

import (
	"github.com/knative-lambda/lambda-builder/internal/sns"
	"github.com/knative-lambda/lambda-builder/internal/step"
)

func main() { step.Main("sns-interceptor", sns.Main) }
