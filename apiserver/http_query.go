package apiserver

import (
	"fmt"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var (
	metaTimeType  = reflect.TypeOf(metav1.Time{})
	typeMetaType  = reflect.TypeOf(metav1.TypeMeta{})
	preconditions = reflect.TypeOf(metav1.Preconditions{})
)

// decodeQuery sets the fields of the struct into points to from the query
// parameters named by their JSON tags (ListOptions, DeleteOptions,
// PodLogOptions, PodExecOptions), as kube-apiserver's parameter codec
// does. A bad value is a BadRequest naming the parameter.
func decodeQuery(q url.Values, into any) error {
	return decodeQueryValue(q, reflect.ValueOf(into).Elem())
}

func decodeQueryValue(q url.Values, v reflect.Value) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() || f.Type == typeMetaType || f.Type == preconditions {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" {
			if err := decodeQueryValue(q, v.Field(i)); err != nil {
				return err
			}
			continue
		}
		vals, ok := q[name]
		if !ok || name == "" || name == "-" {
			continue
		}
		if err := setQueryField(v.Field(i), vals); err != nil {
			return apierrors.NewBadRequest(fmt.Sprintf("invalid value for query parameter %q: %v", name, err))
		}
	}
	return nil
}

func setQueryField(fv reflect.Value, vals []string) error {
	last := ""
	if len(vals) > 0 {
		last = vals[len(vals)-1]
	}
	if fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.String {
		s := reflect.MakeSlice(fv.Type(), len(vals), len(vals))
		for i, x := range vals {
			s.Index(i).SetString(x)
		}
		fv.Set(s)
		return nil
	}
	if fv.Kind() == reflect.Pointer {
		nv := reflect.New(fv.Type().Elem())
		if err := setQueryField(nv.Elem(), vals); err != nil {
			return err
		}
		fv.Set(nv)
		return nil
	}
	if fv.Type() == metaTimeType {
		ts, err := time.Parse(time.RFC3339, last)
		if err != nil {
			return err
		}
		fv.Set(reflect.ValueOf(metav1.NewTime(ts)))
		return nil
	}
	switch fv.Kind() {
	case reflect.String:
		fv.SetString(last)
	case reflect.Bool:
		if last == "" {
			fv.SetBool(true)
			return nil
		}
		b, err := strconv.ParseBool(last)
		if err != nil {
			return err
		}
		fv.SetBool(b)
	case reflect.Int, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(last, 10, fv.Type().Bits())
		if err != nil {
			return err
		}
		fv.SetInt(n)
	default:
		return fmt.Errorf("unsupported parameter type %s", fv.Type())
	}
	return nil
}
