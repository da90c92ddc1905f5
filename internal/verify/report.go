package verify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/knative-lambda/lambda-builder/internal/step"
)

// Check names, stable: users match on them in REPORT and in logs.
const (
	CheckTagDigest  = "tag-digest"
	CheckManifest   = "manifest"
	CheckContent    = "content"
	CheckUser       = "config-user"
	CheckEntrypoint = "config-entrypoint"
	CheckPlatform   = "platform"
	CheckSize       = "size"
	CheckLabels     = "labels"
	CheckSecrets    = "secrets"
)

// CheckOrder is the order checks appear in the report.
var CheckOrder = []string{CheckTagDigest, CheckManifest, CheckContent, CheckUser, CheckEntrypoint, CheckPlatform, CheckSize, CheckLabels, CheckSecrets}

// Result is one check's verdict. A check switched off by its knob is OK and
// Skipped "off"; a check that could not run because the one it needs failed
// (no manifest, no config) is not OK and Skipped "blocked".
type Result struct {
	Check   string `json:"check"`
	OK      bool   `json:"ok"`
	Skipped string `json:"skipped,omitempty"`
	Detail  string `json:"detail"`
}

// Values of Result.Skipped.
const (
	SkippedOff     = "off"
	SkippedBlocked = "blocked"
)

func pass(check, format string, args ...any) Result {
	return Result{Check: check, OK: true, Detail: oneLine(fmt.Sprintf(format, args...))}
}

func fail(check, format string, args ...any) Result {
	return Result{Check: check, Detail: oneLine(fmt.Sprintf(format, args...))}
}

// oneLine folds library errors that span lines (validate joins its findings
// with newlines): a detail is one log line and one JSON string. Strings that
// come from the image itself are quoted with %q where they enter a detail.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ")), " ")
}

func skipped(check, why string) Result {
	return Result{Check: check, OK: true, Skipped: SkippedOff, Detail: why}
}

func notRun(check, why string) Result {
	return Result{Check: check, Skipped: SkippedBlocked, Detail: why}
}

// Report holds one Result per check, in CheckOrder.
type Report []Result

// Verified is true only when every enabled check ran and passed.
func (r Report) Verified() bool {
	for _, c := range r {
		if !c.OK {
			return false
		}
	}
	return len(r) > 0
}

// Failed names the checks that ran and failed.
func (r Report) Failed() []string {
	return r.names(func(c Result) bool { return !c.OK && c.Skipped == "" })
}

// Blocked names the checks that could not run because another failed.
func (r Report) Blocked() []string {
	return r.names(func(c Result) bool { return c.Skipped == SkippedBlocked })
}

func (r Report) names(keep func(Result) bool) []string {
	var out []string
	for _, c := range r {
		if keep(c) {
			out = append(out, c.Check)
		}
	}
	return out
}

// Get returns the result of one check.
func (r Report) Get(check string) (Result, bool) {
	for _, c := range r {
		if c.Check == check {
			return c, true
		}
	}
	return Result{}, false
}

// Results are the step's Tekton results: VERIFIED and REPORT, shrunk until
// fits accepts them (the results writer's budget, which also counts what
// earlier steps of the Task reported), and, only when every check passed,
// VERIFIED_IMAGE_REF: ref, the image by digest. Details shrink to fit (the
// same input always gives the same output). When even the checks' names and
// verdicts do not fit (a pod of many steps shares little room, and long
// image names take it), REPORT is the verdicts alone, "check:ok" strings,
// then "[]": the full report is in the step's log either way, and the
// verdict must not be lost to a report that does not fit.
func (r Report) Results(fits func(...step.Result) bool, ref string) ([]step.Result, error) {
	fixed := []step.Result{{Name: "VERIFIED", Value: fmt.Sprint(r.Verified())}}
	if r.Verified() {
		// What a Pipeline exposes for deploys: a failed verification must
		// leave it unset, even where Tekton reports a failed task's results.
		fixed = append(fixed, step.Result{Name: "VERIFIED_IMAGE_REF", Value: ref})
	}
	fitsAsReport := func(report string) bool {
		return fits(append(fixed, step.Result{Name: "REPORT", Value: report})...)
	}
	report, err := r.encode(fitsAsReport)
	if errors.Is(err, errNoRoom) {
		report = r.verdicts()
		if !fitsAsReport(report) {
			report = "[]"
		}
		if !fitsAsReport(report) {
			return nil, fmt.Errorf("the results leave no room for VERIFIED and REPORT: %w", err)
		}
		err = nil
	}
	if err != nil {
		return nil, err
	}
	return append(fixed, step.Result{Name: "REPORT", Value: report}), nil
}

// errNoRoom: the report does not fit even without details.
var errNoRoom = errors.New("no room for the report")

// verdicts is the shortest report that still says every check's verdict:
// a JSON array of "check:ok", "check:failed", "check:off" or "check:blocked".
func (r Report) verdicts() string {
	out := make([]string, len(r))
	for i, c := range r {
		v := "failed"
		switch {
		case c.Skipped != "":
			v = c.Skipped
		case c.OK:
			v = "ok"
		}
		out[i] = c.Check + ":" + v
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// truncMark ends a detail that was cut to fit the budget.
const truncMark = "…"

// encode is the compact JSON array, details cut to the longest common length
// that fits.
func (r Report) encode(fits func(string) bool) (string, error) {
	full, err := r.withDetailsCut(-1)
	if err != nil || fits(full) {
		return full, err
	}
	longest := 0
	for _, c := range r {
		longest = max(longest, len(c.Detail))
	}
	// Binary search the cut: the encoded length grows with it.
	lo, hi := 0, longest
	for lo < hi {
		mid := (lo + hi + 1) / 2
		s, err := r.withDetailsCut(mid)
		if err != nil {
			return "", err
		}
		if fits(s) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	s, err := r.withDetailsCut(lo)
	if err != nil {
		return "", err
	}
	if !fits(s) {
		return "", fmt.Errorf("report of %d checks needs %d bytes even without details, more than the results budget leaves: %w", len(r), len(s), errNoRoom)
	}
	return s, nil
}

func (r Report) withDetailsCut(n int) (string, error) {
	cut := make(Report, len(r))
	for i, c := range r {
		if n >= 0 {
			c.Detail = truncate(c.Detail, n)
		}
		cut[i] = c
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keeps <, > and & one byte each
	if err := enc.Encode(cut); err != nil {
		return "", fmt.Errorf("encoding the report: %w", err)
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// truncate keeps at most n bytes of s, cut on a rune boundary and marked.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	keep := n - len(truncMark)
	if keep <= 0 {
		return ""
	}
	for keep > 0 && !utf8.RuneStart(s[keep]) {
		keep--
	}
	return s[:keep] + truncMark
}

// Print writes one line per check for the step log, details in full.
func (r Report) Print(w io.Writer) {
	for _, c := range r {
		verdict := "PASS"
		switch {
		case c.Skipped == SkippedOff:
			verdict = "OFF"
		case c.Skipped == SkippedBlocked:
			verdict = "NOT RUN"
		case !c.OK:
			verdict = "FAIL"
		}
		fmt.Fprintf(w, "verify-image: %s %s: %s\n", verdict, c.Check, c.Detail)
	}
}
