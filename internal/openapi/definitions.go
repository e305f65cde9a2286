package openapi

import (
	_ "embed"
	"encoding/json"
	"strings"

	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// definitionsJSON is openapi-gen's definitions (internal/openapi/generated)
// rendered by hack/openapidefs. The generated Go code that builds them was
// 2.1 MB of the release binary; this is 0.8 MB, decoded on each call
// (issue 14). TestDefinitionsMatchGenerated checks the two agree.
//
//go:embed definitions.json
var definitionsJSON []byte

// RefPlaceholder starts every reference in definitions.json: the
// definition's name follows it.
const RefPlaceholder = "wasmpod-ref:"

// StoredDefinition is one definition in definitions.json.
type StoredDefinition struct {
	Dependencies []string    `json:"dependencies,omitempty"`
	Schema       spec.Schema `json:"schema"`
}

// GetOpenAPIDefinitions returns the definitions of every served type, with
// references made by ref, as openapi-gen's GetOpenAPIDefinitions does. Each
// call decodes them anew: callers own and may change what they get.
func GetOpenAPIDefinitions(ref common.ReferenceCallback) map[string]common.OpenAPIDefinition {
	var stored map[string]StoredDefinition
	if err := json.Unmarshal(definitionsJSON, &stored); err != nil {
		panic("openapi: definitions.json does not decode (go generate ./internal/openapi/): " + err.Error())
	}
	out := make(map[string]common.OpenAPIDefinition, len(stored))
	for name, d := range stored {
		resolveRefs(&d.Schema, ref)
		out[name] = common.OpenAPIDefinition{Schema: d.Schema, Dependencies: d.Dependencies}
	}
	return out
}

// resolveRefs replaces every placeholder reference in s and the schemas it
// holds by ref(name).
func resolveRefs(s *spec.Schema, ref common.ReferenceCallback) {
	if s == nil {
		return
	}
	if name, ok := strings.CutPrefix(s.Ref.String(), RefPlaceholder); ok {
		s.Ref = ref(name)
	}
	// The v2 form of a schema is a spec.Schema in the generated code, which
	// kube-openapi's v2 builder asserts; JSON decodes it as a map.
	if v2, ok := s.Extensions[common.ExtensionV2Schema]; ok {
		if _, isSchema := v2.(spec.Schema); !isSchema {
			var sub spec.Schema
			b, err := json.Marshal(v2)
			if err == nil {
				err = json.Unmarshal(b, &sub)
			}
			if err != nil {
				panic("openapi: definitions.json: " + common.ExtensionV2Schema + ": " + err.Error())
			}
			resolveRefs(&sub, ref)
			s.Extensions[common.ExtensionV2Schema] = sub
		}
	}
	if s.Items != nil {
		resolveRefs(s.Items.Schema, ref)
		resolveAll(s.Items.Schemas, ref)
	}
	resolveAll(s.AllOf, ref)
	resolveAll(s.OneOf, ref)
	resolveAll(s.AnyOf, ref)
	resolveRefs(s.Not, ref)
	resolveMap(s.Properties, ref)
	resolveMap(s.PatternProperties, ref)
	resolveMap(s.Definitions, ref)
	if s.AdditionalProperties != nil {
		resolveRefs(s.AdditionalProperties.Schema, ref)
	}
	if s.AdditionalItems != nil {
		resolveRefs(s.AdditionalItems.Schema, ref)
	}
	for k, d := range s.Dependencies {
		resolveRefs(d.Schema, ref)
		s.Dependencies[k] = d
	}
}

func resolveAll(l []spec.Schema, ref common.ReferenceCallback) {
	for i := range l {
		resolveRefs(&l[i], ref)
	}
}

func resolveMap(m map[string]spec.Schema, ref common.ReferenceCallback) {
	for k, s := range m {
		resolveRefs(&s, ref)
		m[k] = s
	}
}
