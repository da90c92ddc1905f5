// Package verify proves that the image a build pushed is the one in the
// registry and that it meets policy. It reads the registry with
// go-containerregistry and runs every check even when one fails, so one run
// tells the user everything that is wrong.
package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/knative-lambda/lambda-builder/internal/step"
)

// Main is the verify-image step: configuration from the environment,
// checks, results, and the exit error (PolicyError when a check failed).
func Main(ctx context.Context) error {
	cfg, err := LoadConfig(ctx)
	if err != nil {
		return err
	}
	// Everything but the final error line goes to stdout, ecr-login's
	// diagnostics included: stderr stays one line a machine can read.
	return Run(ctx, cfg, Options{Log: os.Stdout, Keychain: Keychain(os.Stdout)})
}

// Run verifies, prints the report, writes VERIFIED and REPORT, and returns
// a PolicyError naming the failed checks. Results are written on a policy
// failure too: they are complete (every check ran) and tell the user why.
// They are not written when the registry could not be read.
func Run(ctx context.Context, cfg Config, o Options) error {
	rep, err := Verify(ctx, cfg, o)
	if err != nil {
		return err
	}
	rep.Print(o.log())
	results, err := rep.Results(cfg.ResultsBudget)
	if err != nil {
		return err
	}
	if err := cfg.Writer().Write(results...); err != nil {
		return err
	}
	if rep.Verified() {
		return nil
	}
	failed, blocked := rep.Failed(), rep.Blocked()
	also := ""
	if len(blocked) > 0 {
		also = fmt.Sprintf("; %d not run because of that: %s", len(blocked), strings.Join(blocked, ", "))
	}
	return step.PolicyError("%s: %d of %d checks failed: %s%s (details in the REPORT result and the log above)",
		cfg.ImageURL, len(failed), len(rep), strings.Join(failed, ", "), also)
}

// Options are what a caller (or a test) may change; zero values are the
// production defaults.
type Options struct {
	Keychain authn.Keychain // default: go-containerregistry's default keychain
	Log      io.Writer      // progress and per-check lines; default: discarded
	// RetryBase is the first wait between attempts at a failing request
	// (it doubles each time, for retryAttempts attempts).
	RetryBase time.Duration
}

const (
	retryAttempts      = 5 // per request, by go-containerregistry
	bodyAttempts       = 3 // per body read (manifest, config, layer) cut half-way
	defaultRetryBase   = 500 * time.Millisecond
	layerJobs          = 4       // layers streamed at once: enough to overlap network and gunzip on a small node
	maxConfigBytes     = 8 << 20 // far above any real image config; bounds what is read into memory
	progressInterval   = 10 * time.Second
	maxReportedSecrets = 20
)

// retryStatusCodes are answers worth another try; 401 and 403 are not.
var retryStatusCodes = []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout, http.StatusTooManyRequests}

func (o Options) log() io.Writer {
	if o.Log == nil {
		return io.Discard
	}
	return o.Log
}

func (o Options) retryBase() time.Duration {
	if o.RetryBase <= 0 {
		return defaultRetryBase
	}
	return o.RetryBase
}

func (o Options) keychain() authn.Keychain {
	if o.Keychain == nil {
		return authn.DefaultKeychain
	}
	return o.Keychain
}

func (o Options) remoteOptions(ctx context.Context, auth authn.Authenticator) []remote.Option {
	opts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuth(auth),
		remote.WithUserAgent("lambda-builder-verify-image"),
		remote.WithRetryBackoff(remote.Backoff{Duration: o.retryBase(), Factor: 2, Jitter: 0.1, Steps: retryAttempts}),
		remote.WithRetryStatusCodes(retryStatusCodes...),
	}
	return opts
}

// verifier holds one run's state.
type verifier struct {
	cfg    Config
	t      target
	o      Options
	puller *remote.Puller
	host   string
	log    io.Writer
}

// Verify runs every check against the registry. The error is non-nil only
// when the registry could not be read (unreachable, credentials refused,
// failing after retries) or the configuration is invalid: then there is no
// report. Failed checks are in the Report.
func Verify(ctx context.Context, cfg Config, o Options) (Report, error) {
	t, err := cfg.target()
	if err != nil {
		return nil, err
	}
	// Layer streams read under this context: cancelling it stops them all.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// One repository, one registry: credentials are resolved once (ecr-login
	// calls AWS for them), and a broken docker config (a credHelper that is
	// not installed) is reported as such, not as a failed check.
	auth, err := authn.Resolve(ctx, o.keychain(), t.byDigest.Context())
	if err != nil {
		return nil, step.ConfigError("reading credentials for %s: %v: fix or unbind the docker config (DOCKER_CONFIG, ~/.docker/config.json); the step image has no credential helper binaries", t.byDigest.RegistryStr(), err)
	}
	puller, err := remote.NewPuller(o.remoteOptions(ctx, auth)...)
	if err != nil {
		return nil, fmt.Errorf("configuring the registry client: %w", err)
	}
	v := &verifier{cfg: cfg, t: t, o: o, puller: puller, host: t.byDigest.RegistryStr(), log: o.log()}
	platform := "any platform"
	if t.platform != nil {
		platform = t.platform.String()
	}
	fmt.Fprintf(v.log, "verify-image: verifying %s (expected %s) for %s, %s mode\n", cfg.ImageURL, t.expected, platform, cfg.Mode)
	return v.run(ctx, cancel)
}

func (v *verifier) run(ctx context.Context, abort func()) (Report, error) {
	got := map[string]Result{}
	record := func(rs ...Result) {
		for _, r := range rs {
			got[r.Check] = r
		}
	}

	r, err := v.checkTag(ctx)
	if err != nil {
		return nil, err
	}
	record(r)

	img, r, err := v.resolveImage(ctx)
	if err != nil {
		return nil, err
	}
	record(r)
	if img == nil {
		for _, c := range CheckOrder[2:] {
			record(notRun(c, "no image manifest to check (see manifest)"))
		}
		return v.report(got), nil
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading the manifest again: %w", err)
	}
	record(v.checkSize(m))

	cf, configProblem, err := v.configFile(ctx, m)
	if err != nil {
		return nil, err
	}
	if cf == nil {
		for _, c := range []string{CheckUser, CheckEntrypoint, CheckPlatform, CheckLabels} {
			record(notRun(c, "the image config cannot be read (see content)"))
		}
	} else {
		record(checkCommand(cf), checkLabels(cf, v.cfg.RequiredLabels))
		if v.t.platform != nil {
			record(checkPlatform(cf, *v.t.platform))
		}
	}

	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("listing layers: %w", err)
	}
	scans, err := v.scan(ctx, layers, abort)
	if err != nil {
		return nil, err
	}
	content, err := v.checkContent(m, cf, configProblem, layers, scans)
	if err != nil {
		return nil, err
	}
	record(content, v.checkSecrets(scans))
	if cf != nil {
		record(checkUser(cf, topPasswd(scans)))
	}
	return v.report(got), nil
}

func (v *verifier) report(got map[string]Result) Report {
	rep := make(Report, 0, len(CheckOrder))
	for _, c := range CheckOrder {
		r, ok := got[c]
		if !ok {
			r = notRun(c, "an earlier step stopped it")
		}
		// A check switched off is off, whether or not it could have run.
		if why := v.off(c); why != "" {
			r = skipped(c, why)
		}
		rep = append(rep, r)
	}
	return rep
}

// off says which knob switched a check off, or "". The checks themselves
// do not look at the knobs: the report replaces what an off check said.
func (v *verifier) off(check string) string {
	c := v.cfg
	switch {
	case check == CheckUser && !c.CheckUser:
		return "CHECK_USER=false"
	case check == CheckEntrypoint && !c.CheckCommand:
		return "CHECK_ENTRYPOINT=false"
	case check == CheckPlatform && v.t.platform == nil:
		return "PLATFORM is empty"
	case check == CheckSize && c.MaxImageBytes == 0 && c.MaxLayers == 0:
		return "MAX_IMAGE_BYTES=0 and MAX_LAYERS=0"
	case check == CheckLabels && len(c.RequiredLabels) == 0:
		return "REQUIRED_LABELS is empty"
	case check == CheckSecrets && !c.CheckSecrets:
		return "CHECK_SECRETS=false"
	}
	return ""
}

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

func (v *verifier) checkSize(m *v1.Manifest) Result {
	total := m.Config.Size
	for _, l := range m.Layers {
		total += l.Size
	}
	n := len(m.Layers)
	var problems []string
	if v.cfg.MaxImageBytes > 0 && total > v.cfg.MaxImageBytes {
		problems = append(problems, fmt.Sprintf("%d bytes compressed (%s), over MAX_IMAGE_BYTES=%d (%s)", total, step.HumanBytes(total), v.cfg.MaxImageBytes, step.HumanBytes(v.cfg.MaxImageBytes)))
	}
	if v.cfg.MaxLayers > 0 && n > v.cfg.MaxLayers {
		problems = append(problems, fmt.Sprintf("%d layers, over MAX_LAYERS=%d", n, v.cfg.MaxLayers))
	}
	if len(problems) > 0 {
		return fail(CheckSize, "%s: slim the image (smaller base, fewer RUN steps) or raise the limit", strings.Join(problems, "; "))
	}
	return pass(CheckSize, "%s compressed in %d layers (limits: %s)", step.HumanBytes(total), n, limits(v.cfg.MaxImageBytes, v.cfg.MaxLayers))
}

func limits(maxBytes int64, maxLayers int) string {
	b, l := "no byte budget", "no layer limit"
	if maxBytes > 0 {
		b = step.HumanBytes(maxBytes)
	}
	if maxLayers > 0 {
		l = fmt.Sprintf("%d layers", maxLayers)
	}
	return b + ", " + l
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

// scan streams the layers when a check needs their bytes: full mode
// re-hashes them, the secrets scan reads them in either mode.
func (v *verifier) scan(ctx context.Context, layers []v1.Layer, abort func()) ([]layerScan, error) {
	full := v.cfg.Mode == ModeFull
	if !full && !v.cfg.CheckSecrets {
		return nil, nil
	}
	var read atomic.Int64
	var total int64
	for _, l := range layers {
		if n, err := l.Size(); err == nil {
			total += n
		}
	}
	start := time.Now()
	p := step.StartProgress(v.log, progressInterval, func() string {
		n := read.Load()
		return fmt.Sprintf("verify-image: read %s of %s of layers (%s)", step.HumanBytes(n), step.HumanBytes(total), step.Rate(n, time.Since(start)))
	})
	defer p.Stop()
	scans, err := scanLayers(ctx, layers, scanOptions{diffID: full, secrets: v.cfg.CheckSecrets, jobs: layerJobs, retry: v.withRetry, abort: abort}, &read)
	if err != nil {
		if u := unavailable(err, v.host, "streaming layers"); u != nil {
			return nil, u
		}
		return nil, err
	}
	return scans, nil
}

// checkContent: the config and every layer hash to the digests and sizes
// the manifest names, and the layers' uncompressed digests to the config's
// diff_ids: what validate.Image checks, in one pass shared with the
// secrets scan. Fast mode does not hash the uncompressed layers; when the
// secrets scan is off too, it reads no layer body and only asks the
// registry that each layer exists.
func (v *verifier) checkContent(m *v1.Manifest, cf *v1.ConfigFile, configProblem string, layers []v1.Layer, scans []layerScan) (Result, error) {
	var problems []string
	if configProblem != "" {
		problems = append(problems, configProblem)
	}
	if cf != nil {
		if cf.RootFS.Type != "layers" {
			problems = append(problems, fmt.Sprintf("config rootfs.type is %q, want \"layers\"", cf.RootFS.Type))
		}
		if len(cf.RootFS.DiffIDs) != len(layers) {
			problems = append(problems, fmt.Sprintf("config lists %d diff_ids for %d layers", len(cf.RootFS.DiffIDs), len(layers)))
		}
	}
	full := v.cfg.Mode == ModeFull
	var bytesRead int64
	for i, s := range scans {
		bytesRead += s.read
		switch {
		case s.problem != "":
			problems = append(problems, fmt.Sprintf("layer %d %s: %s", i, m.Layers[i].Digest, s.problem))
		case full && cf != nil && i < len(cf.RootFS.DiffIDs) && s.diffID != cf.RootFS.DiffIDs[i]:
			problems = append(problems, fmt.Sprintf("layer %d %s uncompresses to %s but the config's diff_id is %s", i, s.digest, s.diffID, cf.RootFS.DiffIDs[i]))
		}
	}
	if scans == nil {
		for i, l := range m.Layers {
			ok, err := partial.Exists(layers[i])
			if err != nil {
				if u := unavailable(err, v.host, "checking layer "+l.Digest.String()); u != nil {
					return Result{}, u
				}
				problems = append(problems, fmt.Sprintf("layer %d %s: %v", i, l.Digest, err))
			} else if !ok {
				problems = append(problems, fmt.Sprintf("layer %d %s is missing from the registry", i, l.Digest))
			}
		}
	}
	switch {
	case len(problems) > 0:
		return fail(CheckContent, "%s", strings.Join(problems, "; ")), nil
	case full:
		return pass(CheckContent, "config and %d layers (%s) match their digests, sizes and diff_ids", len(layers), step.HumanBytes(bytesRead)), nil
	case scans != nil:
		return pass(CheckContent, "fast mode: config and %d layers (%s) match their digests and sizes; diff_ids not re-hashed", len(layers), step.HumanBytes(bytesRead)), nil
	}
	return pass(CheckContent, "fast mode: config matches its digest; %d layers exist (bodies not read)", len(layers)), nil
}

// checkSecrets reports every secret file of every layer. A layer that
// could not be read to its end, or whose bytes are not the pushed ones,
// leaves the scan incomplete: blocked, the reason being in content.
func (v *verifier) checkSecrets(scans []layerScan) Result {
	var found []Finding
	var unread []string
	total := 0
	for i, s := range scans {
		found = append(found, s.findings...)
		total += s.secrets
		if !s.walked || s.problem != "" {
			unread = append(unread, fmt.Sprint(i))
		}
	}
	if total > 0 {
		return fail(CheckSecrets, "%s baked into the image: %s: remove them from the build context (.dockerignore) and rotate them; deleting them in a later layer does not help", plural(total, "secret file"), describeFindings(found, total))
	}
	if len(unread) > 0 {
		noun := "layer"
		if len(unread) > 1 {
			noun = "layers"
		}
		return notRun(CheckSecrets, fmt.Sprintf("%s %s could not be read as pushed (see content); no secret file in what was read", noun, strings.Join(unread, ", ")))
	}
	return pass(CheckSecrets, "no well-known secret file in %d layers (every layer read, whiteouts ignored)", len(scans))
}

// plural is "1 layer", "2 layers".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// describeFindings groups the first maxReportedSecrets findings by layer:
// layer sha256:..: AWS credentials at "root/.aws/credentials", ...
func describeFindings(found []Finding, total int) string {
	var b strings.Builder
	layer := ""
	for i, f := range found {
		if i == maxReportedSecrets {
			break
		}
		switch {
		case f.Layer != layer:
			if i > 0 {
				b.WriteString("; ")
			}
			fmt.Fprintf(&b, "layer %s: ", f.Layer)
			layer = f.Layer
		default:
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s at %q", f.What, f.Path)
	}
	if shown := min(len(found), maxReportedSecrets); total > shown {
		fmt.Fprintf(&b, "; and %d more", total-shown)
	}
	return b.String()
}

// topPasswd is /etc/passwd as the container sees it: the highest layer's.
func topPasswd(scans []layerScan) []byte {
	for i := len(scans) - 1; i >= 0; i-- {
		if scans[i].hasPasswd {
			return scans[i].passwd
		}
	}
	return nil
}
