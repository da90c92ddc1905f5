package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/knative-lambda/lambda-builder/internal/step"
)

func TestUnavailable(t *testing.T) {
	refused := &url.Error{Op: "Get", URL: "http://r/v2/", Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}
	tests := []struct {
		name string
		err  error
		want string // "" when the error is about the image, not the registry
	}{
		{"401", &transport.Error{StatusCode: 401}, "refused access (401 Unauthorized)"},
		{"403 wrapped", fmt.Errorf("GET: %w", &transport.Error{StatusCode: 403}), "refused access (403 Forbidden)"},
		{"500 after retries", &transport.Error{StatusCode: 500}, "kept failing after retries (500"},
		{"429 after retries", &transport.Error{StatusCode: 429}, "kept failing after retries (429"},
		{"connection refused", refused, "cannot reach registry r.example: connection refused"},
		{"reset mid-body", fmt.Errorf("read: %w", syscall.ECONNRESET), "cannot reach"},
		{"cut body", io.ErrUnexpectedEOF, "cannot reach"},
		{"https to an http registry", errors.New(`Get "https://r/v2/": http: server gave HTTP response to HTTPS client`), "REGISTRY_INSECURE=true"},
		{"404 is about the image", &transport.Error{StatusCode: 404}, ""},
		{"400 manifest invalid is about the image", &transport.Error{StatusCode: 400}, ""},
		{"digest mismatch is about the image", errors.New(`manifest digest: "sha256:a" does not match requested digest "sha256:b"`), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := unavailable(tt.err, "r.example", "fetching manifest")
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unavailable = %v, want nil (a check failure)", err)
				}
				return
			}
			if err == nil || step.ExitCode(err) != step.CodeUnavailable || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "fetching manifest: ") {
				t.Fatalf("unavailable = %v (code %d), want code 4 mentioning %q", err, step.ExitCode(err), tt.want)
			}
		})
	}
	if err := unavailable(fmt.Errorf("x: %w", context.Canceled), "r", "w"); !errors.Is(err, context.Canceled) || step.ExitCode(err) != step.CodeCanceled {
		t.Errorf("cancellation = %v, want it kept", err)
	}
}
