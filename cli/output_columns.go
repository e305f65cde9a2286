package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/util/jsonpath"
)

// relaxedJSONPathRe accepts what kubectl's RelaxedJSONPathExpression does:
// "a.b", ".a.b", "{a.b}" and "{.a.b}".
var relaxedJSONPathRe = regexp.MustCompile(`^\{\.?([^{}]+)\}$|^\.?([^{}]+)$`)

// relaxedJSONPath turns a column or --sort-by path into a JSONPath
// template "{.a.b}", in kubectl's words when it cannot.
func relaxedJSONPath(expr string) (string, error) {
	if expr == "" {
		return "", nil
	}
	m := relaxedJSONPathRe.FindStringSubmatch(expr)
	if m == nil {
		return "", errors.New("unexpected path string, expected a 'name1.name2' or '.name1.name2' or '{name1.name2}' or '{.name1.name2}'")
	}
	field := m[1]
	if field == "" {
		field = m[2]
	}
	return "{." + field + "}", nil
}

// column is one custom column: its header as given and its JSONPath.
type column struct {
	header string
	path   *jsonpath.JSONPath
}

// columnsPrinter is kubectl's custom-columns output over client-go's
// JSONPath: a header line of the names as given, then a row per object,
// "<none>" for a path that matches nothing and values joined by "," for
// one that matches several, aligned by kubectl's tab writer.
type columnsPrinter struct {
	columns   []column
	noHeaders bool
	printed   bool // the header line is out
}

func newColumn(i int, header, expr string) (column, error) {
	tmpl, err := relaxedJSONPath(expr)
	if err != nil {
		return column{}, err
	}
	p := jsonpath.New(fmt.Sprintf("column%d", i)).AllowMissingKeys(true)
	if err := p.Parse(tmpl); err != nil {
		return column{}, err
	}
	return column{header: header, path: p}, nil
}

// columnsFromSpec reads "HEADER:PATH[,HEADER:PATH...]".
func columnsFromSpec(spec string, noHeaders bool) (*columnsPrinter, error) {
	parts := strings.Split(spec, ",")
	p := &columnsPrinter{noHeaders: noHeaders}
	for i, part := range parts {
		header, expr, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("unexpected custom-columns spec: %s, expected <header>:<json-path-expr>", part)
		}
		c, err := newColumn(i, header, expr)
		if err != nil {
			return nil, err
		}
		p.columns = append(p.columns, c)
	}
	return p, nil
}

// columnsFromTemplate reads a custom-columns file: a line of headers and a
// line of paths, separated by white space.
func columnsFromTemplate(r io.Reader) (*columnsPrinter, error) {
	sc := bufio.NewScanner(r)
	if !sc.Scan() {
		return nil, errors.New("invalid template, missing header line. Expected format is one line of space separated headers, one line of space separated column specs.")
	}
	headers := strings.Fields(sc.Text())
	if !sc.Scan() {
		return nil, errors.New("invalid template, missing spec line. Expected format is one line of space separated headers, one line of space separated column specs.")
	}
	specs := strings.Fields(sc.Text())
	if len(headers) != len(specs) {
		return nil, fmt.Errorf("number of headers (%d) and field specifications (%d) don't match", len(headers), len(specs))
	}
	p := &columnsPrinter{}
	for i := range headers {
		c, err := newColumn(i, headers[i], specs[i])
		if err != nil {
			return nil, err
		}
		p.columns = append(p.columns, c)
	}
	return p, nil
}

// PrintObj prints obj, or each item of a list, as a row.
func (p *columnsPrinter) PrintObj(obj runtime.Object, out io.Writer) error {
	// Write to kubectl's tab writer (the one of cli-runtime, whose widths
	// it remembers) when given one, else align through a new one.
	if _, ok := out.(interface{ RememberedWidths() []int }); !ok {
		w := printers.GetNewTabWriter(out)
		defer w.Flush()
		out = w
	}
	if !p.noHeaders && !p.printed {
		headers := make([]string, len(p.columns))
		for i, c := range p.columns {
			headers[i] = c.header
		}
		fmt.Fprintln(out, strings.Join(headers, "\t"))
		p.printed = true
	}
	if !meta.IsListType(obj) {
		return p.printOne(obj, out)
	}
	items, err := meta.ExtractList(obj)
	if err != nil {
		return err
	}
	for _, it := range items {
		if err := p.printOne(it, out); err != nil {
			return err
		}
	}
	return nil
}

func (p *columnsPrinter) printOne(obj runtime.Object, out io.Writer) error {
	var content any
	if u, ok := obj.(runtime.Unstructured); ok {
		content = u.UnstructuredContent()
	} else {
		content = reflect.ValueOf(obj).Elem().Interface()
	}
	cells := make([]string, len(p.columns))
	for i, c := range p.columns {
		results, err := c.path.FindResults(content)
		if err != nil {
			return err
		}
		var vals []string
		if len(results) == 0 || len(results[0]) == 0 {
			vals = append(vals, "<none>")
		}
		for _, r := range results {
			for _, v := range r {
				vals = append(vals, printers.EscapeTerminal(fmt.Sprint(v.Interface())))
			}
		}
		cells[i] = strings.Join(vals, ",")
	}
	_, err := fmt.Fprintln(out, strings.Join(cells, "\t"))
	return err
}
