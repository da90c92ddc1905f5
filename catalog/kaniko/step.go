package kaniko

import (
	"context"
	"fmt"
	"os"
	"os/exec"
)

// StepPackage is the kaniko-build step, baked into the image at StepPath.
const StepPackage = "github.com/knative-lambda/lambda-builder/cmd/kaniko-build"

// BuildStep compiles the step to out: static, without paths or VCS stamps,
// so the same source gives the same bytes (and the image the same digest)
// whatever the checkout or commit. Run it inside this module.
func BuildStep(ctx context.Context, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", out, StepPackage)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s: %w\n%s", StepPackage, err, b)
	}
	return nil
}
