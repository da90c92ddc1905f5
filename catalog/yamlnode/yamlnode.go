// Package yamlnode reads YAML node trees (go.yaml.in/yaml/v3), which keep
// comments and layout, for the catalog tools that rewrite YAML files.
package yamlnode

import "go.yaml.in/yaml/v3"

// Get returns the value of key in mapping m, or nil.
func Get(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// Items returns the elements of the sequence under key in mapping m.
func Items(m *yaml.Node, key string) []*yaml.Node {
	if s := Get(m, key); s != nil && s.Kind == yaml.SequenceNode {
		return s.Content
	}
	return nil
}
