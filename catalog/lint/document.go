package lint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// document is one YAML document with the node tree kept for line numbers.
type document struct {
	file       string // relative to the linted root
	role       role
	folder     resourceFolder
	node       *yaml.Node // the document's root mapping
	apiVersion string
	kind       string
	name       string
	json       []byte
}

func readDocuments(root, rel string, r role) ([]*document, []Finding) {
	data, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		return nil, []Finding{{File: rel, Message: err.Error()}}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*document
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return docs, []Finding{{File: rel, Line: yamlErrorLine(err), Message: "invalid YAML: " + err.Error()}}
		}
		if len(n.Content) == 0 || n.Content[0].Kind == yaml.ScalarNode && n.Content[0].Tag == "!!null" {
			continue // an empty document between separators
		}
		d := &document{file: rel, role: r, node: n.Content[0]}
		if d.node.Kind != yaml.MappingNode {
			return docs, []Finding{{File: rel, Line: d.node.Line, Message: "a document must be a mapping with apiVersion and kind"}}
		}
		var obj map[string]any
		if err := d.node.Decode(&obj); err != nil {
			return docs, []Finding{{File: rel, Line: d.node.Line, Message: "invalid YAML: " + err.Error()}}
		}
		d.json, err = json.Marshal(obj)
		if err != nil {
			return docs, []Finding{{File: rel, Line: d.node.Line, Message: "cannot convert to JSON: " + err.Error()}}
		}
		d.apiVersion, _ = obj["apiVersion"].(string)
		d.kind, _ = obj["kind"].(string)
		if md, ok := obj["metadata"].(map[string]any); ok {
			d.name, _ = md["name"].(string)
		}
		docs = append(docs, d)
	}
	return docs, nil
}

// yamlErrorLine digs "line N" out of a yaml.v3 syntax error.
func yamlErrorLine(err error) int {
	msg := err.Error()
	i := strings.Index(msg, "line ")
	if i < 0 {
		return 0
	}
	rest := msg[i+len("line "):]
	end := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(rest)
	}
	n, _ := strconv.Atoi(rest[:end])
	return n
}

// decodeStrict decodes the document into a Tekton type, refusing unknown
// fields: a misspelt field is silently dropped by the API server otherwise.
func (d *document) decodeStrict(into any) error {
	dec := json.NewDecoder(bytes.NewReader(d.json))
	dec.DisallowUnknownFields()
	return dec.Decode(into)
}

// finding locates msg at the node a field path (Tekton/knative style, e.g.
// "spec.steps[0].args[1]" or "spec.params[NAME]") points to, or as close to it
// as the document goes.
func (d *document) finding(path, msg string) Finding {
	return Finding{File: d.file, Line: d.lineOf(path), Message: msg}
}

func (d *document) findingf(path, format string, args ...any) Finding {
	return d.finding(path, fmt.Sprintf(format, args...))
}

func (d *document) lineOf(path string) int {
	n := d.node
	line := n.Line
	for _, seg := range splitPath(path) {
		n = child(n, seg)
		if n == nil {
			break
		}
		line = n.Line
	}
	return line
}

// splitPath turns "spec.steps[0].name" into ["spec", "steps", "[0]", "name"].
func splitPath(path string) []string {
	var out []string
	for _, part := range strings.Split(path, ".") {
		for part != "" {
			i := strings.IndexByte(part, '[')
			if i < 0 {
				out = append(out, part)
				break
			}
			if i > 0 {
				out = append(out, part[:i])
			}
			j := strings.IndexByte(part[i:], ']')
			if j < 0 {
				out = append(out, part[i:])
				break
			}
			out = append(out, part[i:i+j+1])
			part = part[i+j+1:]
		}
	}
	return out
}

func child(n *yaml.Node, seg string) *yaml.Node {
	if strings.HasPrefix(seg, "[") && strings.HasSuffix(seg, "]") {
		key := seg[1 : len(seg)-1]
		if n.Kind != yaml.SequenceNode {
			return nil
		}
		if i, err := strconv.Atoi(key); err == nil {
			if i >= 0 && i < len(n.Content) {
				return n.Content[i]
			}
			return nil
		}
		for _, item := range n.Content { // a list keyed by name
			if v := child(item, "name"); v != nil && v.Value == key {
				return item
			}
		}
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == seg {
			return n.Content[i+1]
		}
	}
	return nil
}
