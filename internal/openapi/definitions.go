package openapi

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/json"
	"io"
	"sort"
	"strconv"
	"strings"

	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// definitionsGzip is openapi-gen's definitions (internal/openapi/generated)
// rendered as JSON by hack/openapidefs and gzip-compressed. The generated
// Go code that builds them was 2.1 MB of the release binary; the JSON is
// 0.8 MB, and compressed 0.14 MB, inflated and decoded on each call (issue
// 14). TestDefinitionsMatchGenerated checks they agree with the generated
// code.
//
//go:embed definitions.json.gz
var definitionsGzip []byte

// definitionsJSON inflates definitionsGzip (a fresh copy per call: nothing
// stays resident between the rare calls).
func definitionsJSON() []byte {
	zr, err := gzip.NewReader(bytes.NewReader(definitionsGzip))
	if err != nil {
		panic("openapi: definitions.json.gz: " + err.Error())
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		panic("openapi: definitions.json.gz: " + err.Error())
	}
	return b
}

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
	if err := json.Unmarshal(definitionsJSON(), &stored); err != nil {
		panic("openapi: definitions.json.gz does not decode (go generate ./internal/openapi/): " + err.Error())
	}
	out := make(map[string]common.OpenAPIDefinition, len(stored))
	for name, d := range stored {
		resolveRefs(&d.Schema, ref)
		out[name] = common.OpenAPIDefinition{Schema: d.Schema, Dependencies: d.Dependencies}
	}
	return out
}

// definitionNames returns the names of definitions.json, sorted: each
// line after the first starts with one, as a JSON string followed by ':'
// (hack/openapidefs writes it so).
func definitionNames() []string {
	var out []string
	for line := range bytes.Lines(definitionsJSON()) {
		if len(line) == 0 || line[0] != '"' {
			continue
		}
		end := bytes.Index(line, []byte(`":`))
		if end < 0 {
			panic("openapi: definitions.json: a line without a name: " + string(line[:min(len(line), 80)]))
		}
		name, err := strconv.Unquote(string(line[:end+1]))
		if err != nil {
			panic("openapi: definitions.json: " + err.Error())
		}
		out = append(out, name)
	}
	sort.Strings(out)
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
		if ptrHasPlaceholder(d.Schema) {
			resolveRefs(d.Schema, ref)
			s.Dependencies[k] = d
		}
	}
}

func resolveAll(l []spec.Schema, ref common.ReferenceCallback) {
	for i := range l {
		resolveRefs(&l[i], ref)
	}
}

// resolveMap resolves the schemas of m, copying out (a map's values are
// not addressable) only those that hold a reference.
func resolveMap(m map[string]spec.Schema, ref common.ReferenceCallback) {
	for k := range m {
		if s := m[k]; hasPlaceholder(s) {
			resolveRefs(&s, ref)
			m[k] = s
		}
	}
}

// hasPlaceholder reports whether s or a schema it holds has a placeholder
// reference or a v2 form still to convert. It takes schemas by value, so
// the map walk allocates nothing.
func hasPlaceholder(s spec.Schema) bool {
	if strings.HasPrefix(s.Ref.String(), RefPlaceholder) {
		return true
	}
	if _, ok := s.Extensions[common.ExtensionV2Schema]; ok {
		return true
	}
	if s.Items != nil && (ptrHasPlaceholder(s.Items.Schema) || anyPlaceholder(s.Items.Schemas)) {
		return true
	}
	if anyPlaceholder(s.AllOf) || anyPlaceholder(s.OneOf) || anyPlaceholder(s.AnyOf) || ptrHasPlaceholder(s.Not) {
		return true
	}
	for _, m := range [...]map[string]spec.Schema{s.Properties, s.PatternProperties, s.Definitions} {
		for _, p := range m {
			if hasPlaceholder(p) {
				return true
			}
		}
	}
	if s.AdditionalProperties != nil && ptrHasPlaceholder(s.AdditionalProperties.Schema) {
		return true
	}
	if s.AdditionalItems != nil && ptrHasPlaceholder(s.AdditionalItems.Schema) {
		return true
	}
	for _, d := range s.Dependencies {
		if ptrHasPlaceholder(d.Schema) {
			return true
		}
	}
	return false
}

func ptrHasPlaceholder(s *spec.Schema) bool { return s != nil && hasPlaceholder(*s) }

func anyPlaceholder(l []spec.Schema) bool {
	for _, s := range l {
		if hasPlaceholder(s) {
			return true
		}
	}
	return false
}
