package cli

import (
	"io"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// fuzzList is a small v1 List of two pods, as get hands it to a printer.
func fuzzList() *unstructured.UnstructuredList {
	pod := func(name string, restarts int64, node any) unstructured.Unstructured {
		return unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Pod",
			"metadata": map[string]any{"name": name, "namespace": "default", "labels": map[string]any{"app": name}, "creationTimestamp": "2026-01-02T03:04:05Z"},
			"spec":     map[string]any{"nodeName": node, "containers": []any{map[string]any{"name": "c", "image": "a.wasm"}}},
			"status": map[string]any{"phase": "Running", "containerStatuses": []any{map[string]any{"name": "c", "restartCount": restarts, "ready": true}},
				"conditions": []any{map[string]any{"type": "Ready", "status": "True", "lastProbeTime": nil}}},
		}}
	}
	l := &unstructured.UnstructuredList{Object: map[string]any{"apiVersion": "v1", "kind": "List", "metadata": map[string]any{"resourceVersion": ""}}}
	l.Items = []unstructured.Unstructured{pod("b", 2, "node-1"), pod("a", 10, nil)}
	return l
}

// FuzzGetOutput: whatever -o, --template and --sort-by say, get answers
// with an error or prints: it never panics (templates, custom columns and
// sort paths are user input handed to client-go's jsonpath and Go's
// text/template).
func FuzzGetOutput(f *testing.F) {
	for _, seed := range [][3]string{
		{"jsonpath={.items[*].metadata.name}", "", ".metadata.name"},
		{"custom-columns=NAME:.metadata.name,R:.status.containerStatuses[*].restartCount", "", "{.status.containerStatuses[0].restartCount}"},
		{"go-template={{range .items}}{{.metadata.name}}{{end}}", "", ""},
		{"jsonpath", "{range .items[*]}{.metadata.name}{\"\\n\"}{end}", ".spec.nodeName"},
		{"name", "", ".status.conditions"},
		{"json", "", ".metadata.labels"},
		{"jsonpath={.items[?(@.status.phase==\"Running\")].metadata.name}", "", ".status"},
		{"custom-columns=A:{.x},B:..y", "", "{..metadata}"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, format, template, sort string) {
		out, err := newOutput(outputOptions{format: format, template: template, allowMissingKeys: true, sortBy: sort})
		if err != nil || out.human {
			return
		}
		l := fuzzList()
		if sort != "" {
			if err := sortBy(sort, l.Items); err != nil {
				return
			}
		}
		_ = out.printer.PrintObj(l, io.Discard)
	})
}
