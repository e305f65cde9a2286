// Package openapipb encodes OpenAPI v2 and v3 JSON documents in the
// protobuf wire format of gnostic's openapi.v2.Document and
// openapi.v3.Document messages (github.com/google/gnostic-models'
// OpenAPIv2.proto and OpenAPIv3.proto): what kube-apiserver serves for
// Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf and
// ...spec.v3@v1.0+protobuf, and client-go and kubectl decode.
//
// The mapping follows gnostic's reading of a document: members in
// document order, vendor extensions (x-*) and free-form values (default,
// example, enum) as an Any holding the value rendered in YAML, a oneof
// chosen the way gnostic's compiler chooses it ($ref makes a reference,
// a parameter's "in" picks its kind), proto3 zero values left out and
// fields written in field-number order, so the bytes are those of
// proto.Marshal on gnostic's ParseDocument result. A member the messages
// have no field for is an error naming it, as it is for gnostic.
//
// The package exists so that the binary does not link gnostic's document
// compiler (about 0.6 MB of code): it depends only on protowire and the
// YAML library the binary links anyway.
package openapipb

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// V2 encodes an OpenAPI (Swagger) 2.0 JSON document as an
// openapi.v2.Document.
func V2(doc []byte) ([]byte, error) {
	return encodeDoc(doc, v2Document, "OpenAPI v2")
}

// V3 encodes an OpenAPI 3.0 JSON document as an openapi.v3.Document.
func V3(doc []byte) ([]byte, error) {
	return encodeDoc(doc, v3Document, "OpenAPI v3")
}

func encodeDoc(doc []byte, d *msgDesc, what string) ([]byte, error) {
	v, err := parseJSON(doc)
	if err != nil {
		return nil, fmt.Errorf("%s document: %w", what, err)
	}
	e := &encoder{yaml: map[string]string{}}
	b, err := e.message(make([]byte, 0, len(doc)), d, v)
	if err != nil {
		return nil, fmt.Errorf("%s document: %w", what, err)
	}
	return b, nil
}

type fieldKind uint8

const (
	fString     fieldKind = iota // string
	fBool                        // bool
	fInt64                       // int64
	fDouble                      // double
	fStrings                     // repeated string, from an array
	fMsg                         // a message
	fMsgs                        // repeated message, from an array
	fAny                         // Any, from any value
	fAnys                        // repeated Any, from an array
	fStringsMsg                  // a message whose field 1 is repeated string, from an array (or, for v2's TypeItem, a string)
	fAddProps                    // AdditionalPropertiesItem: oneof {message 1; bool 2}
	fItems                       // ItemsItem: repeated message 1, from one object
	fDefault                     // v3 DefaultType: oneof {double 1; bool 2; string 3}
)

type field struct {
	num  protowire.Number
	kind fieldKind
	msg  *msgDesc // fMsg, fMsgs, fAddProps, fItems
}

// msgDesc describes how a JSON object becomes a message.
type msgDesc struct {
	name   string
	fields map[string]field
	// ext is the field of the x-* members (repeated NamedAny), 0 if none.
	ext protowire.Number
	// patterns are members matched by name (a path, a response code):
	// each becomes an entry {1: name, 2: value} of the pattern's field.
	patterns []pattern
	// named, when set, makes every member an entry {1: name, 2: value} of
	// field 1 (an "additional_properties" map).
	named *field
	// choose, when set, makes this a oneof wrapper: the value becomes the
	// chosen alternative's message in the returned field.
	choose func(v *value) (field, error)
}

type pattern struct {
	match func(string) bool
	f     field // num: the repeated Named* field; the value's kind, with num 2
}

type encoder struct {
	yaml map[string]string // rendered Any values by their JSON text
}

type member struct {
	num protowire.Number
	i   int
}

// message appends the fields of the message d made from v (not its tag or
// length).
func (e *encoder) message(b []byte, d *msgDesc, v *value) ([]byte, error) {
	if d.choose != nil {
		f, err := d.choose(v)
		if err != nil {
			return nil, err
		}
		return e.field(b, f, v)
	}
	if v.kind != kObject {
		return nil, fmt.Errorf("%s is %s, not an object", d.name, v.kind)
	}
	if d.named != nil {
		for i, k := range v.keys {
			var err error
			if b, err = e.namedEntry(b, 1, *d.named, k, v.vals[i]); err != nil {
				return nil, fmt.Errorf("%s: %w", jsonPointerToken(k), err)
			}
		}
		return b, nil
	}
	// The members in field-number order; one field's members keep their
	// document order.
	order := make([]member, 0, len(v.keys))
	sorted := true
	for i, k := range v.keys {
		num := protowire.Number(0)
		if f, ok := d.fields[k]; ok {
			num = f.num
		} else if d.ext != 0 && strings.HasPrefix(k, "x-") {
			num = d.ext
		} else {
			for _, p := range d.patterns {
				if p.match(k) {
					num = p.f.num
					break
				}
			}
		}
		if num == 0 {
			return nil, fmt.Errorf("%s has no field %q", d.name, k)
		}
		if len(order) > 0 && order[len(order)-1].num > num {
			sorted = false
		}
		order = append(order, member{num, i})
	}
	if !sorted {
		sort.SliceStable(order, func(i, j int) bool { return order[i].num < order[j].num })
	}
	for _, m := range order {
		k, mv := v.keys[m.i], v.vals[m.i]
		var err error
		if f, ok := d.fields[k]; ok {
			b, err = e.field(b, f, mv)
		} else if m.num == d.ext {
			b, err = e.namedEntry(b, d.ext, field{num: 2, kind: fAny}, k, mv)
		} else {
			for _, p := range d.patterns {
				if p.f.num == m.num && p.match(k) {
					b, err = e.namedEntry(b, p.f.num, p.f, k, mv)
					break
				}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", jsonPointerToken(k), err)
		}
	}
	return b, nil
}

func jsonPointerToken(k string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(k)
}

// namedEntry appends a Named* message {1: name, 2: value} as field num.
func (e *encoder) namedEntry(b []byte, num protowire.Number, vf field, name string, v *value) ([]byte, error) {
	vf.num = 2
	return e.nested(b, num, func(b []byte) ([]byte, error) {
		if name != "" {
			b = protowire.AppendTag(b, 1, protowire.BytesType)
			b = protowire.AppendString(b, name)
		}
		return e.field(b, vf, v)
	})
}

// nested appends field num holding the message that body appends.
func (e *encoder) nested(b []byte, num protowire.Number, body func([]byte) ([]byte, error)) ([]byte, error) {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	start := len(b)
	b, err := body(b)
	if err != nil {
		return nil, err
	}
	n := len(b) - start
	sz := protowire.SizeVarint(uint64(n))
	// Make room for the length in front of the body.
	for i := 0; i < sz; i++ {
		b = append(b, 0)
	}
	copy(b[start+sz:], b[start:start+n])
	protowire.AppendVarint(b[start:start], uint64(n))
	return b, nil
}

func (e *encoder) field(b []byte, f field, v *value) ([]byte, error) {
	switch f.kind {
	case fString:
		s, ok := scalarString(v)
		if !ok {
			return nil, fmt.Errorf("is %s, not a string", v.kind)
		}
		if s != "" {
			b = protowire.AppendTag(b, f.num, protowire.BytesType)
			b = protowire.AppendString(b, s)
		}
	case fBool:
		if v.kind != kBool {
			return nil, fmt.Errorf("is %s, not a boolean", v.kind)
		}
		if v.str == "true" {
			b = protowire.AppendTag(b, f.num, protowire.VarintType)
			b = protowire.AppendVarint(b, 1)
		}
	case fInt64:
		n, err := intValue(v)
		if err != nil {
			return nil, err
		}
		if n != 0 {
			b = protowire.AppendTag(b, f.num, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(n))
		}
	case fDouble:
		x, err := floatValue(v)
		if err != nil {
			return nil, err
		}
		if x != 0 || math.Signbit(x) {
			b = appendDouble(b, f.num, x)
		}
	case fStrings:
		if v.kind != kArray {
			return nil, fmt.Errorf("is %s, not an array", v.kind)
		}
		b = appendStrings(b, f.num, v.vals)
	case fMsg:
		return e.nested(b, f.num, func(b []byte) ([]byte, error) { return e.message(b, f.msg, v) })
	case fMsgs, fAnys:
		if v.kind != kArray {
			return nil, fmt.Errorf("is %s, not an array", v.kind)
		}
		ef := f
		ef.kind = fMsg
		if f.kind == fAnys {
			ef.kind = fAny
		}
		for i, m := range v.vals {
			var err error
			if b, err = e.field(b, ef, m); err != nil {
				return nil, fmt.Errorf("%d: %w", i, err)
			}
		}
	case fAny:
		y, err := e.yamlOf(v)
		if err != nil {
			return nil, err
		}
		b = protowire.AppendTag(b, f.num, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(protowire.SizeTag(2)+protowire.SizeBytes(len(y))))
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendString(b, y)
	case fStringsMsg:
		vals := v.vals
		switch v.kind {
		case kArray:
		case kString, kNumber, kBool:
			vals = []*value{v}
		default:
			return nil, fmt.Errorf("is %s, not an array of strings", v.kind)
		}
		return e.nested(b, f.num, func(b []byte) ([]byte, error) { return appendStrings(b, 1, vals), nil })
	case fAddProps:
		return e.nested(b, f.num, func(b []byte) ([]byte, error) {
			switch v.kind {
			case kBool:
				b = protowire.AppendTag(b, 2, protowire.VarintType)
				return protowire.AppendVarint(b, protowire.EncodeBool(v.str == "true")), nil
			case kObject:
				return e.field(b, field{num: 1, kind: fMsg, msg: f.msg}, v)
			}
			return nil, fmt.Errorf("is %s, not a boolean or an object", v.kind)
		})
	case fItems:
		if v.kind != kObject {
			return nil, fmt.Errorf("is %s, not an object", v.kind)
		}
		return e.nested(b, f.num, func(b []byte) ([]byte, error) {
			return e.field(b, field{num: 1, kind: fMsg, msg: f.msg}, v)
		})
	case fDefault:
		return e.nested(b, f.num, func(b []byte) ([]byte, error) {
			switch v.kind {
			case kNumber:
				x, err := floatValue(v)
				if err != nil {
					return nil, err
				}
				return appendDouble(b, 1, x), nil
			case kBool:
				b = protowire.AppendTag(b, 2, protowire.VarintType)
				return protowire.AppendVarint(b, protowire.EncodeBool(v.str == "true")), nil
			case kString:
				b = protowire.AppendTag(b, 3, protowire.BytesType)
				return protowire.AppendString(b, v.str), nil
			}
			return b, nil // an object, an array or null: no alternative, as in gnostic
		})
	default:
		panic("openapipb: unknown field kind")
	}
	return b, nil
}

func appendDouble(b []byte, num protowire.Number, x float64) []byte {
	b = protowire.AppendTag(b, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, math.Float64bits(x))
}

// appendStrings appends the string members of vals (others are skipped,
// as gnostic's string arrays skip them).
func appendStrings(b []byte, num protowire.Number, vals []*value) []byte {
	for _, m := range vals {
		if s, ok := scalarString(m); ok {
			b = protowire.AppendTag(b, num, protowire.BytesType)
			b = protowire.AppendString(b, s)
		}
	}
	return b
}

// scalarString is a string member's value; an integer is taken as its
// text, as gnostic (reading YAML) takes it.
func scalarString(v *value) (string, bool) {
	switch v.kind {
	case kString:
		return v.str, true
	case kNumber:
		if _, err := strconv.ParseInt(v.str, 10, 64); err == nil {
			return v.str, true
		}
	}
	return "", false
}

func intValue(v *value) (int64, error) {
	if v.kind == kNumber {
		if n, err := strconv.ParseInt(v.str, 10, 64); err == nil {
			return n, nil
		}
	}
	return 0, fmt.Errorf("is %s, not an integer", describe(v))
}

func floatValue(v *value) (float64, error) {
	if v.kind == kNumber {
		if x, err := strconv.ParseFloat(v.str, 64); err == nil {
			return x, nil
		}
	}
	return 0, fmt.Errorf("is %s, not a number", describe(v))
}

func describe(v *value) string {
	if v.kind == kNumber {
		return v.str
	}
	return v.kind.String()
}
