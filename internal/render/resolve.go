package render

import (
	"context"
	"errors"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/knative-lambda/lambda-builder/internal/step"
)

// Resolver finds the digest a tag points to in its registry.
type Resolver interface {
	Digest(ctx context.Context, ref name.Reference) (string, error)
}

// RemoteResolver asks the registry with go-containerregistry (a HEAD of the
// manifest: for a multi-platform image, the digest of its index).
type RemoteResolver struct {
	Options []remote.Option
}

// NewRemoteResolver uses the default keychain ($DOCKER_CONFIG/config.json,
// the credentials the build step uses too).
func NewRemoteResolver() RemoteResolver {
	return RemoteResolver{Options: []remote.Option{
		remote.WithAuthFromKeychain(authn.DefaultKeychain),
		remote.WithUserAgent("lambda-builder/render-dockerfile"),
	}}
}

func (r RemoteResolver) Digest(ctx context.Context, ref name.Reference) (string, error) {
	desc, err := remote.Head(ref, append(r.Options, remote.WithContext(ctx))...)
	if err != nil {
		return "", err
	}
	return desc.Digest.String(), nil
}

// pinImages replaces each tag of the plan's base images by tag@digest. An
// image that already names a digest is kept. A missing or forbidden image is
// a configuration error; a registry that does not answer is unavailable.
func pinImages(ctx context.Context, r Resolver, p *Plan) error {
	pinned := map[string]string{}
	for _, img := range []*string{&p.BuildImage, &p.RuntimeImage} {
		if hasDigest(*img) {
			continue
		}
		if d, ok := pinned[*img]; ok {
			*img = d
			continue
		}
		ref, err := name.ParseReference(*img)
		if err != nil {
			return step.ConfigError("base image %q: %v", *img, err)
		}
		digest, err := r.Digest(ctx, ref)
		if err != nil {
			return resolveError(*img, err)
		}
		pin, err := checkImage("pinned base image", *img+"@"+digest)
		if err != nil {
			return step.UnavailableError("resolving %s: the registry answered %q: %v", *img, digest, err)
		}
		pinned[*img] = pin
		*img = pin
	}
	return nil
}

func resolveError(img string, err error) error {
	var te *transport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusNotFound:
			return step.ConfigError("resolving base image %s: not found in its registry: push it there, or fix the *_VERSION, *_BASE_IMAGE or BASE_REGISTRY params: %w", img, err)
		case http.StatusUnauthorized, http.StatusForbidden:
			return step.ConfigError("resolving base image %s: access denied: give the build's service account pull credentials for that registry: %w", img, err)
		}
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return step.UnavailableError("resolving base image %s: %w", img, err)
}
