package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// checkTag: the tag in IMAGE_URL still names the digest the build pushed.
// Someone pushing to the same tag between build and verify is caught here.
func (v *verifier) checkTag(ctx context.Context) (Result, error) {
	if v.t.tag == nil {
		return skipped(CheckTagDigest, "IMAGE_URL names no tag, only a digest"), nil
	}
	tag := *v.t.tag
	var desc *v1.Descriptor
	err := v.withRetry(ctx, func() error {
		var err error
		desc, err = v.puller.Head(ctx, tag)
		if err != nil && unavailable(err, v.host, "") == nil && !isNotFound(err) {
			// Some registries answer HEAD badly (no digest header): ask with GET, as crane digest does.
			var d *remote.Descriptor
			if d, err = v.puller.Get(ctx, tag); err == nil {
				desc = &d.Descriptor
			}
		}
		return err
	})
	if err != nil {
		if u := unavailable(err, v.host, "resolving tag "+tag.String()); u != nil {
			return Result{}, u
		}
		return fail(CheckTagDigest, "tag %s cannot be resolved: %v", tag, err), nil
	}
	if desc.Digest != v.t.expected {
		return fail(CheckTagDigest, "tag %s points to %s, not %s: something pushed to the tag after the build; deploy by digest and find who pushed", tag.TagStr(), desc.Digest, v.t.expected), nil
	}
	return pass(CheckTagDigest, "tag %s points to %s", tag.TagStr(), desc.Digest), nil
}

func isNotFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}

// resolveImage fetches the manifest by digest (go-containerregistry checks
// the bytes hash to it), checks its shape, and for an index picks the image
// of PLATFORM. A nil image with a failed Result means nothing more to check.
func (v *verifier) resolveImage(ctx context.Context) (v1.Image, Result, error) {
	var desc *remote.Descriptor
	err := v.withRetry(ctx, func() (err error) {
		desc, err = v.puller.Get(ctx, v.t.byDigest)
		return err
	})
	if err != nil {
		if u := unavailable(err, v.host, "fetching manifest "+v.t.expected.String()); u != nil {
			return nil, Result{}, u
		}
		if isNotFound(err) {
			return nil, fail(CheckManifest, "%s has no manifest %s: the pushed image is not there (deleted, or pushed elsewhere)", v.t.byDigest.Context(), v.t.expected), nil
		}
		return nil, fail(CheckManifest, "manifest %s: %v", v.t.expected, err), nil
	}
	switch {
	case desc.MediaType.IsIndex():
		return v.fromIndex(ctx, desc)
	case desc.MediaType.IsImage():
		img, err := desc.Image()
		if err != nil {
			return nil, fail(CheckManifest, "manifest %s: %v", v.t.expected, err), nil
		}
		r := checkManifestShape(img, desc.MediaType)
		if !r.OK {
			return nil, r, nil
		}
		return img, r, nil
	case desc.MediaType.IsSchema1():
		return nil, fail(CheckManifest, "manifest %s is Docker schema 1 (%s), deprecated and unsigned: rebuild with a current builder", v.t.expected, desc.MediaType), nil
	default:
		return nil, fail(CheckManifest, "manifest %s has media type %q, neither an image nor an index", v.t.expected, desc.MediaType), nil
	}
}

func (v *verifier) fromIndex(ctx context.Context, desc *remote.Descriptor) (v1.Image, Result, error) {
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, fail(CheckManifest, "index %s: %v", v.t.expected, err), nil
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fail(CheckManifest, "index %s: %v", v.t.expected, err), nil
	}
	if v.t.platform == nil {
		return nil, fail(CheckManifest, "%s is an index of %d manifests: set PLATFORM to say which image to verify", v.t.expected, len(im.Manifests)), nil
	}
	var have []string
	for _, m := range im.Manifests {
		if m.Platform == nil {
			continue
		}
		have = append(have, m.Platform.String())
		if m.MediaType.IsImage() && m.Platform.Satisfies(*v.t.platform) {
			var img v1.Image
			err := v.withRetry(ctx, func() (err error) {
				if img, err = idx.Image(m.Digest); err == nil {
					_, err = img.RawManifest()
				}
				return err
			})
			if err != nil {
				if u := unavailable(err, v.host, "fetching manifest "+m.Digest.String()); u != nil {
					return nil, Result{}, u
				}
				return nil, fail(CheckManifest, "index %s: image %s: %v", v.t.expected, m.Digest, err), nil
			}
			r := checkManifestShape(img, m.MediaType)
			if !r.OK {
				return nil, r, nil
			}
			r.Detail = fmt.Sprintf("index %s -> %s %s; %s", v.t.expected, v.t.platform, m.Digest, r.Detail)
			return img, r, nil
		}
	}
	return nil, fail(CheckManifest, "index %s has no image for %s (it has: %s): build for that platform or set PLATFORM", v.t.expected, v.t.platform, strings.Join(have, ", ")), nil
}

// checkManifestShape: an image manifest whose config and layers have the
// media types a runtime can use.
func checkManifestShape(img v1.Image, mt types.MediaType) Result {
	m, err := img.Manifest()
	if err != nil {
		return fail(CheckManifest, "image manifest: %v", err)
	}
	if m.SchemaVersion != 2 {
		return fail(CheckManifest, "image manifest has schemaVersion %d, want 2", m.SchemaVersion)
	}
	if !m.Config.MediaType.IsConfig() {
		return fail(CheckManifest, "config has media type %q, not an image config: this is an artifact, not a runnable image", m.Config.MediaType)
	}
	for i, l := range m.Layers {
		if !l.MediaType.IsLayer() {
			return fail(CheckManifest, "layer %d (%s) has media type %q, not a layer", i, l.Digest, l.MediaType)
		}
	}
	return pass(CheckManifest, "%s, %d layers", mt, len(m.Layers))
}

// configFile fetches the config (go-containerregistry checks it against its
// digest as it streams; the size is checked here). A config that cannot be
// trusted is a content problem, not an error: the other checks still run.
// It is fetched as a blob rather than with img.RawConfigFile, which caches
// whatever it read even when the read failed, so a retry would get the
// broken bytes without an error.
func (v *verifier) configFile(ctx context.Context, m *v1.Manifest) (*v1.ConfigFile, string, error) {
	d := m.Config.Digest
	if m.Config.Size > maxConfigBytes {
		return nil, fmt.Sprintf("config %s claims %d bytes, over the %d a real config needs: not read", d, m.Config.Size, maxConfigBytes), nil
	}
	var raw []byte
	err := v.withRetry(ctx, func() error {
		l, err := v.puller.Layer(ctx, v.t.byDigest.Context().Digest(d.String()))
		if err != nil {
			return err
		}
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		defer rc.Close()
		raw, err = io.ReadAll(io.LimitReader(rc, maxConfigBytes+1))
		return err
	})
	switch {
	case err != nil:
		if u := unavailable(err, v.host, "fetching config "+d.String()); u != nil {
			return nil, "", u
		}
		return nil, fmt.Sprintf("config %s: %v", d, err), nil
	case int64(len(raw)) != m.Config.Size:
		return nil, fmt.Sprintf("config %s is %d bytes, the manifest says %d", d, len(raw), m.Config.Size), nil
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Sprintf("config %s is not an image config: %v", d, err), nil
	}
	return cf, "", nil
}

// withRetry runs f again when it failed on a broken connection: the
// registry client retries failed requests, not bodies cut half-way.
func (v *verifier) withRetry(ctx context.Context, f func() error) error {
	return retryTransient(ctx, bodyAttempts, v.o.retryBase(), f)
}

func retryTransient(ctx context.Context, attempts int, wait time.Duration, f func() error) error {
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil || !transient(err) || attempt >= attempts {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait *= 2
	}
}
