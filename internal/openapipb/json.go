package openapipb

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// kind is a JSON value's kind.
type kind uint8

const (
	kNull kind = iota
	kBool
	kNumber
	kString
	kObject
	kArray
)

func (k kind) String() string {
	return [...]string{"null", "a boolean", "a number", "a string", "an object", "an array"}[k]
}

// value is a parsed JSON value that keeps its members in document order
// and its own bytes (raw), which the vendor extensions, defaults, examples
// and enums are rendered from.
type value struct {
	kind kind
	str  string   // kString: the decoded string; kNumber, kBool: the literal
	keys []string // kObject
	vals []*value // kObject (parallel to keys), kArray
	raw  []byte
}

// get returns the member named k of an object, or nil.
func (v *value) get(k string) *value {
	for i, key := range v.keys {
		if key == k {
			return v.vals[i]
		}
	}
	return nil
}

// parser is a JSON parser over a complete document.
type parser struct {
	b   []byte
	pos int
}

func parseJSON(b []byte) (*value, error) {
	p := &parser{b: b}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos != len(p.b) {
		return nil, p.errorf("unexpected data after the document")
	}
	return v, nil
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("invalid JSON at offset %d: %s", p.pos, fmt.Sprintf(format, args...))
}

func (p *parser) space() {
	for p.pos < len(p.b) {
		switch p.b[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// maxDepth bounds nesting, so that a hostile document cannot exhaust the stack.
const maxDepth = 1000

func (p *parser) value(depth int) (*value, error) {
	if depth > maxDepth {
		return nil, p.errorf("nested too deeply")
	}
	p.space()
	if p.pos >= len(p.b) {
		return nil, p.errorf("unexpected end of input")
	}
	start := p.pos
	v := &value{}
	switch c := p.b[p.pos]; {
	case c == '{':
		v.kind = kObject
		p.pos++
		p.space()
		if p.pos < len(p.b) && p.b[p.pos] == '}' {
			p.pos++
			break
		}
		for {
			p.space()
			if p.pos >= len(p.b) || p.b[p.pos] != '"' {
				return nil, p.errorf("expected a member name")
			}
			k, err := p.string()
			if err != nil {
				return nil, err
			}
			p.space()
			if p.pos >= len(p.b) || p.b[p.pos] != ':' {
				return nil, p.errorf("expected ':'")
			}
			p.pos++
			m, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			v.keys = append(v.keys, k)
			v.vals = append(v.vals, m)
			p.space()
			if p.pos < len(p.b) && p.b[p.pos] == ',' {
				p.pos++
				continue
			}
			if p.pos < len(p.b) && p.b[p.pos] == '}' {
				p.pos++
				break
			}
			return nil, p.errorf("expected ',' or '}'")
		}
	case c == '[':
		v.kind = kArray
		p.pos++
		p.space()
		if p.pos < len(p.b) && p.b[p.pos] == ']' {
			p.pos++
			break
		}
		for {
			m, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			v.vals = append(v.vals, m)
			p.space()
			if p.pos < len(p.b) && p.b[p.pos] == ',' {
				p.pos++
				continue
			}
			if p.pos < len(p.b) && p.b[p.pos] == ']' {
				p.pos++
				break
			}
			return nil, p.errorf("expected ',' or ']'")
		}
	case c == '"':
		s, err := p.string()
		if err != nil {
			return nil, err
		}
		v.kind, v.str = kString, s
	case c == 't' || c == 'f' || c == 'n':
		for _, lit := range []string{"true", "false", "null"} {
			if len(p.b)-p.pos >= len(lit) && string(p.b[p.pos:p.pos+len(lit)]) == lit {
				p.pos += len(lit)
				v.kind, v.str = kBool, lit
				if lit == "null" {
					v.kind = kNull
				}
				break
			}
		}
		if p.pos == start {
			return nil, p.errorf("invalid literal")
		}
	case c == '-' || (c >= '0' && c <= '9'):
		p.pos++
		for p.pos < len(p.b) {
			c := p.b[p.pos]
			if (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-' {
				p.pos++
				continue
			}
			break
		}
		v.kind, v.str = kNumber, string(p.b[start:p.pos])
		if _, err := strconv.ParseFloat(v.str, 64); err != nil && !isRangeErr(err) {
			return nil, p.errorf("invalid number %q", v.str)
		}
	default:
		return nil, p.errorf("unexpected character %q", c)
	}
	v.raw = p.b[start:p.pos]
	return v, nil
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// string reads a JSON string at p.pos (which is '"').
func (p *parser) string() (string, error) {
	start := p.pos
	p.pos++
	escaped := false
	for p.pos < len(p.b) {
		switch c := p.b[p.pos]; {
		case c == '"':
			p.pos++
			if !escaped {
				s := p.b[start+1 : p.pos-1]
				if !utf8.Valid(s) {
					return "", p.errorf("invalid UTF-8 in a string")
				}
				return string(s), nil
			}
			var s string
			if err := json.Unmarshal(p.b[start:p.pos], &s); err != nil {
				return "", p.errorf("invalid string: %v", err)
			}
			return s, nil
		case c == '\\':
			escaped = true
			p.pos += 2
		case c < 0x20:
			return "", p.errorf("control character in a string")
		default:
			p.pos++
		}
	}
	return "", p.errorf("unterminated string")
}
