package apiserver

import (
	"fmt"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metainternalvalidation "k8s.io/apimachinery/pkg/apis/meta/internalversion/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
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

// validateListOptions is kube-apiserver's check of a list or watch's
// options (handlers/get.go listOpts, with the WatchList feature on, as
// upstream's default): apimachinery's ValidateListOptions, a 422 on the
// meta.k8s.io ListOptions kind. sendInitialEvents on a list,
// sendInitialEvents without resourceVersionMatch=NotOlderThan, and
// resourceVersionMatch on a watch without sendInitialEvents are refused.
// As upstream, "watch" is the query parameter (a /watch/ path is not).
func validateListOptions(opts *metav1.ListOptions) error {
	in := internalversion.ListOptions{
		Watch:                opts.Watch,
		ResourceVersion:      opts.ResourceVersion,
		ResourceVersionMatch: opts.ResourceVersionMatch,
		Continue:             opts.Continue,
		SendInitialEvents:    opts.SendInitialEvents,
	}
	if errs := metainternalvalidation.ValidateListOptions(&in, true); len(errs) > 0 {
		return apierrors.NewInvalid(schema.GroupKind{Group: metav1.GroupName, Kind: "ListOptions"}, "", errs)
	}
	return nil
}
