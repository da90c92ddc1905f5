package verify

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/knative-lambda/lambda-builder/internal/step"
)

const testRef = "registry.example/fn@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func fullReport(detail string) Report {
	var r Report
	for _, c := range CheckOrder {
		r = append(r, pass(c, "%s", detail))
	}
	return r
}

func TestResultsFitTheBudget(t *testing.T) {
	long := strings.Repeat("é<&>\"", 2000) // multi-byte, escaped and HTML-ish runes
	manySecrets := fullReport("ok")
	manySecrets[len(manySecrets)-1] = fail(CheckSecrets, "%s", strings.Repeat(`AWS credentials in layer sha256:0123 at "root/.aws/credentials"; `, 300))
	tests := []struct {
		name    string
		report  Report
		budget  int
		cut     bool
		minimal string // REPORT's prefix when even the names do not fit
		wantErr string
	}{
		{name: "small report untouched", report: fullReport("fine"), budget: 4096},
		{name: "long details cut", report: fullReport(long), budget: 4096, cut: true},
		{name: "one long failure cut, others kept", report: manySecrets, budget: 4096, cut: true},
		{name: "tight budget", report: fullReport(long), budget: 1024, cut: true},
		{name: "names alone do not fit: verdicts only", report: fullReport(long), budget: 620, minimal: `["tag-digest:ok",`},
		{name: "not even verdicts fit: empty report", report: fullReport(long), budget: 330, minimal: "[]"},
		{name: "nothing fits", report: fullReport(long), budget: 150, wantErr: "no room for VERIFIED and REPORT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := step.ResultWriter{Dir: filepath.Join(t.TempDir(), "r"), Budget: tt.budget}
			rs, err := tt.report.Results(w.Fits, testRef)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// The step's writer enforces the budget: it must accept them.
			if err := w.Write(rs...); err != nil {
				t.Fatalf("results refused: %v", err)
			}
			byName := map[string]string{}
			for _, r := range rs {
				byName[r.Name] = r.Value
			}
			// Only a verified image gets the reference a Pipeline deploys.
			if ref, ok := byName["VERIFIED_IMAGE_REF"]; ok != tt.report.Verified() || (ok && ref != testRef) {
				t.Errorf("VERIFIED_IMAGE_REF = %q (set %v) for a report verified=%v", ref, ok, tt.report.Verified())
			}
			if tt.minimal != "" {
				if !strings.HasPrefix(byName["REPORT"], tt.minimal) || byName["VERIFIED"] != "true" {
					t.Errorf("REPORT = %q, VERIFIED = %q: want the verdict kept and REPORT starting %q", byName["REPORT"], byName["VERIFIED"], tt.minimal)
				}
				return
			}
			var got Report
			if err := json.Unmarshal([]byte(byName["REPORT"]), &got); err != nil {
				t.Fatalf("REPORT is not JSON: %v", err)
			}
			if len(got) != len(tt.report) {
				t.Fatalf("REPORT has %d checks, want %d", len(got), len(tt.report))
			}
			cut := false
			for i, c := range got {
				want := tt.report[i]
				if c.Check != want.Check || c.OK != want.OK || !utf8.ValidString(c.Detail) {
					t.Errorf("check %d = %+v, want %s ok=%v", i, c, want.Check, want.OK)
				}
				if c.Detail != want.Detail {
					cut = true
					if !strings.HasSuffix(c.Detail, truncMark) || !strings.HasPrefix(want.Detail, strings.TrimSuffix(c.Detail, truncMark)) {
						t.Errorf("check %s: detail %q is not a marked prefix of the original", c.Check, c.Detail)
					}
				}
			}
			if cut != tt.cut {
				t.Errorf("details cut = %v, want %v", cut, tt.cut)
			}
			if size := w.Size(); tt.cut && size < tt.budget-64 {
				t.Errorf("cut to a %d-byte message, far under the budget of %d: details were lost for nothing", size, tt.budget)
			}
			again, _ := tt.report.Results(step.ResultWriter{Dir: t.TempDir(), Budget: tt.budget}.Fits, testRef)
			if fmt.Sprint(again) != fmt.Sprint(rs) {
				t.Error("the same report encoded twice differs")
			}
		})
	}
}

func TestVerifiedAndFailed(t *testing.T) {
	r := Report{pass("a", "x"), skipped("b", "off"), fail("c", "bad"), notRun("d", "after c")}
	if r.Verified() {
		t.Error("a report with a failure is verified")
	}
	if got := fmt.Sprint(r.Failed(), r.Blocked()); got != "[c] [d]" {
		t.Errorf("failed, blocked = %s", got)
	}
	if !(Report{pass("a", "x"), skipped("b", "off")}).Verified() {
		t.Error("passed and switched-off checks are not verified")
	}
	if (Report{}).Verified() {
		t.Error("an empty report is verified")
	}
}

func TestDetailsAreOneLine(t *testing.T) {
	r := fail(CheckContent, "validating layers: %s", "mismatched digest\nmismatched size\n")
	if strings.ContainsAny(r.Detail, "\n\r") || r.Detail != "validating layers: mismatched digest; mismatched size" {
		t.Errorf("detail = %q", r.Detail)
	}
}
