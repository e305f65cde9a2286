// Package openapi holds the OpenAPI definitions of every type wasmpod's API
// server serves, generated from the k8s.io/api and k8s.io/apimachinery Go
// types by the ecosystem's generator (k8s.io/kube-openapi/cmd/openapi-gen,
// the version go.mod requires), and the schema maps built from them.
//
// Regenerate with `just openapi-gen` (or `go generate ./internal/openapi/`).
package openapi

//go:generate go run k8s.io/kube-openapi/cmd/openapi-gen@v0.0.0-20260721132016-d427ff9ee9ad --output-dir . --output-pkg github.com/wasmpod/wasmpod/internal/openapi --output-file zz_generated.openapi.go --go-header-file /dev/null --report-filename /dev/null k8s.io/api/core/v1 k8s.io/api/apps/v1 k8s.io/api/batch/v1 k8s.io/api/coordination/v1 k8s.io/api/discovery/v1 k8s.io/api/policy/v1 k8s.io/api/rbac/v1 k8s.io/api/authentication/v1 k8s.io/api/authorization/v1 k8s.io/api/autoscaling/v1 k8s.io/api/events/v1 k8s.io/api/node/v1 k8s.io/api/scheduling/v1alpha3 k8s.io/apimachinery/pkg/apis/meta/v1 k8s.io/apimachinery/pkg/runtime k8s.io/apimachinery/pkg/api/resource k8s.io/apimachinery/pkg/util/intstr k8s.io/apimachinery/pkg/version
