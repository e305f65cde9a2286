// Package printers turns API objects into metav1.Tables: the columns and
// cells kube-apiserver sends to `kubectl get` (and to the wasmpod CLI).
//
// The column definitions (names, types, formats, descriptions, priorities)
// and the cell rules are those of upstream's server-side printers,
// k8s.io/kubernetes/pkg/printers/internalversion/printers.go (AddHandlers
// and the print<Kind> functions), applied to the v1 types wasmpod stores.
// Kinds without an upstream printer (LimitRange, custom kinds, anything
// unknown) get the default table of kube-apiserver's default table
// convertor (k8s.io/apiserver/pkg/registry/rest/table.go): Name and
// Created At.
//
// Like kube-apiserver's TableConvertor, ToTable includes every column, the
// priority-1 ones too (the client hides them unless -o wide); WithWide(false)
// drops them as upstream's GenerateOptions{Wide: false} does.
package printers

import (
	"fmt"
	"reflect"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/utils/clock"
)

// Option adjusts ToTable.
type Option func(*options)

type options struct {
	now       time.Time
	noHeaders bool
	wide      bool
}

// WithClock computes AGE and other durations from c's time (the real clock
// when not given).
func WithClock(c clock.PassiveClock) Option { return func(o *options) { o.now = c.Now() } }

// WithNow computes AGE and other durations from t.
func WithNow(t time.Time) Option { return func(o *options) { o.now = t } }

// WithNoHeaders leaves the column definitions out (kube-apiserver does so
// on every watch event after the first).
func WithNoHeaders(noHeaders bool) Option { return func(o *options) { o.noHeaders = noHeaders } }

// WithWide keeps (true, the default, as kube-apiserver) or drops (false)
// the priority-1 columns, those `kubectl get -o wide` adds.
func WithWide(wide bool) Option { return func(o *options) { o.wide = wide } }

// handler prints one kind: its columns, and a row's cells (all of them,
// wide ones included) and conditions.
type handler struct {
	columns []metav1.TableColumnDefinition
	row     func(obj runtime.Object, o *options) ([]any, []metav1.TableRowCondition)
}

var (
	// handlers is keyed by the Go type of an object and of its list.
	handlers = map[reflect.Type]*handler{}
	// typed maps a kind to its Go type, to print unstructured objects.
	typed = map[schema.GroupVersionKind]reflect.Type{}
)

// register adds the printer of a kind: obj and list are empty values of
// the object's and its list's Go types.
func register[T runtime.Object](gvk schema.GroupVersionKind, list runtime.Object, columns []metav1.TableColumnDefinition, row func(obj T, o *options) []any) {
	h := &handler{columns: columns, row: func(obj runtime.Object, o *options) ([]any, []metav1.TableRowCondition) {
		return row(obj.(T), o), nil
	}}
	var zero T
	t := reflect.TypeOf(zero)
	handlers[t] = h
	handlers[reflect.TypeOf(list)] = h
	typed[gvk] = t.Elem()
}

// registerWithConditions is register for printers that also set the row's
// conditions (pods).
func registerWithConditions[T runtime.Object](gvk schema.GroupVersionKind, list runtime.Object, columns []metav1.TableColumnDefinition, row func(obj T, o *options) ([]any, []metav1.TableRowCondition)) {
	h := &handler{columns: columns, row: func(obj runtime.Object, o *options) ([]any, []metav1.TableRowCondition) {
		return row(obj.(T), o)
	}}
	var zero T
	t := reflect.TypeOf(zero)
	handlers[t] = h
	handlers[reflect.TypeOf(list)] = h
	typed[gvk] = t.Elem()
}

// ObjectMeta's descriptions, as upstream's metav1.ObjectMeta{}.SwaggerDoc().
var objectMetaDoc = metav1.ObjectMeta{}.SwaggerDoc()

// nameColumn and ageColumn are the columns most kinds share.
var (
	nameColumn = metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name", Description: objectMetaDoc["name"]}
	ageColumn  = metav1.TableColumnDefinition{Name: "Age", Type: "string", Description: objectMetaDoc["creationTimestamp"]}
)

// defaultColumns are kube-apiserver's default table convertor's.
var defaultColumns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: objectMetaDoc["name"]},
	{Name: "Created At", Type: "date", Description: objectMetaDoc["creationTimestamp"]},
}

// ToTable prints obj, a single object or a list, as kube-apiserver's
// Table: the kind's columns, one row per object carrying the object
// (runtime.RawExtension.Object), and the list's resourceVersion, continue
// and remainingItemCount (or the object's resourceVersion).
func ToTable(obj runtime.Object, opts ...Option) (*metav1.Table, error) {
	if obj == nil || (reflect.ValueOf(obj).Kind() == reflect.Pointer && reflect.ValueOf(obj).IsNil()) {
		return nil, fmt.Errorf("printers: no object to print")
	}
	o := &options{wide: true}
	for _, opt := range opts {
		opt(o)
	}
	if o.now.IsZero() {
		o.now = time.Now()
	}
	obj, err := toTyped(obj)
	if err != nil {
		return nil, err
	}
	table := &metav1.Table{}
	table.Kind, table.APIVersion = "Table", metav1.SchemeGroupVersion.String()
	h := handlers[reflect.TypeOf(obj)]
	columns := defaultColumns
	if h != nil {
		columns = h.columns
	}
	// keep marks the cells of the columns shown.
	keep := make([]bool, len(columns))
	for i, c := range columns {
		keep[i] = o.wide || c.Priority == 0
	}
	if !o.noHeaders {
		for i, c := range columns {
			if keep[i] {
				table.ColumnDefinitions = append(table.ColumnDefinitions, c)
			}
		}
	}
	addRow := func(item runtime.Object) error {
		var cells []any
		var conds []metav1.TableRowCondition
		if h != nil {
			cells, conds = h.row(item, o)
		} else {
			m, err := meta.Accessor(item)
			if err != nil {
				return fmt.Errorf("printers: %T has no object metadata: %w", item, err)
			}
			cells = []any{m.GetName(), m.GetCreationTimestamp().Time.UTC().Format(time.RFC3339)}
		}
		if len(cells) != len(columns) {
			return fmt.Errorf("printers: %T: %d cells for %d columns", item, len(cells), len(columns))
		}
		shown := cells[:0:0]
		for i, c := range cells {
			if keep[i] {
				shown = append(shown, c)
			}
		}
		table.Rows = append(table.Rows, metav1.TableRow{Cells: shown, Conditions: conds, Object: runtime.RawExtension{Object: item}})
		return nil
	}
	if meta.IsListType(obj) {
		table.Rows = []metav1.TableRow{}
		if err := meta.EachListItem(obj, addRow); err != nil {
			return nil, err
		}
	} else if err := addRow(obj); err != nil {
		return nil, err
	}
	if m, err := meta.ListAccessor(obj); err == nil {
		table.ResourceVersion = m.GetResourceVersion()
		table.Continue = m.GetContinue()
		table.RemainingItemCount = m.GetRemainingItemCount()
	} else if m, err := meta.CommonAccessor(obj); err == nil {
		table.ResourceVersion = m.GetResourceVersion()
	}
	return table, nil
}

// toTyped converts an unstructured object or list of a kind with a printer
// into its Go type, so it prints with that kind's columns.
func toTyped(obj runtime.Object) (runtime.Object, error) {
	switch u := obj.(type) {
	case *unstructured.Unstructured:
		t, ok := typed[u.GroupVersionKind()]
		if !ok {
			return obj, nil
		}
		out := reflect.New(t).Interface().(runtime.Object)
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, out); err != nil {
			return nil, fmt.Errorf("printers: %s %q: %w", u.GetKind(), u.GetName(), err)
		}
		return out, nil
	case *unstructured.UnstructuredList:
		if len(u.Items) == 0 {
			// The kind of the items is the list's without "List".
			gvk := u.GroupVersionKind()
			if k := gvk.Kind; len(k) > 4 && k[len(k)-4:] == "List" {
				gvk.Kind = k[:len(k)-4]
			}
			if t, ok := typed[gvk]; ok {
				if lt := listTypeOf(t); lt != nil {
					l := reflect.New(lt).Interface().(runtime.Object)
					copyListMeta(l, u)
					return l, nil
				}
			}
			return obj, nil
		}
		t, ok := typed[u.Items[0].GroupVersionKind()]
		if !ok {
			return obj, nil
		}
		lt := listTypeOf(t)
		if lt == nil {
			return obj, nil
		}
		l := reflect.New(lt).Interface().(runtime.Object)
		items := make([]runtime.Object, 0, len(u.Items))
		for i := range u.Items {
			if u.Items[i].GroupVersionKind() != u.Items[0].GroupVersionKind() {
				return obj, nil // mixed kinds: the default table
			}
			it, err := toTyped(&u.Items[i])
			if err != nil {
				return nil, err
			}
			items = append(items, it)
		}
		if err := meta.SetList(l, items); err != nil {
			return nil, fmt.Errorf("printers: %w", err)
		}
		copyListMeta(l, u)
		return l, nil
	}
	return obj, nil
}

// copyListMeta gives the typed list l the resourceVersion, continue and
// remainingItemCount of u.
func copyListMeta(l runtime.Object, u *unstructured.UnstructuredList) {
	if lm, err := meta.ListAccessor(l); err == nil {
		lm.SetResourceVersion(u.GetResourceVersion())
		lm.SetContinue(u.GetContinue())
		lm.SetRemainingItemCount(u.GetRemainingItemCount())
	}
}

// listTypeOf finds the registered list type whose Items are of type t.
func listTypeOf(t reflect.Type) reflect.Type {
	for lt := range handlers {
		e := lt.Elem()
		if f, ok := e.FieldByName("Items"); ok && f.Type.Kind() == reflect.Slice && f.Type.Elem() == t {
			return e
		}
	}
	return nil
}

// HasPrinter reports whether a kind has its own columns (else it gets the
// default Name / Created At table).
func HasPrinter(gvk schema.GroupVersionKind) bool {
	_, ok := typed[gvk]
	return ok
}

// translateTimestampSince is upstream's: a short human duration since ts,
// "<unknown>" for a zero time.
func translateTimestampSince(ts metav1.Time, now time.Time) string {
	if ts.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(ts.Time))
}

// translateMicroTimestampSince is translateTimestampSince for MicroTime.
func translateMicroTimestampSince(ts metav1.MicroTime, now time.Time) string {
	if ts.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(ts.Time))
}
