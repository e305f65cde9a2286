package cli

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"k8s.io/cli-runtime/pkg/printers"

	"github.com/wasmpod/wasmpod/cli/internal/gotemplate"
)

// The output formats of get, as kubectl's get accepts them (its
// PrintFlags: JSON/YAML, name, Go template and JSONPath, custom columns and
// the human-readable table).
var (
	jsonYAMLFormats      = []string{"json", "yaml", "kyaml"}
	goTemplateFormats    = []string{"go-template", "go-template-file", "template", "templatefile"}
	jsonPathFormats      = []string{"jsonpath", "jsonpath-as-json", "jsonpath-file"}
	customColumnsFormats = []string{"custom-columns", "custom-columns-file"}
)

// allowedFormats is kubectl get's list, sorted as its error shows it.
func allowedFormats() []string {
	var all []string
	for _, l := range [][]string{jsonYAMLFormats, {"name"}, goTemplateFormats, jsonPathFormats, customColumnsFormats, {"wide"}} {
		all = append(all, l...)
	}
	sort.Strings(all)
	return all
}

// printErr words err as kubectl's CheckErr does: "error: " and the
// message, ended by one newline (Main adds it when the message has none).
func printErr(err error) error {
	return &cmdError{code: 1, msg: strings.TrimSuffix("error: "+err.Error(), "\n")}
}

// noPrinterErr is kubectl's NoCompatiblePrinterError.
func noPrinterErr(format string) error {
	return errorf("unable to match a printer suitable for the output format %q, allowed formats are: %s", format, strings.Join(allowedFormats(), ","))
}

// outputOptions are get's printing flags.
type outputOptions struct {
	format           string // -o
	template         string // --template
	allowMissingKeys bool   // --allow-missing-template-keys
	noHeaders        bool
	showLabels       bool
	labelColumns     []string // -L
	sortBy           string
	// showManagedFields keeps metadata.managedFields in JSON and YAML.
	showManagedFields bool
}

// output is what get prints with: the server's (or the fallback's)
// Tables through cli-runtime's TablePrinter when human is set, else
// printer over the objects.
type output struct {
	opts    outputOptions
	human   bool
	wide    bool
	printer printers.ResourcePrinter
}

// newOutput picks the printer of the flags as kubectl's PrintFlags.ToPrinter
// does: templates first, then JSON/YAML, the table, custom columns and
// name; an unknown format is kubectl's "unable to match a printer" error.
func newOutput(o outputOptions) (*output, error) {
	format := o.format
	if o.template != "" && format == "" {
		format = "go-template"
	}
	if p, ok, err := templatePrinter(format, o.template, o.allowMissingKeys); ok || err != nil {
		return &output{opts: o, printer: p}, err
	}
	var p printers.ResourcePrinter
	switch strings.ToLower(format) {
	case "json":
		p = &printers.JSONPrinter{}
	case "yaml":
		p = &printers.YAMLPrinter{}
	case "kyaml":
		p = &printers.KYAMLPrinter{}
	}
	if p != nil {
		if !o.showManagedFields {
			p = &printers.OmitManagedFieldsPrinter{Delegate: p}
		}
		return &output{opts: o, printer: p}, nil
	}
	if format == "" || format == "wide" {
		return &output{opts: o, human: true, wide: format == "wide"}, nil
	}
	if p, ok, err := customColumnsPrinter(format, o.template, o.noHeaders); ok || err != nil {
		return &output{opts: o, printer: p}, err
	}
	if format == "name" {
		return &output{opts: o, printer: &printers.NamePrinter{}}, nil
	}
	return nil, noPrinterErr(format)
}

// cutFormat splits "FORMAT=VALUE" for one of formats; with a --template
// argument the format stands alone and the argument is the value.
func cutFormat(format, template string, formats []string) (name, value string, ok bool) {
	if template != "" {
		for _, f := range formats {
			if format == f {
				return f, template, true
			}
		}
		return "", "", false
	}
	for _, f := range formats {
		if v, found := strings.CutPrefix(format, f+"="); found {
			return f, v, true
		}
		if format == f {
			return f, "", true
		}
	}
	return "", "", false
}

// templatePrinter is kubectl's KubeTemplatePrintFlags: JSONPath, then Go
// templates (evaluated by cli/internal/gotemplate, not text/template, whose
// reflective method lookup costs the binary 7 MB). ok tells whether format
// is one of theirs.
func templatePrinter(format, template string, allowMissing bool) (printers.ResourcePrinter, bool, error) {
	if name, value, ok := cutFormat(format, template, jsonPathFormats); ok {
		if value == "" {
			return nil, true, errorf("template format specified but no template given")
		}
		if name == "jsonpath-file" {
			b, err := os.ReadFile(value)
			if err != nil {
				return nil, true, errorf("error reading --template %s, %v", value, err)
			}
			value = string(b)
		}
		p, err := printers.NewJSONPathPrinter(value)
		if err != nil {
			return nil, true, errorf("error parsing jsonpath %s, %v", value, err)
		}
		p.AllowMissingKeys(allowMissing)
		if name == "jsonpath-as-json" {
			p.EnableJSONOutput(true)
		}
		return p, true, nil
	}
	if name, value, ok := cutFormat(format, template, goTemplateFormats); ok {
		if value == "" {
			return nil, true, errorf("template format specified but no template given")
		}
		if name == "go-template-file" || name == "templatefile" {
			b, err := os.ReadFile(value)
			if err != nil {
				return nil, true, errorf("error reading --template %s, %v", value, err)
			}
			value = string(b)
		}
		p, err := gotemplate.New(value)
		if err != nil {
			return nil, true, errorf("error parsing template %s, %v", value, err)
		}
		p.AllowMissingKeys(allowMissing)
		return p, true, nil
	}
	return nil, false, nil
}

// customColumnsPrinter is kubectl's CustomColumnsPrintFlags.
func customColumnsPrinter(format, template string, noHeaders bool) (printers.ResourcePrinter, bool, error) {
	name, value, ok := cutFormat(format, template, customColumnsFormats)
	if !ok {
		return nil, false, nil
	}
	if value == "" {
		return nil, true, errorf("custom-columns format specified but no custom columns given")
	}
	if name == "custom-columns-file" {
		f, err := os.Open(value)
		if err != nil {
			return nil, true, printErr(fmt.Errorf("error reading template %s, %v\n", value, err))
		}
		defer f.Close()
		p, err := columnsFromTemplate(f)
		if err != nil {
			return nil, true, errorf("%v", err)
		}
		return p, true, nil
	}
	p, err := columnsFromSpec(value, noHeaders)
	if err != nil {
		return nil, true, errorf("%v", err)
	}
	return p, true, nil
}
