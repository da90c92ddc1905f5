// Package lint checks the catalog the way its consumers will meet it: every
// document is decoded with Tekton's own types, defaulted and validated by
// Tekton's own code, held to the catalog conventions, and every Task's pod is
// evaluated with the Pod Security admission library.
package lint

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/knative-lambda/lambda-builder/catalog"
	"github.com/knative-lambda/lambda-builder/catalog/compose"
)

// Finding is one problem, located as precisely as the source allows.
type Finding struct {
	File    string // relative to the linted root
	Line    int    // 0 when unknown
	Message string
}

func (f Finding) String() string {
	if f.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", f.File, f.Line, f.Message)
	}
	return fmt.Sprintf("%s: %s", f.File, f.Message)
}

// Kinds of folder the catalog publishes, with the kind of their main resource.
var publishedRoots = map[string]string{
	"tasks":     "Task",
	"pipelines": "Pipeline",
}

// Run lints the catalog under root (the repository top level) and returns the
// findings sorted by file and line. An error means the tree could not be read.
func Run(root string) ([]Finding, error) {
	var docs []*document
	var findings []Finding
	for dir, kind := range publishedRoots {
		resources, err := versionFolders(root, dir)
		if err != nil {
			return nil, err
		}
		for _, rf := range resources {
			rf.kind = kind
			ds, fs := rf.load(root)
			docs = append(docs, ds...)
			findings = append(findings, fs...)
		}
	}
	findings = append(findings, publishedList(root)...)
	findings = append(findings, generated(root, compose.Generated)...)
	l := &linter{stepActions: map[string]*document{}}
	for _, d := range docs {
		if d.kind == "StepAction" {
			l.stepActions[d.name] = d
		}
	}
	for _, d := range docs {
		findings = append(findings, l.check(d)...)
	}
	sort.Slice(findings, func(i, j int) bool {
		if findings[i].File != findings[j].File {
			return findings[i].File < findings[j].File
		}
		if findings[i].Line != findings[j].Line {
			return findings[i].Line < findings[j].Line
		}
		return findings[i].Message < findings[j].Message
	})
	return findings, nil
}

// publishedList checks catalog/catalog.yaml, when the tree has one, against
// the version folders.
func publishedList(root string) []Finding {
	const file = "catalog/catalog.yaml"
	if _, err := os.Stat(filepath.Join(root, file)); os.IsNotExist(err) {
		return nil
	}
	f, err := catalog.Load(root)
	if err != nil {
		return []Finding{{File: file, Message: err.Error()}}
	}
	var out []Finding
	for _, p := range f.Check(root) {
		out = append(out, Finding{File: file, Message: p})
	}
	return out
}

// generated checks that each generated Task is what its parts give now, so
// an edit of a single-step Task reaches the combined one (`make generate`).
// A tree without the parts (a fixture) has nothing to check.
func generated(root string, specs []compose.Spec) []Finding {
	var out []Finding
	for _, s := range specs {
		if _, err := os.Stat(filepath.Join(root, "tasks", s.Parts[0].Task)); os.IsNotExist(err) {
			continue
		}
		want, err := compose.Generate(root, s)
		if err != nil {
			out = append(out, Finding{File: s.Path(), Message: "cannot be generated: " + err.Error()})
			continue
		}
		got, err := os.ReadFile(filepath.Join(root, s.Path()))
		switch {
		case err != nil:
			out = append(out, Finding{File: s.Path(), Message: "missing: run `make generate`"})
		case string(got) != string(want):
			out = append(out, Finding{File: s.Path(), Message: "differs from what catalog/compose generates from its parts: run `make generate` (and edit the parts, not this file)"})
		}
	}
	return out
}

// resourceFolder is tasks/NAME/VERSION or pipelines/NAME/VERSION.
type resourceFolder struct {
	dir     string // relative to root
	name    string
	version string
	kind    string // the kind its NAME.yaml must hold
}

func versionFolders(root, top string) ([]resourceFolder, error) {
	names, err := os.ReadDir(filepath.Join(root, top))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []resourceFolder
	for _, n := range names {
		if !n.IsDir() {
			continue
		}
		versions, err := os.ReadDir(filepath.Join(root, top, n.Name()))
		if err != nil {
			return nil, err
		}
		for _, v := range versions {
			if v.IsDir() {
				out = append(out, resourceFolder{dir: filepath.Join(top, n.Name(), v.Name()), name: n.Name(), version: v.Name()})
			}
		}
	}
	return out, nil
}

// load reads every YAML file of the folder: NAME.yaml is the published
// resource, samples/ and triggers/ hold documents users apply beside it.
func (rf resourceFolder) load(root string) ([]*document, []Finding) {
	var docs []*document
	var findings []Finding
	if _, err := os.Stat(filepath.Join(root, rf.dir, "README.md")); err != nil {
		findings = append(findings, Finding{File: rf.dir, Message: "missing README.md (params, results, workspaces, security notes, a runnable sample)"})
	}
	main := filepath.Join(rf.dir, rf.name+".yaml")
	if _, err := os.Stat(filepath.Join(root, main)); err != nil {
		findings = append(findings, Finding{File: rf.dir, Message: fmt.Sprintf("missing %s.yaml: the folder must hold the %s it is named after", rf.name, rf.kind)})
	}
	err := filepath.WalkDir(filepath.Join(root, rf.dir), func(path string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() || !isYAML(path) {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		role := roleOf(rf, rel)
		ds, fs := readDocuments(root, rel, role)
		for _, d := range ds {
			d.folder = rf
		}
		docs = append(docs, ds...)
		findings = append(findings, fs...)
		return nil
	})
	if err != nil {
		findings = append(findings, Finding{File: rf.dir, Message: err.Error()})
	}
	return docs, findings
}

func isYAML(path string) bool {
	return strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")
}

// role says what a document is there for, which decides the checks it gets.
type role int

const (
	rolePublished role = iota // the resource the folder publishes (NAME.yaml)
	roleSample                // samples/: runs and whatever they need
	roleTrigger               // triggers/: Tekton Triggers resources
)

func roleOf(rf resourceFolder, rel string) role {
	switch {
	case rel == filepath.Join(rf.dir, rf.name+".yaml"):
		return rolePublished
	case strings.HasPrefix(rel, filepath.Join(rf.dir, "triggers")+string(filepath.Separator)):
		return roleTrigger
	default:
		return roleSample
	}
}
