// Package verify proves that the image a build pushed is the one in the
// registry and that it meets policy. It reads the registry with
// go-containerregistry and runs every check even when one fails, so one run
// tells the user everything that is wrong.
package verify

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"

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

// Run verifies, prints the report, writes VERIFIED, REPORT and (when
// verified) VERIFIED_IMAGE_REF, and returns
// a PolicyError naming the failed checks. Results are written on a policy
// failure too: they are complete (every check ran) and tell the user why.
// They are not written when the registry could not be read.
func Run(ctx context.Context, cfg Config, o Options) error {
	rep, err := Verify(ctx, cfg, o)
	if err != nil {
		return err
	}
	rep.Print(o.log())
	t, err := cfg.target() // valid: Verify accepted it
	if err != nil {
		return err
	}
	results, err := rep.Results(cfg.Writer().Fits, t.byDigest.String())
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
	auth   authn.Authenticator
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
	v := &verifier{cfg: cfg, t: t, o: o, auth: auth, puller: puller, host: t.byDigest.RegistryStr(), log: o.log()}
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

	// With PROMOTE the tag is checked last, after it was moved (promote).
	if !v.cfg.Promote {
		r, err := v.checkTag(ctx)
		if err != nil {
			return nil, err
		}
		record(r)
	}
	rep, err := v.checkImage(ctx, abort, record, got)
	if err != nil || !v.cfg.Promote {
		return rep, err
	}
	return v.promote(ctx, record, got)
}

// checkImage runs every check but the tag's and returns the report so far.
func (v *verifier) checkImage(ctx context.Context, abort func(), record func(...Result), got map[string]Result) (Report, error) {
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

// promote points IMAGE_URL's tag at the verified digest when every other
// check passed, then checks the tag like any run does; otherwise the tag is
// left alone and the tag check says so.
func (v *verifier) promote(ctx context.Context, record func(...Result), got map[string]Result) (Report, error) {
	tag := *v.t.tag
	othersPassed := true
	for _, r := range v.report(got) {
		othersPassed = othersPassed && (r.OK || r.Check == CheckTagDigest)
	}
	if !othersPassed {
		record(notRun(CheckTagDigest, "not promoted: the image failed its checks, so tag "+tag.TagStr()+" was left alone"))
		return v.report(got), nil
	}
	err := v.withRetry(ctx, func() error {
		desc, err := v.puller.Get(ctx, v.t.byDigest)
		if err != nil {
			return err
		}
		return remote.Tag(tag, desc, v.o.remoteOptions(ctx, v.auth)...)
	})
	if err != nil {
		if u := unavailable(err, v.host, "tagging "+tag.String()); u != nil {
			return nil, u
		}
		return nil, fmt.Errorf("tagging %s: %w", tag, err)
	}
	fmt.Fprintf(v.log, "verify-image: promoted %s to %s\n", tag, v.t.expected)
	r, err := v.checkTag(ctx)
	if err != nil {
		return nil, err
	}
	record(r)
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
