// Package gotemplate is kubectl's -o go-template printer (cli-runtime's
// GoTemplatePrinter) without text/template's executor: it walks the
// standard library's text/template/parse tree over the object's JSON form
// (maps, slices, strings, numbers, booleans, null), the only data kubectl
// gives a template, so no method is ever called.
//
// text/template looks methods up by name through reflection
// (reflect.Value.MethodByName), which makes the linker keep every exported
// method of every type the binary converts to an interface: about 7 MB of
// wasmpod's release binary (issue 14). This evaluator uses no reflection.
//
// It supports what templates over JSON can use: field chains, variables,
// pipelines, if/else, with, range (with else, break and continue),
// define/template/block, and the builtins and, or, not, len, index, slice,
// print, printf, println, eq, ne, lt, le, gt, ge, html, js, urlquery, plus
// kubectl's exists and base64decode. Output and error messages are
// text/template's (the tests compare the two on a table of templates).
package gotemplate

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"text/template/parse"
	"unicode"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/json"
)

// Printer prints objects through a Go template, as kubectl's
// GoTemplatePrinter does.
type Printer struct {
	raw          string
	name         string
	trees        map[string]*parse.Tree
	missingError bool
}

// builtins are the functions a template may name (text/template's
// builtins and kubectl's two); parse checks names against it.
var builtins = map[string]any{
	"and": true, "or": true, "not": true, "len": true, "index": true, "slice": true,
	"print": true, "printf": true, "println": true, "call": true,
	"eq": true, "ne": true, "lt": true, "le": true, "gt": true, "ge": true,
	"html": true, "js": true, "urlquery": true,
	"exists": true, "base64decode": true,
}

// New parses text as kubectl does (the template is named "output").
func New(text string) (*Printer, error) {
	trees, err := parse.Parse("output", text, "", "", builtins)
	if err != nil {
		return nil, err
	}
	return &Printer{raw: text, name: "output", trees: trees}, nil
}

// AllowMissingKeys is --allow-missing-template-keys: false makes a missing
// map key an error (text/template's missingkey=error).
func (p *Printer) AllowMissingKeys(allow bool) { p.missingError = !allow }

// PrintObj prints obj's JSON form through the template; on an error it
// writes kubectl's debugging text to w and returns kubectl's error.
func (p *Printer) PrintObj(obj runtime.Object, w io.Writer) error {
	data, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	out := map[string]any{}
	if err := json.Unmarshal(data, &out); err != nil {
		return err
	}
	if err = p.Execute(w, out); err != nil {
		fmt.Fprintf(w, "Error executing template: %v. Printing more information for debugging the template:\n", err)
		fmt.Fprintf(w, "\ttemplate was:\n\t\t%v\n", p.raw)
		fmt.Fprintf(w, "\traw data was:\n\t\t%v\n", string(data))
		fmt.Fprintf(w, "\tobject given to template engine was:\n\t\t%+v\n\n", out)
		return fmt.Errorf("error executing template %q: %v", p.raw, err)
	}
	return nil
}

// Execute runs the template on data, a JSON value (as encoding/json or
// k8s.io/apimachinery/pkg/util/json decode into any).
func (p *Printer) Execute(w io.Writer, data any) (err error) {
	t := p.trees[p.name]
	s := &state{p: p, tree: t, w: w, vars: []variable{{"$", val{v: data}}}}
	defer func() {
		if r := recover(); r != nil {
			switch e := r.(type) {
			case execError:
				err = e.err
			case writeError:
				err = e.err
			default:
				err = fmt.Errorf("caught panic: %+v", r)
			}
		}
	}()
	if t == nil || t.Root == nil {
		return fmt.Errorf("template: %s: %q is an incomplete or empty template", p.name, p.name)
	}
	s.walk(val{v: data}, t.Root)
	return nil
}

// val is a value as text/template's reflect.Value sees it: invalid (no
// value: a missing key), or v, which iface says is held in an interface{}
// (an element of a JSON map or list, as MapIndex and Index return it).
type val struct {
	v       any
	invalid bool
	iface   bool
}

var (
	noValue = val{invalid: true}
	missing = val{invalid: true, iface: true} // no final argument in a pipeline
)

func isMissing(v val) bool { return v.invalid && v.iface }

// concrete is indirectInterface: the value inside an interface, a nil
// interface being no value.
func concrete(v val) val {
	if v.iface && !v.invalid {
		if v.v == nil {
			return noValue
		}
		return val{v: v.v}
	}
	return v
}

func (v val) typeName() string {
	if v.iface {
		return "interface {}"
	}
	return fmt.Sprintf("%T", v.v)
}

type variable struct {
	name  string
	value val
}

type state struct {
	p     *Printer
	tree  *parse.Tree
	w     io.Writer
	node  parse.Node
	vars  []variable
	depth int
}

type execError struct{ err error }
type writeError struct{ err error }

var (
	walkBreak    = errors.New("break")
	walkContinue = errors.New("continue")
)

func (s *state) at(n parse.Node) { s.node = n }

func (s *state) errorf(format string, args ...any) {
	name := strings.ReplaceAll(s.tree.Name, "%", "%%")
	if s.node == nil {
		format = fmt.Sprintf("template: %s: %s", name, format)
	} else {
		location, context := s.tree.ErrorContext(s.node)
		format = fmt.Sprintf("template: %s: executing %q at <%s>: %s", location, name, strings.ReplaceAll(context, "%", "%%"), format)
	}
	panic(execError{fmt.Errorf(format, args...)})
}

func (s *state) mark() int { return len(s.vars) }
func (s *state) pop(m int) { s.vars = s.vars[:m] }
func (s *state) push(name string, v val) {
	s.vars = append(s.vars, variable{name, v})
}

func (s *state) setVar(name string, v val) {
	for i := s.mark() - 1; i >= 0; i-- {
		if s.vars[i].name == name {
			s.vars[i].value = v
			return
		}
	}
	s.errorf("undefined variable: %s", name)
}

func (s *state) setTopVar(n int, v val) { s.vars[len(s.vars)-n].value = v }

func (s *state) varValue(name string) val {
	for i := s.mark() - 1; i >= 0; i-- {
		if s.vars[i].name == name {
			return s.vars[i].value
		}
	}
	s.errorf("undefined variable: %s", name)
	return noValue
}

func (s *state) walk(dot val, node parse.Node) {
	s.at(node)
	switch node := node.(type) {
	case *parse.ActionNode:
		v := s.evalPipeline(dot, node.Pipe)
		if len(node.Pipe.Decl) == 0 {
			s.printValue(node, v)
		}
	case *parse.BreakNode:
		panic(walkBreak)
	case *parse.CommentNode:
	case *parse.ContinueNode:
		panic(walkContinue)
	case *parse.IfNode:
		s.walkIfOrWith(false, dot, node.Pipe, node.List, node.ElseList)
	case *parse.ListNode:
		for _, n := range node.Nodes {
			s.walk(dot, n)
		}
	case *parse.RangeNode:
		s.walkRange(dot, node)
	case *parse.TemplateNode:
		s.walkTemplate(dot, node)
	case *parse.TextNode:
		if _, err := s.w.Write(node.Text); err != nil {
			panic(writeError{err})
		}
	case *parse.WithNode:
		s.walkIfOrWith(true, dot, node.Pipe, node.List, node.ElseList)
	default:
		s.errorf("unknown node: %s", node)
	}
}

func (s *state) walkIfOrWith(with bool, dot val, pipe *parse.PipeNode, list, elseList *parse.ListNode) {
	defer s.pop(s.mark())
	v := s.evalPipeline(dot, pipe)
	if isTrue(concrete(v)) {
		if with {
			s.walk(v, list)
		} else {
			s.walk(dot, list)
		}
	} else if elseList != nil {
		s.walk(dot, elseList)
	}
}

func isTrue(v val) bool {
	if v.invalid {
		return false
	}
	switch x := v.v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case map[string]any:
		return len(x) > 0
	case []any:
		return len(x) > 0
	case int:
		return x != 0
	case int64:
		return x != 0
	case float64:
		return x != 0
	}
	return true
}

func (s *state) walkRange(dot val, r *parse.RangeNode) {
	s.at(r)
	defer func() {
		if r := recover(); r != nil && r != walkBreak {
			panic(r)
		}
	}()
	defer s.pop(s.mark())
	v := concrete(s.evalPipeline(dot, r.Pipe))
	mark := s.mark()
	one := func(index, elem val) {
		if len(r.Pipe.Decl) > 0 {
			if r.Pipe.IsAssign {
				if len(r.Pipe.Decl) > 1 {
					s.setVar(r.Pipe.Decl[0].Ident[0], index)
				} else {
					s.setVar(r.Pipe.Decl[0].Ident[0], elem)
				}
			} else {
				s.setTopVar(1, elem)
			}
		}
		if len(r.Pipe.Decl) > 1 {
			if r.Pipe.IsAssign {
				s.setVar(r.Pipe.Decl[1].Ident[0], elem)
			} else {
				s.setTopVar(2, index)
			}
		}
		defer s.pop(mark)
		defer func() {
			if r := recover(); r != nil && r != walkContinue {
				panic(r)
			}
		}()
		s.walk(elem, r.List)
	}
	ran := false
	switch x := v.v.(type) {
	case []any:
		for i, e := range x {
			ran = true
			one(val{v: i}, val{v: e, iface: true})
		}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ran = true
			one(val{v: k}, val{v: x[k], iface: true})
		}
	case int, int64:
		if len(r.Pipe.Decl) > 1 {
			s.errorf("can't use %v to iterate over more than one variable", x)
		}
		n := toInt64(x)
		for i := int64(0); i < n; i++ {
			ran = true
			if _, ok := x.(int); ok {
				one(noValue, val{v: int(i)})
			} else {
				one(noValue, val{v: i})
			}
		}
	case nil:
		if !v.invalid {
			s.errorf("range can't iterate over %v", "<nil>")
		}
	default:
		s.errorf("range can't iterate over %v", x)
	}
	if !ran && r.ElseList != nil {
		s.walk(dot, r.ElseList)
	}
}

func toInt64(x any) int64 {
	switch n := x.(type) {
	case int:
		return int64(n)
	case int64:
		return n
	}
	return 0
}

const maxExecDepth = 100000

func (s *state) walkTemplate(dot val, t *parse.TemplateNode) {
	s.at(t)
	tree := s.p.trees[t.Name]
	if tree == nil || tree.Root == nil {
		s.errorf("template %q not defined", t.Name)
	}
	if s.depth == maxExecDepth {
		s.errorf("exceeded maximum template depth (%v)", maxExecDepth)
	}
	dot = s.evalPipeline(dot, t.Pipe)
	ns := *s
	ns.depth++
	ns.tree = tree
	ns.vars = []variable{{"$", dot}}
	ns.walk(dot, tree.Root)
}

func (s *state) evalPipeline(dot val, pipe *parse.PipeNode) val {
	if pipe == nil {
		return noValue
	}
	s.at(pipe)
	v := missing
	for _, cmd := range pipe.Cmds {
		v = concrete(s.evalCommand(dot, cmd, v))
	}
	for _, variable := range pipe.Decl {
		if pipe.IsAssign {
			s.setVar(variable.Ident[0], v)
		} else {
			s.push(variable.Ident[0], v)
		}
	}
	return v
}

func (s *state) notAFunction(args []parse.Node, final val) {
	if len(args) > 1 || !isMissing(final) {
		s.errorf("can't give argument to non-function %s", args[0])
	}
}

func (s *state) evalCommand(dot val, cmd *parse.CommandNode, final val) val {
	first := cmd.Args[0]
	switch n := first.(type) {
	case *parse.FieldNode:
		return s.evalFieldNode(dot, n, cmd.Args, final)
	case *parse.ChainNode:
		return s.evalChainNode(dot, n, cmd.Args, final)
	case *parse.IdentifierNode:
		return s.evalFunction(dot, n, cmd, cmd.Args, final)
	case *parse.PipeNode:
		s.notAFunction(cmd.Args, final)
		return s.evalPipeline(dot, n)
	case *parse.VariableNode:
		return s.evalVariableNode(dot, n, cmd.Args, final)
	}
	s.at(first)
	s.notAFunction(cmd.Args, final)
	switch w := first.(type) {
	case *parse.BoolNode:
		return val{v: w.True}
	case *parse.DotNode:
		return dot
	case *parse.NilNode:
		s.errorf("nil is not a command")
	case *parse.NumberNode:
		return s.idealConstant(w)
	case *parse.StringNode:
		return val{v: w.Text}
	}
	s.errorf("can't evaluate command %q", first)
	return noValue
}

func (s *state) idealConstant(c *parse.NumberNode) val {
	s.at(c)
	switch {
	case c.IsComplex:
		return val{v: c.Complex128}
	case c.IsFloat && !isHexInt(c.Text) && !(len(c.Text) > 0 && c.Text[0] == '\'') && strings.ContainsAny(c.Text, ".eEpP"):
		return val{v: c.Float64}
	case c.IsInt:
		n := int(c.Int64)
		if int64(n) != c.Int64 {
			s.errorf("%s overflows int", c.Text)
		}
		return val{v: n}
	case c.IsUint:
		s.errorf("%s overflows int", c.Text)
	}
	return noValue
}

func isHexInt(s string) bool {
	return len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && !strings.ContainsAny(s, "pP")
}

func (s *state) evalFieldNode(dot val, field *parse.FieldNode, args []parse.Node, final val) val {
	s.at(field)
	return s.evalFieldChain(dot, dot, field, field.Ident, args, final)
}

func (s *state) evalChainNode(dot val, chain *parse.ChainNode, args []parse.Node, final val) val {
	s.at(chain)
	if len(chain.Field) == 0 {
		s.errorf("internal error: no fields in evalChainNode")
	}
	if chain.Node.Type() == parse.NodeNil {
		s.errorf("indirection through explicit nil in %s", chain)
	}
	pipe := s.evalArg(dot, chain.Node)
	return s.evalFieldChain(dot, pipe, chain, chain.Field, args, final)
}

func (s *state) evalVariableNode(dot val, v *parse.VariableNode, args []parse.Node, final val) val {
	s.at(v)
	value := s.varValue(v.Ident[0])
	if len(v.Ident) == 1 {
		s.notAFunction(args, final)
		return value
	}
	return s.evalFieldChain(dot, value, v, v.Ident[1:], args, final)
}

func (s *state) evalFieldChain(dot, receiver val, node parse.Node, ident []string, args []parse.Node, final val) val {
	n := len(ident)
	for i := 0; i < n-1; i++ {
		receiver = s.evalField(ident[i], receiver, nil, missing)
	}
	return s.evalField(ident[n-1], receiver, args, final)
}

// evalField is .Name on receiver: a map's entry (JSON has no methods).
func (s *state) evalField(name string, receiver val, args []parse.Node, final val) val {
	if receiver.invalid {
		if s.p.missingError {
			s.errorf("nil data; no entry for key %q", name)
		}
		return noValue
	}
	if receiver.v == nil && receiver.iface {
		s.errorf("nil pointer evaluating %s.%s", receiver.typeName(), name)
	}
	if m, ok := receiver.v.(map[string]any); ok {
		if len(args) > 1 || !isMissing(final) {
			s.errorf("%s is not a method but has arguments", name)
		}
		e, ok := m[name]
		if !ok {
			if s.p.missingError {
				s.errorf("map has no entry for key %q", name)
			}
			return noValue
		}
		return val{v: e, iface: true}
	}
	s.errorf("can't evaluate field %s in type %s", name, receiver.typeName())
	return noValue
}

func (s *state) evalFunction(dot val, node *parse.IdentifierNode, cmd parse.Node, args []parse.Node, final val) val {
	s.at(node)
	name := node.Ident
	if _, ok := builtins[name]; !ok {
		s.errorf("%q is not a defined function", name)
	}
	return s.evalCall(dot, name, cmd, args, final)
}

// evalArg evaluates an argument as text/template does for a parameter of
// type interface{} or reflect.Value.
func (s *state) evalArg(dot val, n parse.Node) val {
	s.at(n)
	switch arg := n.(type) {
	case *parse.DotNode:
		return dot
	case *parse.NilNode:
		return val{v: nil, iface: true}
	case *parse.FieldNode:
		return s.evalFieldNode(dot, arg, []parse.Node{n}, missing)
	case *parse.VariableNode:
		return s.evalVariableNode(dot, arg, nil, missing)
	case *parse.PipeNode:
		return s.evalPipeline(dot, arg)
	case *parse.IdentifierNode:
		return s.evalFunction(dot, arg, arg, nil, missing)
	case *parse.ChainNode:
		return s.evalChainNode(dot, arg, nil, missing)
	case *parse.BoolNode:
		return val{v: arg.True}
	case *parse.NumberNode:
		return s.idealConstant(arg)
	case *parse.StringNode:
		return val{v: arg.Text}
	}
	s.errorf("can't handle assignment of %s to empty interface argument", n)
	return noValue
}

// stringArg evaluates an argument for a string parameter (printf's format,
// base64decode's input).
func (s *state) stringArg(dot val, n parse.Node) string {
	s.at(n)
	switch arg := n.(type) {
	case *parse.StringNode:
		return arg.Text
	case *parse.BoolNode, *parse.NumberNode, *parse.NilNode:
		if _, ok := n.(*parse.NilNode); ok {
			s.errorf("cannot assign nil to string")
		}
		s.errorf("expected string; found %s", n)
	}
	return s.asString(s.evalArg(dot, n))
}

func (s *state) asString(v val) string {
	v = concrete(v)
	if v.invalid {
		s.errorf("invalid value; expected string")
	}
	str, ok := v.v.(string)
	if !ok {
		s.errorf("wrong type for value; expected string; got %T", v.v)
	}
	return str
}

// iface is the argument as an interface{} parameter receives it.
func iface(v val) any {
	if v.invalid {
		return nil
	}
	return v.v
}

// arity: fixed parameters and whether the function is variadic.
var arity = map[string]struct {
	n        int
	variadic bool
}{
	"and": {1, true}, "or": {1, true}, "not": {1, false}, "len": {1, false},
	"index": {1, true}, "slice": {1, true}, "print": {0, true}, "printf": {1, true},
	"println": {0, true}, "call": {1, true}, "eq": {1, true}, "ne": {2, false},
	"lt": {2, false}, "le": {2, false}, "gt": {2, false}, "ge": {2, false},
	"html": {0, true}, "js": {0, true}, "urlquery": {0, true},
	"exists": {1, true}, "base64decode": {1, false},
}

func (s *state) evalCall(dot val, name string, node parse.Node, args []parse.Node, final val) val {
	if args != nil {
		args = args[1:]
	}
	numIn := len(args)
	if !isMissing(final) {
		numIn++
	}
	a := arity[name]
	if a.variadic {
		if numIn < a.n {
			s.errorf("wrong number of args for %s: want at least %d got %d", name, a.n, len(args))
		}
	} else if numIn != a.n {
		s.errorf("wrong number of args for %s: want %d got %d", name, a.n, numIn)
	}
	// and/or evaluate their arguments lazily, returning the first that
	// decides.
	if name == "and" || name == "or" {
		var v val
		for i := 0; i < numIn; i++ {
			if i < len(args) {
				v = s.evalArg(dot, args[i])
			} else {
				v = final
			}
			if isTrue(concrete(v)) == (name == "or") {
				return v
			}
		}
		return v
	}
	var argv []val
	if name == "printf" || name == "base64decode" {
		// A string first parameter.
		var f string
		if len(args) > 0 {
			f = s.stringArg(dot, args[0])
			args = args[1:]
		} else {
			f = s.asString(final)
			final = missing
		}
		argv = append(argv, val{v: f})
	}
	for _, n := range args {
		argv = append(argv, s.evalArg(dot, n))
	}
	if !isMissing(final) {
		argv = append(argv, final)
	}
	v, err := call(name, argv)
	if err != nil {
		s.at(node)
		s.errorf("error calling %s: %w", name, err)
	}
	return v
}

func call(name string, argv []val) (val, error) {
	ifaces := func(vs []val) []any {
		out := make([]any, len(vs))
		for i, v := range vs {
			out[i] = iface(v)
		}
		return out
	}
	switch name {
	case "not":
		return val{v: !isTrue(concrete(argv[0]))}, nil
	case "len":
		v := concrete(argv[0])
		switch x := v.v.(type) {
		case string:
			return val{v: len(x)}, nil
		case []any:
			return val{v: len(x)}, nil
		case map[string]any:
			return val{v: len(x)}, nil
		}
		if v.invalid {
			// text/template's len asks an invalid reflect.Value its type.
			return noValue, errors.New("reflect: call of reflect.Value.Type on zero Value")
		}
		return noValue, fmt.Errorf("len of type %T", v.v)
	case "index":
		return index(argv[0], argv[1:])
	case "slice":
		return slice(argv[0], argv[1:])
	case "print", "println", "html", "js", "urlquery":
		args := ifaces(argv)
		var str string
		if name == "println" {
			str = fmt.Sprintln(args...)
		} else {
			str = fmt.Sprint(args...)
		}
		switch name {
		case "html":
			str = htmlEscape(str)
		case "js":
			str = jsEscape(str)
		case "urlquery":
			str = url.QueryEscape(str)
		}
		return val{v: str}, nil
	case "printf":
		return val{v: fmt.Sprintf(argv[0].v.(string), ifaces(argv[1:])...)}, nil
	case "call":
		return noValue, fmt.Errorf("non-function %s of type %s", printString(argv[0]), typeOf(argv[0]))
	case "eq":
		return compareEq(argv[0], argv[1:])
	case "ne":
		b, err := compareEq(argv[0], argv[1:])
		return val{v: err == nil && !b.v.(bool)}, err
	case "lt", "le", "gt", "ge":
		a, b := argv[0], argv[1]
		if name == "gt" || name == "ge" {
			a, b = b, a
		}
		less, err := lessThan(a, b)
		if err != nil {
			return noValue, err
		}
		if name == "lt" || name == "gt" {
			return val{v: less}, nil
		}
		eq, err := compareEq(a, []val{b})
		if err != nil {
			return noValue, err
		}
		return val{v: less || eq.v.(bool)}, nil
	case "exists":
		return val{v: exists(argv[0], argv[1:])}, nil
	case "base64decode":
		b, err := base64.StdEncoding.DecodeString(argv[0].v.(string))
		if err != nil {
			return noValue, fmt.Errorf("base64 decode failed: %v", err)
		}
		return val{v: string(b)}, nil
	}
	return noValue, fmt.Errorf("%q is not a defined function", name)
}

func printString(v val) string {
	if v.invalid {
		return "<invalid reflect.Value>"
	}
	return fmt.Sprint(v.v)
}

func typeOf(v val) string {
	if v.invalid {
		return "<nil>"
	}
	return v.typeName()
}

func indexArg(v val, n int) (int, error) {
	v = concrete(v)
	var x int64
	switch i := v.v.(type) {
	case int:
		x = int64(i)
	case int64:
		x = i
	default:
		if v.invalid {
			return 0, fmt.Errorf("cannot index slice/array with nil")
		}
		return 0, fmt.Errorf("cannot index slice/array with type %T", v.v)
	}
	if x < 0 || int(x) < 0 || int(x) > n {
		return 0, fmt.Errorf("index out of range: %d", x)
	}
	return int(x), nil
}

func index(item val, indexes []val) (val, error) {
	item = concrete(item)
	if item.invalid {
		return noValue, fmt.Errorf("index of untyped nil")
	}
	for _, ix := range indexes {
		if item.iface && item.v == nil {
			return noValue, fmt.Errorf("index of nil pointer")
		}
		switch x := item.v.(type) {
		case []any:
			i, err := indexArg(ix, len(x))
			if err != nil {
				return noValue, err
			}
			if i == len(x) {
				return noValue, fmt.Errorf("reflect: slice index out of range")
			}
			item = val{v: x[i], iface: true}
		case string:
			i, err := indexArg(ix, len(x))
			if err != nil {
				return noValue, err
			}
			if i == len(x) {
				return noValue, fmt.Errorf("reflect: string index out of range")
			}
			item = val{v: x[i]}
		case map[string]any:
			k := concrete(ix)
			key, ok := k.v.(string)
			if !ok {
				if k.invalid {
					return noValue, fmt.Errorf("value is nil; should be of type string")
				}
				return noValue, fmt.Errorf("value has type %T; should be string", k.v)
			}
			item = val{v: x[key], iface: true}
		default:
			return noValue, fmt.Errorf("can't index item of type %s", item.typeName())
		}
	}
	return item, nil
}

func slice(item val, indexes []val) (val, error) {
	item = concrete(item)
	if item.invalid {
		return noValue, fmt.Errorf("slice of untyped nil")
	}
	if len(indexes) > 3 {
		return noValue, fmt.Errorf("too many slice indexes: %d", len(indexes))
	}
	var n int
	switch x := item.v.(type) {
	case string:
		if len(indexes) == 3 {
			return noValue, fmt.Errorf("cannot 3-index slice a string")
		}
		n = len(x)
	case []any:
		n = cap(x)
	default:
		return noValue, fmt.Errorf("can't slice item of type %s", item.typeName())
	}
	idx := [3]int{0, n}
	if x, ok := item.v.([]any); ok {
		idx[1] = len(x)
	}
	for i, ix := range indexes {
		x, err := indexArg(ix, n)
		if err != nil {
			return noValue, err
		}
		idx[i] = x
	}
	if idx[0] > idx[1] {
		return noValue, fmt.Errorf("invalid slice index: %d > %d", idx[0], idx[1])
	}
	if len(indexes) == 3 && idx[1] > idx[2] {
		return noValue, fmt.Errorf("invalid slice index: %d > %d", idx[1], idx[2])
	}
	switch x := item.v.(type) {
	case string:
		return val{v: x[idx[0]:idx[1]]}, nil
	case []any:
		if len(indexes) == 3 {
			return val{v: x[idx[0]:idx[1]:idx[2]]}, nil
		}
		return val{v: x[idx[0]:idx[1]]}, nil
	}
	return noValue, nil
}

type kind int

const (
	invalidKind kind = iota
	boolKind
	complexKind
	intKind
	floatKind
	stringKind
)

func basicKind(v val) kind {
	switch v.v.(type) {
	case bool:
		return boolKind
	case int, int64, uint8:
		return intKind
	case float64:
		return floatKind
	case complex128:
		return complexKind
	case string:
		return stringKind
	}
	return invalidKind
}

func asInt(v any) int64 {
	switch n := v.(type) {
	case int:
		return int64(n)
	case int64:
		return n
	case uint8:
		return int64(n)
	}
	return 0
}

func compareEq(a val, bs []val) (val, error) {
	a = concrete(a)
	if len(bs) == 0 {
		return noValue, errors.New("missing argument for comparison")
	}
	k1 := basicKind(a)
	for _, b := range bs {
		b = concrete(b)
		k2 := basicKind(b)
		truth := false
		if k1 != k2 {
			if !a.invalid && !b.invalid {
				return noValue, fmt.Errorf("incompatible types for comparison: %T and %T", a.v, b.v)
			}
		} else {
			switch k1 {
			case boolKind:
				truth = a.v.(bool) == b.v.(bool)
			case complexKind:
				truth = a.v.(complex128) == b.v.(complex128)
			case floatKind:
				truth = a.v.(float64) == b.v.(float64)
			case intKind:
				truth = asInt(a.v) == asInt(b.v)
			case stringKind:
				truth = a.v.(string) == b.v.(string)
			default:
				// Maps and lists (and no value): only nil compares.
				aNil, bNil := a.invalid, b.invalid
				if !aNil && !bNil {
					return noValue, fmt.Errorf("non-comparable type %s: %T", fmt.Sprint(b.v), b.v)
				}
				if !aNil || !bNil {
					if !aNil {
						return noValue, fmt.Errorf("non-comparable types %s: %T, <nil>: <nil>", fmt.Sprint(a.v), a.v)
					}
				}
				truth = aNil == bNil
			}
		}
		if truth {
			return val{v: true}, nil
		}
	}
	return val{v: false}, nil
}

func lessThan(a, b val) (bool, error) {
	a, b = concrete(a), concrete(b)
	k1, k2 := basicKind(a), basicKind(b)
	if k1 == invalidKind || k2 == invalidKind {
		return false, errors.New("invalid type for comparison")
	}
	if k1 != k2 {
		return false, fmt.Errorf("incompatible types for comparison: %T and %T", a.v, b.v)
	}
	switch k1 {
	case floatKind:
		return a.v.(float64) < b.v.(float64), nil
	case intKind:
		return asInt(a.v) < asInt(b.v), nil
	case stringKind:
		return a.v.(string) < b.v.(string), nil
	}
	return false, errors.New("invalid type for comparison")
}

// exists is kubectl's: whether the chain of indexes leads to a non-nil
// value.
func exists(item val, indexes []val) bool {
	v := concrete(item)
	for _, ix := range indexes {
		if v.invalid || v.v == nil {
			return false
		}
		i := concrete(ix)
		switch x := v.v.(type) {
		case []any, string:
			n, ok := i.v.(int)
			if !ok {
				if n64, ok64 := i.v.(int64); ok64 {
					n, ok = int(n64), true
				}
			}
			l := 0
			if s, isStr := x.(string); isStr {
				l = len(s)
			} else {
				l = len(x.([]any))
			}
			if !ok || n < 0 || n >= l {
				return false
			}
			if s, isStr := x.(string); isStr {
				v = val{v: s[n]}
			} else {
				v = val{v: x.([]any)[n]}
			}
		case map[string]any:
			key, ok := i.v.(string)
			if !ok {
				return false
			}
			v = val{v: x[key]}
		default:
			return false
		}
	}
	return !v.invalid && v.v != nil
}

func (s *state) printValue(n parse.Node, v val) {
	s.at(n)
	// Values come concrete from evalPipeline: no value or JSON null is
	// text/template's invalid reflect.Value.
	var out any = "<no value>"
	if !v.invalid && v.v != nil {
		out = v.v
	}
	if _, err := fmt.Fprint(s.w, out); err != nil {
		panic(writeError{err})
	}
}

// htmlEscape and jsEscape are text/template's HTMLEscapeString and
// JSEscapeString.
func htmlEscape(s string) string {
	if !strings.ContainsAny(s, "'\"&<>\000") {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString("&#34;")
		case '\'':
			b.WriteString("&#39;")
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case 0:
			b.WriteString("\uFFFD")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func jsEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\'':
			b.WriteString(`\'`)
		case r == '"':
			b.WriteString(`\"`)
		case r == '<':
			b.WriteString(`\u003C`)
		case r == '>':
			b.WriteString(`\u003E`)
		case r == '&':
			b.WriteString(`\u0026`)
		case r == '=':
			b.WriteString(`\u003D`)
		case r < ' ':
			fmt.Fprintf(&b, `\u%04X`, r)
		case r < utf8.RuneSelf || unicode.IsPrint(r):
			b.WriteRune(r)
		default:
			fmt.Fprintf(&b, `\u%04X`, r)
		}
	}
	return b.String()
}
