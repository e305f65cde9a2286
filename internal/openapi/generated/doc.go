// Package generated holds the OpenAPI definitions of every type wasmpod's
// API server serves, as Go code generated from the k8s.io/api and
// k8s.io/apimachinery types by the ecosystem's generator
// (k8s.io/kube-openapi/cmd/openapi-gen, the version go.mod requires).
//
// The binary does not link this package: hack/openapidefs renders its
// definitions to internal/openapi/definitions.json, which internal/openapi
// embeds (1.2 MB of generated code against 0.8 MB of JSON, issue 14), and
// internal/openapi's TestDefinitionsMatchGenerated checks the two agree.
// Regenerate both with `just openapi-gen` (go generate ./internal/openapi/).
package generated

//go:generate go run k8s.io/kube-openapi/cmd/openapi-gen@v0.0.0-20260721132016-d427ff9ee9ad --output-dir . --output-pkg github.com/wasmpod/wasmpod/internal/openapi/generated --output-file zz_generated.openapi.go --go-header-file /dev/null --report-filename /dev/null k8s.io/api/core/v1 k8s.io/api/apps/v1 k8s.io/api/batch/v1 k8s.io/api/coordination/v1 k8s.io/api/discovery/v1 k8s.io/api/policy/v1 k8s.io/api/rbac/v1 k8s.io/api/authentication/v1 k8s.io/api/authorization/v1 k8s.io/api/autoscaling/v1 k8s.io/api/autoscaling/v2 k8s.io/api/events/v1 k8s.io/api/node/v1 k8s.io/api/certificates/v1 k8s.io/api/networking/v1 k8s.io/api/scheduling/v1alpha3 k8s.io/apimachinery/pkg/apis/meta/v1 k8s.io/apimachinery/pkg/runtime k8s.io/apimachinery/pkg/api/resource k8s.io/apimachinery/pkg/util/intstr k8s.io/apimachinery/pkg/version
