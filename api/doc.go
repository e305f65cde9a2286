// Package api turns Kubernetes manifests into typed k8s.io/api objects and
// checks them: decoding, defaulting and validation of what wasmpod runs.
//
// Contracts:
//   - Decoding accepts a stream of YAML documents separated by "---" lines,
//     a stream of JSON objects, flow-style YAML, and "kind: List" documents
//     (whose items are expanded in place). Empty documents are skipped and
//     not counted. Objects are decoded strictly through this package's own
//     Scheme (core/v1, apps/v1, batch/v1): unknown and duplicate fields,
//     missing apiVersion or kind, and unknown kinds are errors.
//   - Every error this package returns names the source, the document
//     (1-based for humans) and, where one is to blame, the field path, in
//     the form "source: document N (Kind/name): field: detail". Errors are
//     *Error values, several at once an ErrorList; use errors.As to inspect.
//   - Defaulting (SetDefaults, SetDefaultsPod) fills what upstream Kubernetes
//     fills for a Pod and is idempotent. It does not validate.
//   - Validation (ValidatePod) returns a field.ErrorList with upstream
//     messages ("Required value", "Invalid value", "Forbidden", ...), and
//     forbids what a WebAssembly sandbox cannot honour (host namespaces,
//     privilege, Linux capabilities, devices) with "not supported by wasmpod".
//   - Nothing here panics on bad input, and everything is safe for
//     concurrent use: functions keep no state beyond the read-only Scheme.
package api
