// Package compose generates a Task whose steps are the steps of single-step
// Tasks, so each step is written once: tasks/function-build is made from
// fetch-code, render-dockerfile, kaniko-build and verify-image, in one pod.
// `make generate` writes the result; the catalog lint fails when a committed
// generated Task differs from what its parts give.
//
// It works on the YAML node tree, not on Tekton's Go types, so the parts'
// comments (why a securityContext is what it is) survive into the output.
package compose

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/knative-lambda/lambda-builder/catalog/yamlnode"
)

// Part is one single-step Task composed into the combined Task.
type Part struct {
	Task    string // the folder under tasks/
	Version string
	// Rename gives params another name in the combined Task, where a param
	// of the same name means something else in another part.
	Rename map[string]string
	// Wire feeds params from results an earlier part writes (param -> result):
	// the param disappears, and the step's env NAME: $(params.P) becomes
	// NAME_FILE: $(results.R.path), read by internal/step's config loader.
	Wire map[string]string
	// Set fixes params to values in the combined Task: the param disappears
	// and every $(params.P) of the part becomes the value.
	Set map[string]string
}

func (p Part) path() string { return filepath.Join("tasks", p.Task, p.Version, p.Task+".yaml") }

// Spec describes one generated Task.
type Spec struct {
	Name        string
	Version     string
	DisplayName string
	Categories  string
	Tags        string
	Description string
	Parts       []Part
	// Scratch names workspaces the combined Task provides itself as an
	// emptyDir volume, mounted at /workspace/NAME in each step that uses it:
	// the steps share it inside the one pod and a run binds nothing.
	Scratch []string
}

// Path is where the generated Task lives, relative to the repository root.
func (s Spec) Path() string {
	return filepath.Join("tasks", s.Name, s.Version, s.Name+".yaml")
}

const kanikoStepAnnotation = "lambda-builder.dev/kaniko-step"

// combined collects the parts' sections in order.
type combined struct {
	params, workspaces, results, volumes, steps []*yaml.Node
	writtenBy                                   map[string]string // result -> part
	kanikoStep, minVersion, platforms           string
}

// Generate reads the parts under root and returns the combined Task's YAML.
func Generate(root string, s Spec) ([]byte, error) {
	c := &combined{writtenBy: map[string]string{}}
	for _, p := range s.Parts {
		if err := c.add(root, p); err != nil {
			return nil, fmt.Errorf("%s: %w", p.path(), err)
		}
	}
	for _, w := range s.Scratch {
		if err := c.scratch(w); err != nil {
			return nil, err
		}
	}
	c.budgetResults()
	if err := c.sequentialRequests(); err != nil {
		return nil, err
	}
	return c.encode(s)
}

func (c *combined) add(root string, p Part) error {
	data, err := os.ReadFile(filepath.Join(root, p.path()))
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return err
	}
	if len(doc.Content) != 1 || valueOf(yamlnode.Get(doc.Content[0], "kind")) != "Task" {
		return fmt.Errorf("not a single Task document")
	}
	task := doc.Content[0]
	spec := yamlnode.Get(task, "spec")
	for _, unsupported := range []string{"stepTemplate", "sidecars"} {
		if yamlnode.Get(spec, unsupported) != nil {
			return fmt.Errorf("has a %s: a composed step must carry everything itself", unsupported)
		}
	}
	if err := c.annotations(yamlnode.Get(yamlnode.Get(task, "metadata"), "annotations")); err != nil {
		return err
	}
	for _, old := range sortedKeys(p.Rename) {
		if err := renameParam(spec, old, p.Rename[old]); err != nil {
			return err
		}
	}
	for _, param := range sortedKeys(p.Wire) {
		result := p.Wire[param]
		if _, ok := c.writtenBy[result]; !ok {
			return fmt.Errorf("wire: param %s from result %s, which no earlier part writes", param, result)
		}
		if err := wireParam(spec, param, result); err != nil {
			return err
		}
	}
	for _, param := range sortedKeys(p.Set) {
		if err := setParam(spec, param, p.Set[param]); err != nil {
			return err
		}
	}
	if err := c.mergeParams(yamlnode.Items(spec, "params")); err != nil {
		return err
	}
	if err := c.mergeWorkspaces(yamlnode.Items(spec, "workspaces")); err != nil {
		return err
	}
	for _, r := range yamlnode.Items(spec, "results") {
		name := valueOf(yamlnode.Get(r, "name"))
		if by, ok := c.writtenBy[name]; ok {
			return fmt.Errorf("result %s is also written by %s", name, by)
		}
		c.writtenBy[name] = p.Task
		c.results = append(c.results, r)
	}
	if err := appendUnique(&c.volumes, yamlnode.Items(spec, "volumes"), "volume"); err != nil {
		return err
	}
	return appendUnique(&c.steps, yamlnode.Items(spec, "steps"), "step")
}

// annotations carries what the combined Task must keep from a part: the
// Kaniko step's name (the lint's one exception), the highest minimum Tekton
// version, and the platforms (which must agree).
func (c *combined) annotations(ann *yaml.Node) error {
	if k := valueOf(yamlnode.Get(ann, kanikoStepAnnotation)); k != "" {
		if c.kanikoStep != "" {
			return fmt.Errorf("a second part names a Kaniko step (%s, then %s)", c.kanikoStep, k)
		}
		c.kanikoStep = k
	}
	if v := valueOf(yamlnode.Get(ann, "tekton.dev/pipelines.minVersion")); versionLess(c.minVersion, v) {
		c.minVersion = v
	}
	pl := valueOf(yamlnode.Get(ann, "tekton.dev/platforms"))
	if c.platforms == "" {
		c.platforms = pl
		return nil
	}
	// The combined Task runs where every part runs.
	theirs := map[string]bool{}
	for _, p := range splitList(pl) {
		theirs[p] = true
	}
	var both []string
	for _, p := range splitList(c.platforms) {
		if theirs[p] {
			both = append(both, p)
		}
	}
	if len(both) == 0 {
		return fmt.Errorf("platforms %q share none with the earlier parts' %q", pl, c.platforms)
	}
	c.platforms = strings.Join(both, ",")
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// scratchRoot is where Scratch workspaces are mounted; Tekton's own
// /workspace emptyDir is below every step already, so the path reads as one.
const scratchRoot = "/workspace/"

// scratch turns workspace w into an emptyDir volume: the workspace goes, its
// $(workspaces.w.path) becomes the mount path, and every step that used it
// mounts the volume (the others do not see it).
func (c *combined) scratch(w string) error {
	if findNamed(c.workspaces, w) == nil {
		return fmt.Errorf("scratch: no part declares workspace %s", w)
	}
	c.workspaces = without(c.workspaces, w)
	path, bound := fmt.Sprintf("$(workspaces.%s.path)", w), fmt.Sprintf("$(workspaces.%s.bound)", w)
	mountPath := scratchRoot + w
	for _, s := range c.steps {
		uses := false
		walkScalars(s, func(n *yaml.Node) {
			if strings.Contains(n.Value, path) || strings.Contains(n.Value, bound) {
				n.Value = strings.ReplaceAll(strings.ReplaceAll(n.Value, path, mountPath), bound, "true")
				uses = true
			}
		})
		if !uses {
			continue
		}
		mounts := yamlnode.Get(s, "volumeMounts")
		if mounts == nil {
			mounts = &yaml.Node{Kind: yaml.SequenceNode}
			s.Content = append(s.Content, scalar("volumeMounts"), mounts)
		}
		mounts.Content = append(mounts.Content, mapping("name", w, "mountPath", mountPath))
	}
	var stray []string
	for _, n := range append(append(append([]*yaml.Node{}, c.params...), c.results...), c.volumes...) {
		walkScalars(n, func(n *yaml.Node) {
			if strings.Contains(n.Value, "$(workspaces."+w+".") {
				stray = append(stray, n.Value)
			}
		})
	}
	if len(stray) > 0 {
		return fmt.Errorf("scratch: workspace %s is referenced as %q, which an emptyDir cannot answer", w, stray[0])
	}
	emptyDir := mapping("name", w)
	emptyDir.Content = append(emptyDir.Content, scalar("emptyDir"), &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle})
	return appendUnique(&c.volumes, []*yaml.Node{emptyDir}, "volume")
}

// sequentialRequests makes the pod request what its largest step needs, not
// the sum: the scheduler adds up the containers' requests, but the steps run
// one after the other. For each resource, the step requesting the most keeps
// its request and the others request "0" (their limits stay), as Tekton
// itself once did. Without it function-build's pod asked for 900m CPU and a
// 2-CPU node ran one build at a time.
func (c *combined) sequentialRequests() error {
	largest := map[string]*yaml.Node{} // resource -> the request node that stays
	maxQ := map[string]resource.Quantity{}
	for _, s := range c.steps {
		req := yamlnode.Get(yamlnode.Get(s, "computeResources"), "requests")
		if req == nil {
			continue
		}
		for i := 0; i+1 < len(req.Content); i += 2 {
			name, v := req.Content[i].Value, req.Content[i+1]
			q, err := resource.ParseQuantity(v.Value)
			if err != nil {
				return fmt.Errorf("step %s: request %s %q: %w", valueOf(yamlnode.Get(s, "name")), name, v.Value, err)
			}
			if m, ok := maxQ[name]; !ok || q.Cmp(m) > 0 {
				maxQ[name], largest[name] = q, v
			}
		}
	}
	for _, s := range c.steps {
		req := yamlnode.Get(yamlnode.Get(s, "computeResources"), "requests")
		if req == nil {
			continue
		}
		for i := 0; i+1 < len(req.Content); i += 2 {
			if v := req.Content[i+1]; v != largest[req.Content[i].Value] {
				v.Value, v.Style, v.Tag = "0", yaml.DoubleQuotedStyle, ""
			}
		}
	}
	return nil
}

// The kubelet keeps at most 12 KiB of termination messages per pod, shared
// evenly by all its containers, init containers included (kubelet status
// manager, normalizeStatus), and Tekton's entrypoint puts every result
// written so far into each step's message. A one-step Task has 4 KiB; in the
// combined pod each step's results writer must stay within its share, or the
// message is cut and the TaskRun fails on unreadable results.
const podTerminationMessageBytes = 12 * 1024

// budgetResults tells every step its share through RESULTS_BUDGET
// (internal/step), replacing the parts' own value.
func (c *combined) budgetResults() {
	// Tekton's init containers: "prepare" always, "working-dir-initializer"
	// when a step sets workingDir, "place-scripts" when a step has a script.
	initContainers := 1
	for _, key := range []string{"workingDir", "script"} {
		for _, s := range c.steps {
			if yamlnode.Get(s, key) != nil {
				initContainers++
				break
			}
		}
	}
	share := podTerminationMessageBytes / (len(c.steps) + initContainers)
	if share > 4096 {
		share = 4096
	}
	for _, s := range c.steps {
		env := yamlnode.Get(s, "env")
		if env == nil {
			env = &yaml.Node{Kind: yaml.SequenceNode}
			s.Content = append(s.Content, scalar("env"), env)
		}
		env.Content = without(env.Content, "RESULTS_BUDGET")
		env.Content = append(env.Content, mapping("name", "RESULTS_BUDGET", "value", fmt.Sprint(share)))
	}
}

// mergeParams keeps the first declaration of a param two parts share; they
// must agree on its type, or one of them needs a Rename.
func (c *combined) mergeParams(params []*yaml.Node) error {
	for _, p := range params {
		name := valueOf(yamlnode.Get(p, "name"))
		if prev := findNamed(c.params, name); prev != nil {
			if typeOf(prev) != typeOf(p) {
				return fmt.Errorf("param %s is a %s here and a %s in an earlier part: give one a Rename", name, typeOf(p), typeOf(prev))
			}
			continue
		}
		c.params = append(c.params, p)
	}
	return nil
}

func typeOf(param *yaml.Node) string {
	if t := valueOf(yamlnode.Get(param, "type")); t != "" {
		return t
	}
	return "string"
}

// mergeWorkspaces shares a workspace two parts declare: it is optional or
// read-only only if both say so, and a mountPath must agree.
func (c *combined) mergeWorkspaces(ws []*yaml.Node) error {
	for _, w := range ws {
		name := valueOf(yamlnode.Get(w, "name"))
		prev := findNamed(c.workspaces, name)
		if prev == nil {
			c.workspaces = append(c.workspaces, w)
			continue
		}
		for _, flag := range []string{"optional", "readOnly"} {
			if valueOf(yamlnode.Get(prev, flag)) == "true" && valueOf(yamlnode.Get(w, flag)) != "true" {
				set(prev, flag, "false")
			}
		}
		switch a, b := valueOf(yamlnode.Get(prev, "mountPath")), valueOf(yamlnode.Get(w, "mountPath")); {
		case b == "" || a == b:
		case a == "":
			set(prev, "mountPath", b)
		default:
			return fmt.Errorf("workspace %s: mountPath %s differs from an earlier part's %s", name, b, a)
		}
	}
	return nil
}

func appendUnique(dst *[]*yaml.Node, add []*yaml.Node, what string) error {
	for _, n := range add {
		name := valueOf(yamlnode.Get(n, "name"))
		if findNamed(*dst, name) != nil {
			return fmt.Errorf("%s %s is also in an earlier part", what, name)
		}
		*dst = append(*dst, n)
	}
	return nil
}

// renameParam renames a param and every reference to it in the part.
func renameParam(spec *yaml.Node, old, new string) error {
	p := findNamed(yamlnode.Items(spec, "params"), old)
	if p == nil {
		return fmt.Errorf("rename: no param %s", old)
	}
	yamlnode.Get(p, "name").Value = new
	walkScalars(spec, func(n *yaml.Node) {
		for _, form := range []string{"$(params.%s)", "$(params.%s[*])"} {
			n.Value = strings.ReplaceAll(n.Value, fmt.Sprintf(form, old), fmt.Sprintf(form, new))
		}
	})
	return nil
}

// dropParam removes param's declaration from the part (Set and Wire replace
// its uses); how names the caller in the error.
func dropParam(spec *yaml.Node, param, how string) error {
	params := yamlnode.Get(spec, "params")
	if params == nil || findNamed(params.Content, param) == nil {
		return fmt.Errorf("%s: no param %s", how, param)
	}
	params.Content = without(params.Content, param)
	return nil
}

// setParam replaces a param by a fixed value everywhere in the part.
func setParam(spec *yaml.Node, param, value string) error {
	if err := dropParam(spec, param, "set"); err != nil {
		return err
	}
	ref := fmt.Sprintf("$(params.%s)", param)
	walkScalars(spec, func(n *yaml.Node) {
		if strings.Contains(n.Value, ref) {
			n.Value = strings.ReplaceAll(n.Value, ref, value)
			n.Style = yaml.DoubleQuotedStyle
		}
	})
	return nil
}

// wireParam replaces a param by a result an earlier step wrote: the param is
// dropped and its env entries read the result file instead.
func wireParam(spec *yaml.Node, param, result string) error {
	if err := dropParam(spec, param, "wire"); err != nil {
		return err
	}
	ref := fmt.Sprintf("$(params.%s)", param)
	wired := 0
	for _, s := range yamlnode.Items(spec, "steps") {
		for _, env := range yamlnode.Items(s, "env") {
			if v := yamlnode.Get(env, "value"); v != nil && v.Value == ref {
				name := yamlnode.Get(env, "name")
				name.Value += "_FILE"
				v.Value = fmt.Sprintf("$(results.%s.path)", result)
				wired++
			}
		}
	}
	var stray []string
	walkScalars(spec, func(n *yaml.Node) {
		if strings.Contains(n.Value, "$(params."+param) {
			stray = append(stray, n.Value)
		}
	})
	switch {
	case len(stray) > 0:
		return fmt.Errorf("wire: param %s is used outside an env value (%q): only env entries can read a result file", param, stray[0])
	case wired == 0:
		return fmt.Errorf("wire: param %s is not passed to any step through env", param)
	}
	return nil
}

// encode writes the combined Task with its metadata and a header saying
// where it comes from.
func (c *combined) encode(s Spec) ([]byte, error) {
	var sources []string
	for _, p := range s.Parts {
		sources = append(sources, p.path())
	}
	ann := mapping(
		"tekton.dev/pipelines.minVersion", c.minVersion,
		"tekton.dev/categories", s.Categories,
		"tekton.dev/tags", s.Tags,
		"tekton.dev/displayName", s.DisplayName,
		"tekton.dev/platforms", c.platforms,
	)
	if c.kanikoStep != "" {
		ann.Content = append(ann.Content, scalar(kanikoStepAnnotation), scalar(c.kanikoStep))
	}
	spec := mapping("description", s.Description)
	spec.Content[1].Style = yaml.FoldedStyle
	for _, section := range []struct {
		key   string
		nodes []*yaml.Node
	}{{"workspaces", c.workspaces}, {"params", c.params}, {"results", c.results}, {"volumes", c.volumes}, {"steps", c.steps}} {
		if len(section.nodes) > 0 {
			spec.Content = append(spec.Content, scalar(section.key), &yaml.Node{Kind: yaml.SequenceNode, Content: section.nodes})
		}
	}
	task := mapping("apiVersion", "tekton.dev/v1", "kind", "Task")
	task.Content = append(task.Content,
		scalar("metadata"), &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
			scalar("name"), scalar(s.Name),
			scalar("labels"), mapping("app.kubernetes.io/version", s.Version),
			scalar("annotations"), ann,
		}},
		scalar("spec"), spec)
	task.HeadComment = "Generated by `make generate` (catalog/compose) from\n  " + strings.Join(sources, "\n  ") +
		"\nEdit those (or the spec in catalog/compose), not this file: the catalog\nlint fails when this file differs from what they generate."
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{task}}); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Node helpers.

func set(m *yaml.Node, key, value string) {
	if v := yamlnode.Get(m, key); v != nil {
		v.Value, v.Tag = value, ""
		return
	}
	m.Content = append(m.Content, scalar(key), scalar(value))
}

func valueOf(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

func findNamed(list []*yaml.Node, name string) *yaml.Node {
	for _, n := range list {
		if valueOf(yamlnode.Get(n, "name")) == name {
			return n
		}
	}
	return nil
}

func without(list []*yaml.Node, name string) []*yaml.Node {
	var out []*yaml.Node
	for _, n := range list {
		if valueOf(yamlnode.Get(n, "name")) != name {
			out = append(out, n)
		}
	}
	return out
}

func walkScalars(n *yaml.Node, f func(*yaml.Node)) {
	if n.Kind == yaml.ScalarNode {
		f(n)
	}
	for _, c := range n.Content {
		walkScalars(c, f)
	}
}

func scalar(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: v} }

func mapping(kv ...string) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode}
	for i := 0; i+1 < len(kv); i += 2 {
		v := scalar(kv[i+1])
		if strings.ContainsAny(kv[i+1], ":#") || kv[i+1] == "" || looksNumeric(kv[i+1]) {
			v.Style = yaml.DoubleQuotedStyle
		}
		m.Content = append(m.Content, scalar(kv[i]), v)
	}
	return m
}

func looksNumeric(s string) bool {
	return strings.Trim(s, "0123456789.") == ""
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// versionLess compares dotted versions numerically ("1.9.0" < "1.10.0").
func versionLess(a, b string) bool {
	if a == "" {
		return b != ""
	}
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			fmt.Sscan(as[i], &x)
		}
		if i < len(bs) {
			fmt.Sscan(bs[i], &y)
		}
		if x != y {
			return x < y
		}
	}
	return false
}
