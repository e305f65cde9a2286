package openapipb

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// yamlOf renders a free-form value (an Any's yaml) as gnostic does: the
// value's YAML node, parsed from the document, with every style cleared,
// marshalled by yaml.v3 (block style, plain scalars where YAML allows).
// Documents repeat few distinct values (the same extensions and defaults
// on many schemas), so each is rendered once.
func (e *encoder) yamlOf(v *value) (string, error) {
	if s, ok := e.yaml[string(v.raw)]; ok {
		return s, nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(v.raw, &doc); err != nil || doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return "", fmt.Errorf("cannot render %s in YAML: %v", v.kind, err)
	}
	n := doc.Content[0]
	clearStyle(n)
	out, err := yaml.Marshal(n)
	if err != nil {
		return "", fmt.Errorf("cannot render %s in YAML: %w", v.kind, err)
	}
	e.yaml[string(v.raw)] = string(out)
	return string(out), nil
}

func clearStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		clearStyle(c)
	}
}
