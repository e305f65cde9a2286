package gotemplate

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"text/template"

	"k8s.io/apimachinery/pkg/util/json"
)

// The objects the table runs on, decoded as kubectl decodes them (whole
// numbers as int64).
const (
	podJSON = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"default","labels":{"app":"web","tier":"front"},"annotations":{"a.b/c":"d"},"ownerReferences":null},
"spec":{"nodeName":"node-1","replicas":3,"containers":[{"name":"main","image":"a.wasm","ports":[{"containerPort":8080}]},{"name":"side","image":"b.wasm","args":["-v","x"]}],"weight":0.5,"empty":[],"emptyMap":{}},
"status":{"phase":"Running","ready":true,"restartCount":0,"conditions":[{"type":"Ready","status":"True"},{"type":"Scheduled","status":"True"}]}}`
	listJSON = `{"apiVersion":"v1","kind":"List","items":[{"metadata":{"name":"a"},"data":{"t":"` + "aGVsbG8=" + `"},"spec":{"n":1}},{"metadata":{"name":"b"},"data":{"t":"!!"},"spec":{"n":2}},{"metadata":{"name":"c"},"spec":{}}]}`
)

var templates = []string{
	// Fields, missing keys, nulls.
	`{{.metadata.name}}`,
	`{{.metadata.nope}}`,
	`{{.metadata.nope.deeper}}`,
	`{{.metadata.ownerReferences}}`,
	`{{.metadata.ownerReferences.x}}`,
	`{{.metadata.name.x}}`,
	`{{.metadata.labels}}`,
	`{{.spec.containers}}`,
	`{{.spec.replicas}} {{.spec.weight}} {{.status.ready}}`,
	`{{.}}`,
	`{{$}}`,
	`{{.metadata.name | printf "%q"}}`,
	`{{(.metadata).name}}`,
	`{{(index .spec.containers 0).image}}`,
	// range, else, variables, break/continue.
	`{{range .spec.containers}}{{.name}}={{.image}};{{end}}`,
	`{{range $i, $c := .spec.containers}}{{$i}}:{{$c.name}} {{end}}`,
	`{{range $k, $v := .metadata.labels}}{{$k}}={{$v}},{{end}}`,
	`{{range .spec.empty}}x{{else}}none{{end}}`,
	`{{range .spec.emptyMap}}x{{else}}none{{end}}`,
	`{{range .spec.nope}}x{{else}}missing{{end}}`,
	`{{range .spec.containers}}{{if eq .name "main"}}{{continue}}{{end}}{{.name}}{{end}}`,
	`{{range .spec.containers}}{{.name}}{{break}}{{end}}`,
	`{{range 3}}{{.}}{{end}}`,
	`{{range .spec.replicas}}{{.}}{{end}}`,
	`{{range .metadata.name}}{{.}}{{end}}`,
	`{{$n := .metadata.name}}{{$n}}{{$n = "x"}}{{$n}}`,
	`{{range .spec.containers}}{{$.metadata.name}}/{{.name}} {{end}}`,
	`{{with .spec.containers}}{{len .}}{{end}}`,
	`{{with .spec.nope}}yes{{else}}no{{end}}`,
	`{{with $x := .metadata.labels.app}}{{$x}}{{end}}`,
	`{{if .status.ready}}ready{{else if .status.phase}}phase{{else}}no{{end}}`,
	`{{if .spec.empty}}a{{else}}b{{end}}{{if .status.restartCount}}c{{else}}d{{end}}`,
	// Functions.
	`{{len .spec.containers}} {{len .metadata.labels}} {{len .metadata.name}}`,
	`{{len .spec.nope}}`,
	`{{len .spec.replicas}}`,
	`{{index .metadata.labels "app"}} {{index .metadata.annotations "a.b/c"}} {{index .metadata.labels "nope"}}`,
	`{{index .spec.containers 1 "args" 0}}`,
	`{{index .spec.containers 5}}`,
	`{{index .spec.containers "x"}}`,
	`{{index .metadata.labels 1}}`,
	`{{slice .metadata.name 1}} {{slice .spec.containers 1 2}}`,
	`{{print .metadata.name 1 2 "x" .spec.nope}}`,
	`{{println .metadata.name .spec.replicas}}`,
	`{{printf "%s has %d containers, weight %.2f %v" .metadata.name (len .spec.containers) .spec.weight .spec.nope}}`,
	`{{printf "%d" .spec.replicas}}`,
	`{{printf .spec.replicas}}`,
	`{{eq .status.phase "Running"}} {{eq .spec.replicas 3}} {{eq .spec.replicas 2 3}} {{ne .metadata.name "x"}}`,
	`{{eq .spec.nope "x"}}`,
	`{{eq .spec.replicas "3"}}`,
	`{{eq .spec.weight 0.5}}`,
	`{{eq .metadata.labels .metadata.labels}}`,
	`{{lt .spec.replicas 4}} {{le .spec.replicas 3}} {{gt .metadata.name "a"}} {{ge .spec.weight 1.0}}`,
	`{{lt .spec.replicas "x"}}`,
	`{{lt .spec.containers 1}}`,
	`{{and .status.ready .metadata.name}} {{or .spec.empty .metadata.name}} {{and .spec.nope .x.y}} {{or .spec.nope "d"}}`,
	`{{not .status.ready}} {{not .spec.nope}}`,
	`{{html "<a href='x'>&</a>"}} {{js "it's \"<x>\"\n"}} {{urlquery "a b&c"}}`,
	`{{range .status.conditions}}{{if eq .type "Ready"}}{{.status}}{{end}}{{end}}`,
	`{{.metadata.name | len}} {{"abc" | printf "%s-%s" "x"}}`,
	`{{define "c"}}[{{.name}}]{{end}}{{range .spec.containers}}{{template "c" .}}{{end}}`,
	`{{block "b" .metadata}}{{.name}}{{end}}`,
	`{{template "nope"}}`,
	`{{/* a comment */}}x{{- " y " -}} z`,
	`{{.metadata.name 1}}`,
	`{{"x" 1}}`,
	`{{$u := 1}}{{$u.x}}`,
}

var listTemplates = []string{
	`{{range .items}}{{.metadata.name}}:{{.data.t | base64decode}} {{end}}`,
	`{{range .items}}{{.metadata.name}} {{end}}{{len .items}}`,
	`{{range .items}}{{if exists . "data" "t"}}{{.metadata.name}}{{end}}{{end}}`,
	`{{range .items}}{{if gt .spec.n 1}}{{.metadata.name}}{{end}}{{end}}`,
	`{{range $i, $e := .items}}{{if $i}},{{end}}{{$e.metadata.name}}{{end}}`,
}

func decode(t *testing.T, s string) any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func stdlib(text string, missingError bool) (*template.Template, error) {
	tm := template.New("output").Funcs(template.FuncMap{
		"exists": func(item any, indices ...any) bool { return true }, // replaced below
		"base64decode": func(v string) (string, error) {
			b, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				return "", errorf("base64 decode failed: %v", err)
			}
			return string(b), nil
		},
	})
	if missingError {
		tm.Option("missingkey=error")
	} else {
		tm.Option("missingkey=default")
	}
	return tm.Parse(text)
}

func TestSameAsTextTemplate(t *testing.T) {
	pod, list := decode(t, podJSON), decode(t, listJSON)
	run := func(text string, data any, missingError bool) {
		t.Helper()
		want, wantErr := "", ""
		tm, err := stdlib(text, missingError)
		if err == nil {
			var b bytes.Buffer
			if err := tm.Execute(&b, data); err != nil {
				wantErr = err.Error()
			}
			want = b.String()
		} else {
			wantErr = err.Error()
		}
		got, gotErr := "", ""
		p, err := New(text)
		if err == nil {
			p.AllowMissingKeys(!missingError)
			var b bytes.Buffer
			if err := p.Execute(&b, data); err != nil {
				gotErr = err.Error()
			}
			got = b.String()
		} else {
			gotErr = err.Error()
		}
		if got != want || gotErr != wantErr {
			t.Errorf("%s (missingkey=error %v):\n got %q, error %q\nwant %q, error %q", text, missingError, got, gotErr, want, wantErr)
		}
	}
	for _, text := range templates {
		run(text, pod, false)
		run(text, pod, true)
	}
	for _, text := range listTemplates {
		if strings.Contains(text, "exists") {
			continue // text/template has no exists; checked below
		}
		run(text, list, false)
		run(text, list, true)
	}
	for _, text := range []string{`{{.items`, `{{nope .x}}`, `{{end}}`, `{{range}}{{end}}`} {
		run(text, list, false)
	}
}

func TestExists(t *testing.T) {
	list := decode(t, listJSON)
	p, err := New(listTemplates[2])
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := p.Execute(&b, list); err != nil || b.String() != "ab" {
		t.Errorf("exists: %q, %v", b.String(), err)
	}
	p, _ = New(`{{exists .items 1 "metadata" "name"}} {{exists .items 9}} {{exists .items 2 "data"}} {{exists . "kind"}}`)
	b.Reset()
	if err := p.Execute(&b, list); err != nil || b.String() != "true false false true" {
		t.Errorf("exists: %q, %v", b.String(), err)
	}
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
