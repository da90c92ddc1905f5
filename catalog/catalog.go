// Package catalog reads catalog/catalog.yaml, the list of what a release
// publishes, and checks it against the tasks/ and pipelines/ folders.
package catalog

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"

	"sigs.k8s.io/yaml"
)

// File is catalog/catalog.yaml.
type File struct {
	Version   string     `json:"version"` // semver of the catalog release
	Bundle    string     `json:"bundle"`  // repository of the bundle, under the release registry
	Resources []Resource `json:"resources"`
}

// Resource is one published Task or Pipeline at one version folder.
type Resource struct {
	Kind    string `json:"kind"` // Task or Pipeline
	Name    string `json:"name"`
	Version string `json:"version"` // the version folder, e.g. "0.1"
}

// Path is the resource's YAML file relative to the repository root.
func (r Resource) Path() string {
	return filepath.Join(kindFolders[r.Kind], r.Name, r.Version, r.Name+".yaml")
}

var kindFolders = map[string]string{"Task": "tasks", "Pipeline": "pipelines"}

// semver is the version form of a release (no leading v, as OCI tags go).
var semver = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$`)

// Load reads and checks catalog.yaml under root (the repository top level).
func Load(root string) (*File, error) {
	path := filepath.Join(root, "catalog", "catalog.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f File
	if err := yaml.UnmarshalStrict(b, &f); err != nil {
		return nil, fmt.Errorf("catalog/catalog.yaml: %w", err)
	}
	if !semver.MatchString(f.Version) {
		return nil, fmt.Errorf("catalog/catalog.yaml: version %q is not semver (MAJOR.MINOR.PATCH)", f.Version)
	}
	if f.Bundle == "" {
		return nil, fmt.Errorf("catalog/catalog.yaml: bundle (the repository of the bundle) is empty")
	}
	return &f, nil
}

// Check compares the published list with the version folders under root:
// every folder is published and every published resource has its folder.
func (f *File) Check(root string) []string {
	var problems []string
	listed := map[string]bool{}
	for _, r := range f.Resources {
		dir, ok := kindFolders[r.Kind]
		if !ok {
			problems = append(problems, fmt.Sprintf("resource %s: kind %q is neither Task nor Pipeline", r.Name, r.Kind))
			continue
		}
		key := filepath.Join(dir, r.Name, r.Version)
		if listed[key] {
			problems = append(problems, fmt.Sprintf("%s is listed twice", key))
		}
		listed[key] = true
		if _, err := os.Stat(filepath.Join(root, r.Path())); err != nil {
			problems = append(problems, fmt.Sprintf("%s %s %s is published but %s does not exist", r.Kind, r.Name, r.Version, r.Path()))
		}
	}
	for _, dir := range []string{"tasks", "pipelines"} {
		folders, _ := filepath.Glob(filepath.Join(root, dir, "*", "*"))
		sort.Strings(folders)
		for _, folder := range folders {
			if fi, err := os.Stat(folder); err != nil || !fi.IsDir() {
				continue
			}
			rel, _ := filepath.Rel(root, folder)
			if !listed[rel] {
				problems = append(problems, fmt.Sprintf("%s is not in catalog/catalog.yaml: publish it (add it to resources) or remove the folder", rel))
			}
		}
	}
	return problems
}
