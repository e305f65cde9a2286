// Package openapi holds the OpenAPI definitions of every type wasmpod's API
// server serves, and the schema maps built from them. The definitions are
// generated from the k8s.io/api and k8s.io/apimachinery Go types by the
// ecosystem's generator (k8s.io/kube-openapi/cmd/openapi-gen, the version
// go.mod requires) into internal/openapi/generated, and rendered from there
// to definitions.json.gz (gzip-compressed JSON, hack/openapidefs), which
// this package embeds and inflates and decodes on each GetOpenAPIDefinitions
// call.
//
// Regenerate with `just openapi-gen` (or `go generate ./internal/openapi/`).
package openapi

//go:generate go generate ./generated
//go:generate go run ../../hack/openapidefs -o definitions.json.gz
