package verify

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"

	"github.com/knative-lambda/lambda-builder/internal/step"
)

// checkSize: the compressed config and layers fit MAX_IMAGE_BYTES and the
// layers MAX_LAYERS. The sizes come from the manifest (content checks that
// they are true), so nothing is downloaded for it.
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
