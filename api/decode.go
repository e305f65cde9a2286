package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kjson "sigs.k8s.io/json"
	sigsyaml "sigs.k8s.io/yaml"
)

// Document is one object of a manifest stream.
type Document struct {
	Index  int            // 0-based position among the stream's non-empty documents
	Item   int            // 0-based position within the List document it came from; -1 if none
	Line   int            // 1-based line of the source where the document starts
	Source string         // the name given to the stream, e.g. the file name
	Object runtime.Object // a typed k8s.io/api object, e.g. *corev1.Pod, with apiVersion and kind set
}

// Kind returns the kind of the document's object, e.g. "Pod".
func (d Document) Kind() string {
	if d.Object == nil {
		return ""
	}
	return d.Object.GetObjectKind().GroupVersionKind().Kind
}

// Name returns the document object's metadata.name ("" if it has none).
func (d Document) Name() string {
	if acc, err := meta.Accessor(d.Object); err == nil {
		return acc.GetName()
	}
	return ""
}

// DecodeFile reads and decodes the manifest file at path, naming it path in errors.
func DecodeFile(path string) ([]Document, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{Source: path, Index: -1, Item: -1, Detail: fmt.Sprintf("cannot read manifest: %v", errors.Unwrap(err)), Err: err}
	}
	return Decode(data, path)
}

// DecodeReader reads r to its end and decodes it, naming it source in errors.
func DecodeReader(r io.Reader, source string) ([]Document, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, &Error{Source: source, Index: -1, Item: -1, Detail: fmt.Sprintf("cannot read manifest: %v", err), Err: err}
	}
	return Decode(data, source)
}

// Decode decodes a manifest stream: YAML documents separated by "---"
// lines, or a sequence of JSON objects. Lists are expanded, empty documents
// skipped. Every document is decoded; the documents that decoded cleanly
// are returned along with an ErrorList naming every problem (nil if none).
func Decode(data []byte, source string) ([]Document, error) {
	d := &decoder{source: source}
	for _, c := range splitStream(data) {
		if c.json {
			d.jsonChunk(c)
		} else {
			d.yamlChunk(c)
		}
	}
	return d.docs, d.errs.orNil()
}

type decoder struct {
	source string
	next   int // index of the next non-empty document
	docs   []Document
	errs   ErrorList
}

// chunk is one document's raw text.
type chunk struct {
	data []byte
	line int // 1-based line of the source where data starts
	json bool
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// splitStream cuts data into documents: JSON values when data is a
// sequence of JSON objects, YAML documents otherwise.
func splitStream(data []byte) []chunk {
	data = bytes.TrimPrefix(data, utf8BOM)
	if c, ok := splitJSON(data); ok {
		return c
	}
	return splitYAML(data)
}

func splitJSON(data []byte) ([]chunk, bool) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var out []chunk
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if err == io.EOF {
			return out, true
		}
		if err != nil {
			return nil, false // not JSON after all: flow-style YAML, perhaps
		}
		start := int(dec.InputOffset()) - len(raw)
		out = append(out, chunk{data: raw, line: 1 + bytes.Count(data[:start], []byte("\n")), json: true})
	}
}

// splitYAML cuts data at document separators: lines starting with "---"
// followed by nothing, blanks or a comment (or content, as in "--- {a: 1}").
func splitYAML(data []byte) []chunk {
	var out []chunk
	cur := chunk{line: 1}
	for i, ln := range bytes.SplitAfter(data, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(ln, []byte("---")); ok && (len(rest) == 0 || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\r' || rest[0] == '\n') {
			out = append(out, cur)
			cur = chunk{line: i + 2}
			if t := bytes.TrimSpace(rest); len(t) > 0 && t[0] != '#' {
				cur = chunk{line: i + 1, data: append([]byte(nil), rest...)}
			}
			continue
		}
		cur.data = append(cur.data, ln...)
	}
	return append(out, cur)
}

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

// shiftLines rewrites "line N" in a YAML parser message, relative to a
// chunk, into the line of the whole source.
func shiftLines(msg string, firstLine int) string {
	return yamlLineRE.ReplaceAllStringFunc(msg, func(s string) string {
		n, err := strconv.Atoi(s[len("line "):])
		if err != nil {
			return s
		}
		return "line " + strconv.Itoa(n+firstLine-1)
	})
}

func (d *decoder) fail(idx, item, line int, kind, name, fld, detail string) {
	d.errs = append(d.errs, &Error{Source: d.source, Index: idx, Item: item, Line: line,
		Kind: kind, Name: name, Field: fld, Detail: detail})
}

func (d *decoder) yamlChunk(c chunk) {
	var root yaml.Node
	if err := yaml.Unmarshal(c.data, &root); err != nil {
		idx := d.next
		d.next++
		d.fail(idx, -1, c.line, "", "", "", "invalid YAML: "+shiftLines(strings.TrimPrefix(err.Error(), "yaml: "), c.line))
		return
	}
	if len(root.Content) == 0 {
		return // only blanks and comments
	}
	top := root.Content[0]
	if top.Kind == yaml.ScalarNode && top.Tag == "!!null" {
		return // an explicitly empty document
	}
	idx := d.next
	d.next++
	var dups []*Error
	findDuplicateKeys(top, nil, func(p *field.Path, line, first int) {
		dups = append(dups, &Error{Source: d.source, Index: idx, Item: -1, Line: c.line,
			Field: p.String(), Detail: fmt.Sprintf("duplicate field (lines %d and %d)", first+c.line-1, line+c.line-1)})
	})
	js, err := sigsyaml.YAMLToJSON(c.data)
	if err != nil {
		d.fail(idx, -1, c.line, "", "", "", "invalid YAML: "+shiftLines(strings.TrimPrefix(strings.TrimPrefix(err.Error(), "error converting YAML to JSON: "), "yaml: "), c.line))
		return
	}
	if len(dups) > 0 {
		kind, name := identity(js)
		for _, e := range dups {
			e.Kind, e.Name = kind, name
		}
		d.errs = append(d.errs, dups...)
		return
	}
	d.object(js, idx, -1, c.line)
}

// findDuplicateKeys reports every mapping key that repeats an earlier key
// of the same mapping. Aliases are not followed.
func findDuplicateKeys(n *yaml.Node, p *field.Path, report func(p *field.Path, line, first int)) {
	switch n.Kind {
	case yaml.MappingNode:
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.Value == "<<" {
				continue // merge key
			}
			var child *field.Path
			if p == nil {
				child = field.NewPath(k.Value)
			} else {
				child = p.Child(k.Value)
			}
			if first, ok := seen[k.Value]; ok {
				report(child, k.Line, first)
			} else {
				seen[k.Value] = k.Line
			}
			findDuplicateKeys(v, child, report)
		}
	case yaml.SequenceNode:
		if p == nil {
			return // not an object; reported later
		}
		for i, c := range n.Content {
			findDuplicateKeys(c, p.Index(i), report)
		}
	}
}

func (d *decoder) jsonChunk(c chunk) {
	if string(bytes.TrimSpace(c.data)) == "null" {
		return
	}
	idx := d.next
	d.next++
	d.object(c.data, idx, -1, c.line)
}

// identity extracts kind and metadata.name from a JSON object, best effort.
func identity(js []byte) (kind, name string) {
	var id struct {
		Kind     any `json:"kind"`
		Metadata struct {
			Name any `json:"name"`
		} `json:"metadata"`
	}
	_ = json.Unmarshal(js, &id)
	kind, _ = id.Kind.(string)
	name, _ = id.Metadata.Name.(string)
	return kind, name
}

// jsonKind names the JSON type of a value, for messages.
func jsonKind(js []byte) string {
	t := bytes.TrimSpace(js)
	if len(t) == 0 {
		return "nothing"
	}
	switch t[0] {
	case '{':
		return "an object"
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// object decodes one JSON object (a document, or an item of a List).
func (d *decoder) object(js []byte, idx, item, line int) {
	if t := bytes.TrimSpace(js); len(t) == 0 || t[0] != '{' {
		d.fail(idx, item, line, "", "", "", fmt.Sprintf("expected an object with apiVersion and kind, got %s", jsonKind(js)))
		return
	}
	var tm struct {
		APIVersion any `json:"apiVersion"`
		Kind       any `json:"kind"`
	}
	if err := json.Unmarshal(js, &tm); err != nil {
		d.fail(idx, item, line, "", "", "", "invalid JSON: "+err.Error())
		return
	}
	kind, name := identity(js)
	bad := false
	check := func(fld string, v any) string {
		switch v := v.(type) {
		case nil:
			d.fail(idx, item, line, kind, name, fld, field.Required(nil, "").ErrorBody())
		case string:
			if v != "" {
				return v
			}
			d.fail(idx, item, line, kind, name, fld, field.Required(nil, "").ErrorBody())
		default:
			d.fail(idx, item, line, kind, name, fld, field.Invalid(nil, v, "must be a string").ErrorBody())
		}
		bad = true
		return ""
	}
	apiVersion := check("apiVersion", tm.APIVersion)
	kind = check("kind", tm.Kind)
	if bad {
		return
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		d.fail(idx, item, line, kind, name, "apiVersion", field.Invalid(nil, apiVersion, "must be group/version or version").ErrorBody())
		return
	}
	gvk := gv.WithKind(kind)

	if kind == "List" && gv.Group == "" && gv.Version == "v1" {
		d.list(js, idx, item, line, name)
		return
	}
	if !Scheme.IsVersionRegistered(gv) {
		d.fail(idx, item, line, kind, name, "apiVersion", field.NotSupported(nil, apiVersion, knownVersions()).ErrorBody())
		return
	}
	if !Scheme.Recognizes(gvk) {
		msg := fmt.Sprintf("unknown kind %q in apiVersion %q", kind, apiVersion)
		if alt := versionsOfKind(kind); len(alt) > 0 {
			msg += fmt.Sprintf(" (%s is in apiVersion %s)", kind, strings.Join(alt, ", "))
		}
		d.fail(idx, item, line, kind, name, "kind", msg)
		return
	}

	obj, _, err := strictJSON.Decode(js, nil, nil)
	if err != nil {
		if runtime.IsStrictDecodingError(err) {
			var se interface{ Errors() []error }
			if errors.As(err, &se) {
				for _, e := range se.Errors() {
					var fe kjson.FieldError
					if errors.As(e, &fe) {
						d.fail(idx, item, line, kind, name, fe.FieldPath(), strings.TrimSuffix(fe.Error(), " "+strconv.Quote(fe.FieldPath())))
					} else {
						d.fail(idx, item, line, kind, name, "", e.Error())
					}
				}
				return
			}
		}
		fld, detail := explainDecodeError(js, err)
		d.fail(idx, item, line, kind, name, fld, detail)
		return
	}

	if meta.IsListType(obj) {
		if item >= 0 {
			d.fail(idx, item, line, kind, name, "kind", "a List inside a List is not supported")
			return
		}
		items, err := meta.ExtractList(obj)
		if err != nil {
			d.fail(idx, item, line, kind, name, "items", err.Error())
			return
		}
		for i, it := range items {
			if gvks, _, err := Scheme.ObjectKinds(it); err == nil && len(gvks) > 0 {
				it.GetObjectKind().SetGroupVersionKind(gvks[0])
			}
			d.docs = append(d.docs, Document{Index: idx, Item: i, Line: line, Source: d.source, Object: it})
		}
		return
	}
	d.docs = append(d.docs, Document{Index: idx, Item: item, Line: line, Source: d.source, Object: obj})
}

// list expands a "kind: List" document: each item is decoded as an object.
func (d *decoder) list(js []byte, idx, item, line int, name string) {
	if item >= 0 {
		d.fail(idx, item, line, "List", name, "kind", "a List inside a List is not supported")
		return
	}
	var l struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Metadata   json.RawMessage   `json:"metadata"`
		Items      []json.RawMessage `json:"items"`
	}
	strictErrs, err := kjson.UnmarshalStrict(js, &l)
	if err != nil {
		fld, detail := explainDecodeError(js, err)
		d.fail(idx, -1, line, "List", name, fld, detail)
		return
	}
	if len(strictErrs) > 0 {
		for _, e := range strictErrs {
			var fe kjson.FieldError
			if errors.As(e, &fe) {
				d.fail(idx, -1, line, "List", name, fe.FieldPath(), strings.TrimSuffix(fe.Error(), " "+strconv.Quote(fe.FieldPath())))
			} else {
				d.fail(idx, -1, line, "List", name, "", e.Error())
			}
		}
		return
	}
	for i, raw := range l.Items {
		d.object(raw, idx, i, line)
	}
}

func knownVersions() []string {
	var out []string
	for _, gv := range Scheme.PrioritizedVersionsAllGroups() {
		out = append(out, gv.String())
	}
	sort.Strings(out)
	return out
}

// versionsOfKind lists the apiVersions that know kind.
func versionsOfKind(kind string) []string {
	var out []string
	for gvk := range Scheme.AllKnownTypes() {
		if gvk.Kind == kind {
			out = append(out, gvk.GroupVersion().String())
		}
	}
	sort.Strings(out)
	return out
}

// explainDecodeError turns a JSON decoding error into a field path and a
// message, finding the path from the error's offset where it can.
func explainDecodeError(js []byte, err error) (fld, detail string) {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		fld = pathAtOffset(js, te.Offset)
		if fld == "" {
			fld = te.Field
		}
		return fld, fmt.Sprintf("Invalid value: %s: expected %s", te.Value, goTypeToJSON(te.Type))
	}
	if p, msg := findBadQuantity(js); p != "" {
		return p, msg
	}
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "json: ")
	return "", msg
}

func goTypeToJSON(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a base64 string"
		}
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return t.String()
}

// pathAtOffset returns the field path ("spec.containers[0].ports") of the
// JSON value that ends at or after byte offset off of js.
func pathAtOffset(js []byte, off int64) string {
	type frame struct {
		obj       bool
		expectKey bool
		key       string
		idx       int
	}
	var stack []*frame
	render := func() string {
		var p *field.Path
		for _, f := range stack {
			switch {
			case f.obj && p == nil:
				p = field.NewPath(f.key)
			case f.obj:
				p = p.Child(f.key)
			case p == nil:
				p = field.NewPath("").Index(f.idx)
			default:
				p = p.Index(f.idx)
			}
		}
		if p == nil {
			return ""
		}
		return p.String()
	}
	afterValue := func() {
		if len(stack) == 0 {
			return
		}
		f := stack[len(stack)-1]
		if f.obj {
			f.expectKey = true
		} else {
			f.idx++
		}
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		if dl, ok := tok.(json.Delim); ok && (dl == '}' || dl == ']') {
			stack = stack[:len(stack)-1]
			afterValue()
			continue
		}
		if n := len(stack); n > 0 && stack[n-1].obj && stack[n-1].expectKey {
			stack[n-1].key, _ = tok.(string)
			stack[n-1].expectKey = false
			continue
		}
		if dec.InputOffset() >= off {
			return render()
		}
		if dl, ok := tok.(json.Delim); ok {
			stack = append(stack, &frame{obj: dl == '{', expectKey: dl == '{'})
			continue
		}
		afterValue()
	}
}

// quantityKeys are the maps whose values are resource quantities.
var quantityKeys = map[string]bool{"limits": true, "requests": true, "overhead": true, "capacity": true, "allocatable": true, "hard": true, "used": true}

// findBadQuantity finds a resource quantity that does not parse: decoding
// errors from resource.Quantity carry no field path.
func findBadQuantity(js []byte) (string, string) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	if dec.Decode(&v) != nil {
		return "", ""
	}
	var walk func(v any, p *field.Path, quantities bool) (string, string)
	walk = func(v any, p *field.Path, quantities bool) (string, string) {
		switch v := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				var child *field.Path
				if p == nil {
					child = field.NewPath(k)
				} else {
					child = p.Child(k)
				}
				if quantities || k == "sizeLimit" {
					if s, m := checkQuantity(v[k], child); s != "" {
						return s, m
					}
					continue
				}
				if s, m := walk(v[k], child, quantityKeys[k]); s != "" {
					return s, m
				}
			}
		case []any:
			for i, e := range v {
				if p == nil {
					continue
				}
				if s, m := walk(e, p.Index(i), false); s != "" {
					return s, m
				}
			}
		}
		return "", ""
	}
	return walk(v, nil, false)
}

func checkQuantity(v any, p *field.Path) (string, string) {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case json.Number:
		s = v.String()
	case nil:
		return "", ""
	default:
		return p.String(), fmt.Sprintf("Invalid value: %s: expected a quantity such as 100m, 64Mi or 2", jsonKind(mustJSON(v)))
	}
	if _, err := resource.ParseQuantity(s); err != nil {
		return p.String(), field.Invalid(nil, s, "must be a quantity such as 100m, 64Mi or 2").ErrorBody()
	}
	return "", ""
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
