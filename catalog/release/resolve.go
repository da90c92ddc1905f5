package release

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/knative-lambda/lambda-builder/catalog"
	"github.com/knative-lambda/lambda-builder/catalog/yamlnode"
)

// Images says which image each reference of the catalog becomes: ko://
// import paths (the step binaries) and the defaults of image params
// (BUILDER_IMAGE, the Kaniko executor). Every value must be pinned by digest.
type Images struct {
	Ko            map[string]string // import path (no ko://) -> repository@sha256:...
	ParamDefaults map[string]string // param name -> repository@sha256:...
}

var koRef = regexp.MustCompile(`ko://[^\s"']+`)

// Resolve returns doc with every ko:// reference and every listed param's
// default replaced (defaults only in a single-document doc). An unknown ko:// path, or a value not pinned by digest,
// is an error: a release never ships a floating image.
func Resolve(doc []byte, im Images) ([]byte, error) {
	for _, m := range []map[string]string{im.Ko, im.ParamDefaults} {
		for k, ref := range m {
			if !pinned.MatchString(ref) {
				return nil, fmt.Errorf("image for %s, %q, is not pinned by digest (repository@sha256:...)", k, ref)
			}
		}
	}
	var missing []string
	out := koRef.ReplaceAllStringFunc(string(doc), func(ref string) string {
		if r, ok := im.Ko[strings.TrimPrefix(ref, "ko://")]; ok {
			return r
		}
		missing = append(missing, ref)
		return ref
	})
	if len(missing) > 0 {
		return nil, fmt.Errorf("no image given for %s", strings.Join(missing, ", "))
	}
	if len(im.ParamDefaults) == 0 {
		return []byte(out), nil
	}
	// Param defaults are rewritten in the node tree of one document; a
	// second one would be dropped by re-encoding, so it is refused.
	dec := yaml.NewDecoder(strings.NewReader(out))
	var root, next yaml.Node
	if err := dec.Decode(&root); err != nil {
		return nil, err
	}
	if err := dec.Decode(&next); err == nil {
		return nil, fmt.Errorf("param defaults can be pinned in a single YAML document only; this one has more")
	}
	if len(root.Content) == 1 {
		for _, p := range yamlnode.Items(yamlnode.Get(root.Content[0], "spec"), "params") {
			if ref, ok := im.ParamDefaults[yamlnode.Get(p, "name").Value]; ok {
				if d := yamlnode.Get(p, "default"); d != nil {
					d.Value, d.Style = ref, 0
				}
			}
		}
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&root); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}

// Assemble resolves every resource catalog.yaml publishes, in its order, into
// one multi-document YAML for `kubectl apply`, and fails if any image is
// left floating (CheckPins).
func Assemble(root string, f *catalog.File, im Images) ([]byte, error) {
	var buf bytes.Buffer
	for _, r := range f.Resources {
		doc, err := os.ReadFile(filepath.Join(root, r.Path()))
		if err != nil {
			return nil, err
		}
		resolved, err := Resolve(doc, im)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.Path(), err)
		}
		if problems := CheckPins(resolved); len(problems) > 0 {
			return nil, fmt.Errorf("%s: %s", r.Path(), strings.Join(problems, "; "))
		}
		fmt.Fprintf(&buf, "---\n# %s\n", r.Path())
		buf.Write(resolved)
	}
	return buf.Bytes(), nil
}
