package apiserver

// managedfields.go: metadata.managedFields on every write, as kube-apiserver
// keeps them (the field management of server-side apply).
//
// Contracts:
//   - Every create, update and patch (main resource and /status) records
//     in metadata.managedFields which manager set which fields, with
//     apimachinery's managedfields.FieldManager (the one kube-apiserver
//     runs, over sigs.k8s.io/structured-merge-diff): operation Update (or
//     Apply, apply.go), apiVersion, time, fieldsType FieldsV1, fieldsV1,
//     and subresource "status" for status writes. pods/binding does not
//     touch them, as upstream.
//   - The manager is the request's fieldManager query parameter, else the
//     User-Agent up to its first "/" ("kubectl-client-side-apply",
//     "kubectl-edit", ... are what kubectl sends; "kubectl" for
//     kubectl/v1.37.2), as upstream's managerOrUserAgent. The Server's own
//     Go API callers with no HTTP request are "kube-apiserver", the name
//     upstream's own writes carry.
//   - A fieldManager longer than 128 characters or with an unprintable
//     character is 422 on CreateOptions/UpdateOptions/PatchOptions, with
//     upstream's messages; force on a non-apply patch is 422.
//   - managedFields sent by a client replace the recorded ones when they
//     decode (an empty list or one empty entry resets them, as upstream);
//     ones that do not decode are ignored and the stored ones kept; on
//     /status the client's are always ignored. What is stored is checked
//     with upstream's ValidateManagedFields (422 naming the entry).
//   - Status is not tracked on the main resource and only status is
//     tracked on /status (the reset fields of the resource's strategy).
//   - A write that changes nothing but managedFields times stores nothing
//     (upstream's IgnoreManagedFieldsTimestampsTransformer), so a repeated
//     apply does not bump resourceVersion.
//
// The type converter is built once: typeConverter says from what.

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"sync"
	"unicode"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	smdschema "sigs.k8s.io/structured-merge-diff/v6/schema"
	"sigs.k8s.io/structured-merge-diff/v6/typed"
	"sigs.k8s.io/structured-merge-diff/v6/value"

	"github.com/wasmpod/wasmpod/internal/kube/kubernetes/scheme"
	"github.com/wasmpod/wasmpod/internal/openapi"
)

// defaultFieldManager names the writes of callers of the Server's Go API
// that carry no manager (upstream's own writes are "kube-apiserver").
const defaultFieldManager = "kube-apiserver"

type fieldManagerNameKey struct{}

// withFieldManagerName returns ctx naming the manager of its writes.
func withFieldManagerName(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, fieldManagerNameKey{}, name)
}

// fieldManagerName is the manager of ctx's writes.
func fieldManagerName(ctx context.Context) string {
	if v, ok := ctx.Value(fieldManagerNameKey{}).(string); ok {
		return v
	}
	return defaultFieldManager
}

type appliedKey struct{}

// withApplied marks ctx's write as one whose managedFields the apply
// already computed (apply.go): the write path keeps them.
func withApplied(ctx context.Context) context.Context {
	return context.WithValue(ctx, appliedKey{}, true)
}

func isApplied(ctx context.Context) bool {
	v, _ := ctx.Value(appliedKey{}).(bool)
	return v
}

// fieldManagerRequest validates the fieldManager and force query
// parameters of a create, update or patch as upstream's
// Validate{Create,Update,Patch}Options do, and names the request's manager
// in its context: fieldManager, else the User-Agent's prefix.
func fieldManagerRequest(req *http.Request) (*http.Request, error) {
	q := req.URL.Query()
	manager := q.Get("fieldManager")
	var errs field.ErrorList
	switch req.Method {
	case http.MethodPost:
		errs = metavalidation.ValidateCreateOptions(&metav1.CreateOptions{FieldManager: manager})
	case http.MethodPut:
		errs = metavalidation.ValidateUpdateOptions(&metav1.UpdateOptions{FieldManager: manager})
	case http.MethodPatch:
		var opts metav1.PatchOptions
		if err := decodeQuery(url1(q, "force"), &opts); err != nil {
			return nil, err
		}
		opts.FieldManager = manager
		errs = metavalidation.ValidatePatchOptions(&opts, patchTypeOf(req))
	default:
		return req, nil
	}
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid(schema.GroupKind{Group: metav1.GroupName, Kind: optionsKind(req.Method)}, "", errs)
	}
	return req.WithContext(withFieldManagerName(req.Context(), managerOrUserAgent(manager, req.UserAgent()))), nil
}

// url1 keeps only the named query parameter.
func url1(q url.Values, name string) url.Values {
	if v, ok := q[name]; ok {
		return url.Values{name: v}
	}
	return url.Values{}
}

// patchTypeOf is the patch type a PATCH's Content-Type names.
func patchTypeOf(req *http.Request) types.PatchType {
	ct, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	return types.PatchType(ct)
}

// managerOrUserAgent is upstream's: the manager, else the User-Agent up
// to its first "/", printable characters only, at most 128 bytes.
func managerOrUserAgent(manager, userAgent string) string {
	if manager != "" {
		return manager
	}
	out := make([]rune, 0, len(userAgent))
	n := 0
	for _, r := range userAgent {
		if r == '/' {
			break
		}
		if !unicode.IsPrint(r) {
			continue
		}
		l := len(string(r))
		if n+l > metavalidation.FieldManagerMaxLength {
			break
		}
		n += l
		out = append(out, r)
	}
	return string(out)
}

// --- field managers -----------------------------------------------------------

type fieldManagerKey struct {
	gvk         schema.GroupVersionKind
	subresource string
	status      bool // the resource has a status subresource
}

var (
	fieldManagersMu sync.Mutex
	fieldManagers   = map[fieldManagerKey]*managedfields.FieldManager{}
	typeConvOnce    sync.Once
	typeConv        managedfields.TypeConverter
	typeConvErr     error
)

// typeConverter is the structured-merge-diff type converter of every
// served kind, built once from the generated OpenAPI definitions
// (internal/openapi) as kube-apiserver builds its own: structs and maps
// merge field by field, lists by their x-kubernetes-list-type and keys
// (containers by name, ports by containerPort and protocol), atomic
// where the schema says so; unknown fields are refused.
func typeConverter() (managedfields.TypeConverter, error) {
	typeConvOnce.Do(func() {
		var tc managedfields.TypeConverter
		if tc, typeConvErr = managedfields.NewTypeConverter(openapi.Schemas(), false); typeConvErr == nil {
			typeConv = &updateTypeConverter{TypeConverter: tc}
		}
	})
	return typeConv, typeConvErr
}

// updateTypeConverter is the type converter whose conversions for an
// Update (the field manager asks with typed.AllowDuplicates, for the live
// and the new object) skip structured-merge-diff's validation walk, a
// tenth of the API server's CPU in BenchmarkJobCompletions: for a Go
// object of a built-in kind it can refuse nothing that the comparison
// right after does not refuse too. Duplicates are allowed by that option;
// a keyed list item without its key fails the comparison the same way;
// scalar types and declared fields are those of the Go types the schema
// was generated from (TestUpdateTypeConverterSchema fills every served
// kind's every field and checks the validation passes). Unstructured
// objects, conversions without AllowDuplicates (an apply's patch) and a
// kind's first conversion go through the validating converter; the
// first one's schema and type are kept for the kind.
type updateTypeConverter struct {
	managedfields.TypeConverter
	types sync.Map // schema.GroupVersionKind -> parsedType
}

type parsedType struct {
	schema  *smdschema.Schema
	typeRef smdschema.TypeRef
}

func (c *updateTypeConverter) ObjectToTyped(obj runtime.Object, opts ...typed.ValidationOptions) (*typed.TypedValue, error) {
	if _, u := obj.(runtime.Unstructured); u || !slices.Contains(opts, typed.AllowDuplicates) {
		return c.TypeConverter.ObjectToTyped(obj, opts...)
	}
	gvk := obj.GetObjectKind().GroupVersionKind()
	if t, ok := c.types.Load(gvk); ok {
		v, err := value.NewValueReflect(obj)
		if err != nil {
			return nil, fmt.Errorf("error creating struct value reflector: %v", err)
		}
		pt := t.(parsedType)
		return typed.AsTypedUnvalidated(v, pt.schema, pt.typeRef), nil
	}
	tv, err := c.TypeConverter.ObjectToTyped(obj, opts...)
	if err == nil {
		c.types.Store(gvk, parsedType{schema: tv.Schema(), typeRef: tv.TypeRef()})
	}
	return tv, err
}

// fieldManagerFor returns the field manager of r's kind for subresource
// ("" or "status"), built once per kind.
func fieldManagerFor(r *Resource, subresource string) (*managedfields.FieldManager, error) {
	key := fieldManagerKey{gvk: r.GVK(), subresource: subresource, status: r.Status}
	fieldManagersMu.Lock()
	defer fieldManagersMu.Unlock()
	if fm, ok := fieldManagers[key]; ok {
		return fm, nil
	}
	tc, err := typeConverter()
	if err != nil {
		return nil, err
	}
	fm, err := managedfields.NewDefaultFieldManager(tc, runtime.UnsafeObjectConvertor(scheme.Scheme), scheme.Scheme, scheme.Scheme,
		key.gvk, key.gvk.GroupVersion(), subresource, resetFields(key))
	if err != nil {
		return nil, err
	}
	fieldManagers[key] = fm
	return fm, nil
}

// resetFields are the fields a write may not set, as the strategies'
// GetResetFields: status on the main resource of a kind with a status
// subresource, everything but status on /status.
func resetFields(key fieldManagerKey) map[fieldpath.APIVersion]fieldpath.Filter {
	if !key.status {
		return nil
	}
	v := fieldpath.APIVersion(key.gvk.GroupVersion().String())
	if key.subresource == "status" {
		return map[fieldpath.APIVersion]fieldpath.Filter{
			v: fieldpath.NewIncludeMatcherFilter(fieldpath.MakePrefixMatcherOrDie("status")),
		}
	}
	return map[fieldpath.APIVersion]fieldpath.Filter{
		v: fieldpath.NewExcludeSetFilter(fieldpath.NewSet(fieldpath.MakePathOrDie("status"))),
	}
}

// manageFields records the write of obj over live (nil for a create) in
// obj's managedFields: an Update by ctx's manager, unless an apply
// computed them already. It checks what is to be stored.
func (s *Server) manageFields(ctx context.Context, r *Resource, subresource string, live, obj runtime.Object) (runtime.Object, error) {
	if subresource != "" && subresource != "status" {
		return obj, nil // pods/binding leaves them alone, as upstream
	}
	if !isApplied(ctx) {
		fm, err := fieldManagerFor(r, subresource)
		v1 := isHPAV1Write(ctx) // a write at autoscaling/v1: its entry is v1's (hpa_v1.go)
		if v1 {
			fm, err = hpaV1FieldManager(subresource)
		}
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		if live == nil {
			live = r.newObj()
		}
		live.GetObjectKind().SetGroupVersionKind(r.GVK())
		obj.GetObjectKind().SetGroupVersionKind(r.GVK())
		if fl, fo, ok := trimmed(r, subresource, live, obj); ok && !v1 {
			// The same managedFields, computed over less.
			out := fm.UpdateNoErrors(fl, fo, fieldManagerName(ctx))
			om, _ := meta.Accessor(obj)
			outm, err := meta.Accessor(out)
			if err != nil {
				return nil, apierrors.NewInternalError(err)
			}
			om.SetManagedFields(outm.GetManagedFields())
		} else {
			out := fm.UpdateNoErrors(live, obj, fieldManagerName(ctx))
			if out != obj { // the write paths hold obj: keep it the same object
				reflect.ValueOf(obj).Elem().Set(reflect.ValueOf(out).Elem())
			}
		}
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	if errs := metavalidation.ValidateManagedFields(m.GetManagedFields(), field.NewPath("metadata", "managedFields")); len(errs) > 0 {
		return nil, apierrors.NewInvalid(r.GVK().GroupKind(), m.GetName(), errs)
	}
	return obj, nil
}

// trimmed returns copies of live and obj without what cannot change the
// field manager's result, for a write of a built-in kind with a status
// subresource: that manager tracks status alone on /status and all but
// status on the main resource (resetFields), and structured-merge-diff
// filters its comparison of live and obj with the same filter both for
// what the writer gains and for what other managers lose. So a /status
// write is computed over status and managedFields alone (the spec and the
// rest of metadata are half or more of a pod, converted, validated and
// compared on every kubelet write), and a write of the main resource
// without status, and without spec when the spec is unchanged (identical
// subtrees add nothing to a comparison: the Job controller's finalizer
// patch compares metadata alone). The managers' field sets are reconciled
// with the schema, not with the objects, so they do not see the cut
// either. That holds only while every manager's entry has the request's
// apiVersion (another version's comparison is not filtered): otherwise,
// and for custom resources, ok is false and the whole objects are used.
// TestTrimmedManagedFields checks the results are the same.
func trimmed(r *Resource, subresource string, live, obj runtime.Object) (l, o runtime.Object, ok bool) {
	if !r.Status || (subresource != "" && subresource != "status") {
		return nil, nil, false
	}
	gv := r.GVK().GroupVersion().String()
	for _, x := range []runtime.Object{live, obj} {
		if x == obj && subresource == "status" {
			continue // a subresource's field manager reads live's entries only
		}
		m, err := meta.Accessor(x)
		if err != nil {
			return nil, nil, false
		}
		for _, e := range m.GetManagedFields() {
			if e.APIVersion != gv {
				return nil, nil, false
			}
		}
	}
	lv, ov := reflect.ValueOf(live), reflect.ValueOf(obj)
	if lv.Kind() != reflect.Pointer || ov.Type() != lv.Type() || lv.Elem().Kind() != reflect.Struct {
		return nil, nil, false
	}
	t := lv.Elem().Type()
	if f, ok := t.FieldByName("ObjectMeta"); !ok || f.Type != reflect.TypeOf(metav1.ObjectMeta{}) {
		return nil, nil, false
	}
	if _, ok := t.FieldByName("Spec"); !ok {
		return nil, nil, false
	}
	if _, ok := t.FieldByName("Status"); !ok {
		return nil, nil, false
	}
	status := subresource == "status"
	spec := !status && !reflect.DeepEqual(lv.Elem().FieldByName("Spec").Interface(), ov.Elem().FieldByName("Spec").Interface())
	if l, ok = trimmedCopy(lv, spec, status); !ok {
		return nil, nil, false
	}
	if o, ok = trimmedCopy(ov, spec, status); !ok {
		return nil, nil, false
	}
	return l, o, true
}

// trimmedCopy copies a built-in object (a pointer to a struct with
// ObjectMeta, Spec and Status) shallowly, its ObjectMeta deeply (the field
// manager rewrites metadata), with Spec unless !spec, and with Status and
// nothing of metadata but managedFields if status, else without Status.
func trimmedCopy(v reflect.Value, spec, status bool) (runtime.Object, bool) {
	cp := reflect.New(v.Elem().Type())
	cp.Elem().Set(v.Elem())
	if !spec {
		cp.Elem().FieldByName("Spec").SetZero()
	}
	m := v.Elem().FieldByName("ObjectMeta").Addr().Interface().(*metav1.ObjectMeta)
	cm := cp.Elem().FieldByName("ObjectMeta").Addr().Interface().(*metav1.ObjectMeta)
	if status {
		*cm = metav1.ObjectMeta{}
		for i := range m.ManagedFields {
			cm.ManagedFields = append(cm.ManagedFields, *m.ManagedFields[i].DeepCopy())
		}
	} else {
		cp.Elem().FieldByName("Status").SetZero()
		m.DeepCopyInto(cm)
	}
	out, ok := cp.Interface().(runtime.Object)
	return out, ok
}

// keepTimesOfNoop gives obj live's managedFields when they differ only in
// their times and nothing else of the object changed, so that the write
// is a no-op (upstream's IgnoreManagedFieldsTimestampsTransformer, which
// also runs after the strategy's update preparation and validation).
func keepTimesOfNoop(live, obj runtime.Object) {
	lm, _ := meta.Accessor(live)
	om, _ := meta.Accessor(obj)
	if lm == nil || om == nil {
		return
	}
	lf, of := lm.GetManagedFields(), om.GetManagedFields()
	if len(lf) != len(of) || len(of) == 0 {
		return
	}
	timesDiffer := false
	for i := range of {
		a, b := lf[i], of[i]
		if !a.Time.Equal(b.Time) {
			timesDiffer = true
		}
		a.Time, b.Time = nil, nil
		if !reflect.DeepEqual(a, b) {
			return
		}
	}
	if !timesDiffer {
		return
	}
	if changed, err := statusChanged(live, obj); err == nil && changed {
		return // the common case (a status writer), found without a full comparison
	}
	om.SetManagedFields(lf)
	if !equality.Semantic.DeepEqual(live, obj) { // as update's no-op check
		om.SetManagedFields(of)
	}
}

// statusChanged compares the objects' status fields (false for kinds
// without one).
func statusChanged(a, b runtime.Object) (bool, error) {
	av, bv := reflect.ValueOf(a).Elem().FieldByName("Status"), reflect.ValueOf(b).Elem().FieldByName("Status")
	if !av.IsValid() || !bv.IsValid() || av.Type() != bv.Type() {
		return false, nil
	}
	return !equality.Semantic.DeepEqual(av.Interface(), bv.Interface()), nil
}
