package step

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
)

// DefaultResultsBudget is Tekton's default max-result-size: the bytes a step may
// write to its termination message. Results over it are silently truncated or
// fail the TaskRun, so a step refuses them up front.
const DefaultResultsBudget = 4096

// resultName is Tekton's rule for result names (ResultNameFormat).
var resultName = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)

// ResultsConfig is embedded in every step's configuration.
type ResultsConfig struct {
	ResultsDir    string `env:"RESULTS_DIR, default=/tekton/results"`
	ResultsBudget int    `env:"RESULTS_BUDGET, default=4096"`
}

// Writer returns the ResultWriter this configuration describes.
func (c ResultsConfig) Writer() ResultWriter {
	return ResultWriter{Dir: c.ResultsDir, Budget: c.ResultsBudget}
}

// Result is one Tekton result: a name and the exact bytes of its value.
type Result struct {
	Name  string
	Value string
}

// JSONResult encodes v (a map or struct) as an object or array result.
func JSONResult(name string, v any) (Result, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return Result{}, fmt.Errorf("encoding result %s: %w", name, err)
	}
	return Result{Name: name, Value: string(b)}, nil
}

// ResultWriter writes Tekton result files, one file per result under Dir.
type ResultWriter struct {
	Dir    string
	Budget int // total bytes allowed over all results of one Write; <=0 means DefaultResultsBudget
}

// Write checks every result first (names, and the termination message they
// make within the budget) and only then writes them, each atomically, so a
// rejected set leaves no result behind.
func (w ResultWriter) Write(results ...Result) error {
	seen := map[string]bool{}
	for _, r := range results {
		if !resultName.MatchString(r.Name) {
			return Errorf(CodeInternal, "InvalidResult", "result name %q is not a valid Tekton result name", r.Name)
		}
		if seen[r.Name] {
			return Errorf(CodeInternal, "InvalidResult", "result %s written twice", r.Name)
		}
		seen[r.Name] = true
	}
	if size, budget := w.Size(results...), w.budget(); size > budget {
		return Errorf(CodeInternal, "ResultsTooLarge",
			"results make a %d-byte termination message, over the budget of %d bytes (Tekton's max-result-size); shorten them or raise RESULTS_BUDGET with the cluster's max-result-size", size, budget)
	}
	if err := os.MkdirAll(w.Dir, 0o755); err != nil {
		return fmt.Errorf("creating results folder: %w", err)
	}
	for _, r := range results {
		if err := writeFileAtomic(filepath.Join(w.Dir, r.Name), []byte(r.Value)); err != nil {
			return fmt.Errorf("writing result %s: %w", r.Name, err)
		}
	}
	return nil
}

// Fits tells whether writing results would stay within the budget.
func (w ResultWriter) Fits(results ...Result) bool { return w.Size(results...) <= w.budget() }

func (w ResultWriter) budget() int {
	if w.Budget <= 0 {
		return DefaultResultsBudget
	}
	return w.Budget
}

// startedAtEntry is the entry Tekton's entrypoint adds to every step's
// termination message besides the results.
const startedAtEntry = `{"key":"StartedAt","value":"2006-01-02T15:04:05.000Z","type":3}`

// Size is the length of the termination message Tekton's entrypoint writes
// after this step: the JSON of every result file in Dir (a step also reports
// what earlier steps of the same Task wrote there) with these results
// replacing or joining them, plus its StartedAt entry. Tekton refuses a
// message over max-result-size, so this, not the raw values, is what the
// budget bounds.
func (w ResultWriter) Size(results ...Result) int {
	values := map[string]string{}
	if entries, err := os.ReadDir(w.Dir); err == nil {
		for _, e := range entries {
			if e.Type().IsRegular() && resultName.MatchString(e.Name()) {
				if b, err := os.ReadFile(filepath.Join(w.Dir, e.Name())); err == nil {
					values[e.Name()] = string(b)
				}
			}
		}
	}
	for _, r := range results {
		values[r.Name] = r.Value
	}
	type runResult struct { // Tekton's result.RunResult as it is encoded
		Key   string `json:"key"`
		Value string `json:"value"`
		Type  int    `json:"type"`
	}
	entries := make([]runResult, 0, len(values))
	for k, v := range values {
		entries = append(entries, runResult{k, v, 1})
	}
	b, _ := json.Marshal(entries)
	return len(b) + len(",") + len(startedAtEntry)
}

// writeFileAtomic writes through a temporary file and a rename so a reader
// never sees a half-written value.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := firstErr(werr, cerr, os.Chmod(tmp, 0o644)); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
