package cli

import (
	"fmt"
	"reflect"
	"sort"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/util/jsonpath"
)

// sortField parses a --sort-by value into a JSONPath ("{.a.b}", relaxed as
// kubectl relaxes it).
func sortField(expr string) (string, *jsonpath.JSONPath, error) {
	field, err := relaxedJSONPath(expr)
	if err != nil {
		return "", nil, errorf("%v", err)
	}
	p := jsonpath.New("sorting").AllowMissingKeys(true)
	if err := p.Parse(field); err != nil {
		return "", nil, errorf("%v", err)
	}
	return field, p, nil
}

// sortKeys evaluates the sort path on each object; it fails, in kubectl's
// words, when no object has the field at all.
func sortKeys(field string, p *jsonpath.JSONPath, objs []map[string]any) ([][][]reflect.Value, error) {
	keys := make([][][]reflect.Value, len(objs))
	found := false
	for i, o := range objs {
		if o == nil {
			continue
		}
		r, err := p.FindResults(o)
		if err != nil {
			return nil, errorf("%v", err)
		}
		keys[i] = r
		found = found || (len(r) > 0 && len(r[0]) > 0)
	}
	if len(objs) > 0 && !found {
		return nil, errorf("couldn't find any field with path %q in the list of objects", field)
	}
	return keys, nil
}

// keySorter orders by the first value each object's path found, objects
// without one first, as kubectl's RuntimeSort and TableSorter do (with
// sort.Sort, so that ties come out in kubectl's order too).
type keySorter struct {
	keys [][][]reflect.Value
	swap func(i, j int)
	err  error
}

func (s *keySorter) Len() int { return len(s.keys) }
func (s *keySorter) Swap(i, j int) {
	s.keys[i], s.keys[j] = s.keys[j], s.keys[i]
	s.swap(i, j)
}
func (s *keySorter) Less(i, j int) bool {
	a, b := s.keys[i], s.keys[j]
	if len(a) == 0 || len(a[0]) == 0 {
		return true
	}
	if len(b) == 0 || len(b[0]) == 0 {
		return false
	}
	less, err := valueLess(a[0][0], b[0][0])
	if err != nil && s.err == nil {
		s.err = err
	}
	return less
}

// sortBy sorts unstructured objects by the --sort-by path.
func sortBy(expr string, items []unstructured.Unstructured) error {
	field, p, err := sortField(expr)
	if err != nil {
		return err
	}
	objs := make([]map[string]any, len(items))
	for i := range items {
		objs[i] = items[i].Object
	}
	keys, err := sortKeys(field, p, objs)
	if err != nil {
		return err
	}
	s := &keySorter{keys: keys, swap: func(i, j int) { items[i], items[j] = items[j], items[i] }}
	sort.Sort(s)
	if s.err != nil {
		return errorf("Field %s is an unsortable type: %v", field, s.err)
	}
	return nil
}

// sortTableRows sorts a Table's rows by the --sort-by path evaluated on
// each row's object (requested with includeObject=Object).
func sortTableRows(expr string, t *metav1.Table) error {
	if len(t.Rows) < 2 {
		return nil
	}
	field, p, err := sortField(expr)
	if err != nil {
		return err
	}
	objs := make([]map[string]any, len(t.Rows))
	for i, r := range t.Rows {
		if u, ok := r.Object.Object.(runtime.Unstructured); ok {
			objs[i] = u.UnstructuredContent()
		}
	}
	keys, err := sortKeys(field, p, objs)
	if err != nil {
		return err
	}
	s := &keySorter{keys: keys, swap: func(i, j int) { t.Rows[i], t.Rows[j] = t.Rows[j], t.Rows[i] }}
	sort.Sort(s)
	if s.err != nil {
		return errorf("Field %s is an unsortable type: %v", field, s.err)
	}
	return nil
}

// valueLess compares two values found by JSONPath in unstructured objects
// with kubectl's rules: numbers as numbers, strings as quantities when both
// parse as one ("100Mi" < "1Gi"), else as strings; slices and structs
// element by element.
func valueLess(i, j reflect.Value) (bool, error) {
	switch i.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return i.Int() < j.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return i.Uint() < j.Uint(), nil
	case reflect.Float32, reflect.Float64:
		return i.Float() < j.Float(), nil
	case reflect.String:
		return i.String() < j.String(), nil
	case reflect.Pointer:
		return valueLess(i.Elem(), j.Elem())
	case reflect.Array, reflect.Slice:
		for k := 0; k < min(i.Len(), j.Len()); k++ {
			less, err := valueLess(i.Index(k), j.Index(k))
			if err != nil || !less {
				return less, err
			}
		}
		return true, nil
	case reflect.Interface:
		if i.IsNil() || j.IsNil() {
			return i.IsNil() && !j.IsNil(), nil
		}
		a, b := i.Interface(), j.Interface()
		switch x := a.(type) {
		case int64:
			if y, ok := b.(int64); ok {
				return x < y, nil
			}
		case float64:
			if y, ok := b.(float64); ok {
				return x < y, nil
			}
		case int:
			if y, ok := b.(int); ok {
				return x < y, nil
			}
		case string:
			if y, ok := b.(string); ok {
				qx, errx := resource.ParseQuantity(x)
				qy, erry := resource.ParseQuantity(y)
				if errx != nil || erry != nil {
					return x < y, nil
				}
				return qx.Cmp(qy) < 0, nil
			}
		default:
			return false, fmt.Errorf("unsortable type: %T", a)
		}
		return false, fmt.Errorf("unsortable interface: %v", i.Kind())
	}
	return false, fmt.Errorf("unsortable type: %v", i.Kind())
}
