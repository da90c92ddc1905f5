package verify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/knative-lambda/lambda-builder/internal/step"
)

// unavailable turns an error from the registry into the step's error when
// it means the registry could not be asked (down, refusing our credentials,
// throttling after every retry). It returns nil for answers about the image
// itself (not found, digest mismatch, invalid manifest): those are check
// failures, reported by name with the others.
func unavailable(err error, host, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var te *transport.Error
	if errors.As(err, &te) {
		switch {
		case te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden:
			return step.UnavailableError("%s: registry %s refused access (%d %s): give the step credentials for it: bind the dockerconfig workspace (a config.json with an auths entry for %s), or on EKS an IRSA role allowed ecr:GetAuthorizationToken, ecr:BatchGetImage and ecr:GetDownloadUrlForLayer",
				what, host, te.StatusCode, http.StatusText(te.StatusCode), host)
		case te.StatusCode == http.StatusTooManyRequests || te.StatusCode >= 500:
			return step.UnavailableError("%s: registry %s kept failing after retries (%d %s): retry the step later; check the registry's health and rate limits",
				what, host, te.StatusCode, http.StatusText(te.StatusCode))
		}
		return nil
	}
	var ce *tls.CertificateVerificationError
	var ue x509.UnknownAuthorityError
	if errors.As(err, &ce) || errors.As(err, &ue) {
		return step.UnavailableError("%s: the TLS certificate of registry %s is not trusted: %v: add its CA to the step image's trust store", what, host, rootCause(err))
	}
	if strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		return step.UnavailableError("%s: registry %s speaks plain HTTP: set REGISTRY_INSECURE=true (local registries only)", what, host)
	}
	if transient(err) || isNetwork(err) {
		return step.UnavailableError("%s: cannot reach registry %s: %v: check the host in IMAGE_URL and that the step's network reaches it (REGISTRY_INSECURE=true for a plain-HTTP registry)", what, host, rootCause(err))
	}
	return nil
}

// transient errors are worth another attempt: the connection broke, the
// bytes did not (a digest mismatch is never transient).
func transient(err error) bool {
	var ne net.Error
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, net.ErrClosed) || (errors.As(err, &ne) && ne.Timeout())
}

func isNetwork(err error) bool {
	var ue *url.Error
	var oe *net.OpError
	var de *net.DNSError
	return errors.As(err, &ue) || errors.As(err, &oe) || errors.As(err, &de) || errors.Is(err, syscall.ECONNREFUSED)
}

// rootCause drops the URL and operation wrappers: the host is already named.
func rootCause(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err
	}
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}
