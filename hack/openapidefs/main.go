// Command openapidefs renders the generated OpenAPI definitions
// (internal/openapi/generated, openapi-gen's Go code) to the JSON that
// internal/openapi embeds: one line per definition, sorted by name,
//
//	"io.k8s.api.core.v1.Pod":{"dependencies":[...],"schema":{...}},
//
// with every reference written as "$ref":"wasmpod-ref:NAME", which
// internal/openapi replaces by its caller's reference callback. Run by
// `go generate ./internal/openapi/` (just openapi-gen).
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"

	"github.com/wasmpod/wasmpod/internal/openapi"
	"github.com/wasmpod/wasmpod/internal/openapi/generated"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

func main() {
	out := flag.String("o", "definitions.json.gz", "the file to write (gzip-compressed JSON)")
	flag.Parse()
	defs := generated.GetOpenAPIDefinitions(func(name string) spec.Ref { return spec.MustCreateRef(openapi.RefPlaceholder + name) })
	names := make([]string, 0, len(defs))
	for n := range defs {
		names = append(names, n)
	}
	sort.Strings(names)
	var b bytes.Buffer
	b.WriteString("{\n")
	for i, n := range names {
		var line bytes.Buffer
		enc := json.NewEncoder(&line)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(n); err != nil {
			fail(err)
		}
		b.Write(bytes.TrimSuffix(line.Bytes(), []byte("\n")))
		b.WriteByte(':')
		line.Reset()
		if err := enc.Encode(openapi.StoredDefinition{Dependencies: defs[n].Dependencies, Schema: defs[n].Schema}); err != nil {
			fail(err)
		}
		b.Write(bytes.TrimSuffix(line.Bytes(), []byte("\n")))
		if i < len(names)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("}\n")
	// Compressed: 0.8 MB of JSON is 0.14 MB gzipped, and the release
	// binary embeds it (issue 14's size target); no name or time in the
	// header, so the file depends only on the JSON (and compress/flate).
	var z bytes.Buffer
	zw, err := gzip.NewWriterLevel(&z, gzip.BestCompression)
	if err != nil {
		fail(err)
	}
	if _, err := zw.Write(b.Bytes()); err != nil {
		fail(err)
	}
	if err := zw.Close(); err != nil {
		fail(err)
	}
	if err := os.WriteFile(*out, z.Bytes(), 0o644); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "openapidefs:", err)
	os.Exit(1)
}
