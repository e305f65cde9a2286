package apiserver

// fieldvalidation.go: the fieldValidation query parameter of create,
// update and patch, as kube-apiserver's handlers
// (k8s.io/apiserver/pkg/endpoints/handlers create.go, update.go, patch.go).
//
// Contracts:
//   - Warn (the default when the parameter is absent): every unknown or
//     duplicate field of the body (JSON or YAML; for a patch, of the patch
//     and of the patched object) is a `Warning: 299 - "unknown field
//     \"spec.foo\""` response header, and the object is stored without it.
//   - Strict: the same fields fail the request. A create or update is 400
//     BadRequest `Pod in version "v1" cannot be handled as a Pod: strict
//     decoding error: unknown field "spec.foo"`; a patch is 422 Invalid on
//     the field "patch", as upstream.
//   - Ignore: unknown fields are dropped silently and nothing is checked.
//   - Any other value is 422 Invalid on CreateOptions/UpdateOptions/
//     PatchOptions.meta.k8s.io with upstream's "Unsupported value" message
//     (ValidateFieldValidation).
//   - Protobuf bodies have no unknown fields to report (as upstream's
//     protobuf decoder).
//   - Requests that do not come through the HTTP handler (the Server's Go
//     methods called directly) are not checked.
//
// The directive and the warning recorder travel in the request context.

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kjson "sigs.k8s.io/json"
	sigsyaml "sigs.k8s.io/yaml"
)

type fieldValidationKey struct{}
type warningsKey struct{}

// maxWarningBytes bounds the Warning headers of one response (as
// kube-apiserver's recorder, which truncates beyond 4 KiB in total).
const maxWarningBytes = 4 << 10

// warningRecorder adds Warning headers to a response, each text once.
type warningRecorder struct {
	mu   sync.Mutex
	h    http.Header
	seen map[string]bool
	size int
}

// addWarning adds a 299 Warning header with text to the response of the
// request ctx belongs to (nothing outside an HTTP request).
func addWarning(ctx context.Context, text string) {
	rec, _ := ctx.Value(warningsKey{}).(*warningRecorder)
	if rec == nil {
		return
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.seen[text] || rec.size+len(text) > maxWarningBytes {
		return
	}
	hv, err := utilnet.NewWarningHeader(299, "-", text)
	if err != nil {
		return
	}
	rec.seen[text] = true
	rec.size += len(text)
	rec.h.Add("Warning", hv)
}

// fieldValidationRequest checks the fieldValidation parameter of a
// create, update or patch and returns req carrying the directive and a
// warning recorder writing to w's headers.
func fieldValidationRequest(req *http.Request, w http.ResponseWriter) (*http.Request, error) {
	kind := optionsKind(req.Method) // dryrun.go
	if kind == "" || kind == "DeleteOptions" {
		return req, nil
	}
	q := req.URL.Query()
	directive := q.Get("fieldValidation")
	if errs := metavalidation.ValidateFieldValidation(field.NewPath("fieldValidation"), directive); len(errs) > 0 {
		return nil, apierrors.NewInvalid(schema.GroupKind{Group: metav1.GroupName, Kind: kind}, "", errs)
	}
	if directive == "" {
		directive = metav1.FieldValidationWarn
	}
	ctx := context.WithValue(req.Context(), fieldValidationKey{}, directive)
	ctx = context.WithValue(ctx, warningsKey{}, &warningRecorder{h: w.Header(), seen: map[string]bool{}})
	return req.WithContext(ctx), nil
}

// fieldDirective is the request's directive; Ignore outside HTTP requests.
func fieldDirective(ctx context.Context) string {
	if d, ok := ctx.Value(fieldValidationKey{}).(string); ok {
		return d
	}
	return metav1.FieldValidationIgnore
}

// checkBodyFields looks for unknown and duplicate fields in a create or
// update body of r's kind (body is JSON; original is what the client
// sent, YAML when mediaType says so).
func checkBodyFields(ctx context.Context, r *Resource, body, original []byte, mediaType string) error {
	d := fieldDirective(ctx)
	if d == metav1.FieldValidationIgnore || isProtobufBody(body) {
		return nil
	}
	var errs []error
	if mediaType != "application/json" && mediaType != "*/*" {
		// YAML: duplicate keys are lost in YAMLToJSON; find them in the
		// original, as upstream's strict YAML serializer does.
		if _, err := sigsyaml.YAMLToJSONStrict(original); err != nil {
			errs = append(errs, err)
		}
	}
	strict, err := kjson.UnmarshalStrict(body, r.newObj())
	if err != nil {
		return nil // not a decoding matter of fieldValidation: decodeInto answered
	}
	errs = append(errs, strict...)
	if len(errs) == 0 {
		return nil
	}
	if d == metav1.FieldValidationWarn {
		warnStrict(ctx, errs)
		return nil
	}
	return apierrors.NewBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: %v",
		r.Kind, r.GVR.Version, r.Kind, runtime.NewStrictDecodingError(errs)))
}

// unmarshalCaseSensitive decodes a JSON body as upstream's serializer:
// field names match case-sensitively ("Data" is an unknown field, not
// data) and numbers in untyped fields stay integers.
func unmarshalCaseSensitive(body []byte, obj any) error {
	return kjson.UnmarshalCaseSensitivePreserveInts(body, obj)
}

type jsonPatchOp struct {
	Op    string      `json:"op"`
	Path  string      `json:"path"`
	From  string      `json:"from"`
	Value interface{} `json:"value"`
}

// checkPatchedFields looks for duplicate fields in a patch and unknown
// fields in the object it produced (patched, JSON).
func checkPatchedFields(ctx context.Context, r *Resource, pt types.PatchType, patch, patched []byte) error {
	d := fieldDirective(ctx)
	if d == metav1.FieldValidationIgnore {
		return nil
	}
	var errs []error
	var patchMap map[string]interface{}
	switch pt {
	case types.JSONPatchType:
		var ops []jsonPatchOp
		strict, err := kjson.UnmarshalStrict(patch, &ops)
		if err != nil {
			return apierrors.NewBadRequest(fmt.Sprintf("error decoding patch: %v", err))
		}
		for _, e := range strict {
			errs = append(errs, fmt.Errorf("json patch %v", e))
		}
	default:
		strict, err := kjson.UnmarshalStrict(patch, &patchMap)
		if err != nil {
			return apierrors.NewBadRequest(fmt.Sprintf("error decoding patch: %v", err))
		}
		errs = append(errs, strict...)
	}
	strict, err := kjson.UnmarshalStrict(patched, r.newObj())
	if err == nil {
		errs = append(errs, strict...)
	}
	if len(errs) == 0 {
		return nil
	}
	if d == metav1.FieldValidationWarn {
		warnStrict(ctx, errs)
		return nil
	}
	value := string(patched)
	if pt == types.StrategicMergePatchType {
		value = fmt.Sprintf("%+v", patchMap)
	}
	return apierrors.NewInvalid(schema.GroupKind{}, "", field.ErrorList{
		field.Invalid(field.NewPath("patch"), value, runtime.NewStrictDecodingError(errs).Error())})
}

// warnStrict adds a warning per strict error, splitting YAML's "unmarshal
// errors" into one per line, as upstream's addStrictDecodingWarnings.
func warnStrict(ctx context.Context, errs []error) {
	for _, e := range errs {
		s := e.Error()
		rest, ok := strings.CutPrefix(s, "error converting YAML to JSON: yaml: unmarshal errors:\n")
		if !ok {
			rest, ok = strings.CutPrefix(s, "yaml: unmarshal errors:\n")
		}
		if !ok {
			addWarning(ctx, s)
			continue
		}
		for _, line := range strings.Split(rest, "\n") {
			if line = strings.TrimSpace(line); line != "" {
				addWarning(ctx, line)
			}
		}
	}
}
