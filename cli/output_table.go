package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"

	"github.com/wasmpod/wasmpod/internal/kube/kubernetes/scheme"
)

// tableAccept is the Accept header of kubectl's get for human-readable
// output: a Table (meta.k8s.io v1, then v1beta1), else the object itself.
const tableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"

// tableClient makes the requests of get that the typed and dynamic clients
// cannot make (an Accept header of its own, a raw watch stream) through an
// unversioned REST client of the connection.
type tableClient struct {
	rc *rest.RESTClient
}

func (k *conn) tableClient() (*tableClient, error) {
	cfg := rest.CopyConfig(k.cfg)
	// Errors come back as v1 Status objects, whatever the group.
	cfg.GroupVersion = &schema.GroupVersion{Version: "v1"}
	cfg.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
	rc, err := rest.UnversionedRESTClientFor(cfg)
	if err != nil {
		return nil, err
	}
	return &tableClient{rc: rc}, nil
}

// resourceRequest is a GET of a mapping's resource in ns (all namespaces
// for ""), of one object when name is set.
func (tc *tableClient) resourceRequest(m *meta.RESTMapping, ns, name string) *rest.Request {
	prefix := path.Join("/apis", m.Resource.Group, m.Resource.Version)
	if m.Resource.Group == "" {
		prefix = path.Join("/api", m.Resource.Version)
	}
	req := tc.rc.Get().AbsPath(prefix).Resource(m.Resource.Resource)
	if namespaced(m) && ns != "" {
		req = req.Namespace(ns)
	}
	if name != "" {
		req = req.Name(name)
	}
	return req
}

// tableRequest asks for a Table as kubectl's get does, with the full
// objects in the rows when sorting needs them.
func tableRequest(req *rest.Request, sortBy string) *rest.Request {
	req = req.SetHeader("Accept", tableAccept)
	if sortBy != "" {
		req = req.Param("includeObject", "Object")
	}
	return req
}

// isTable tells whether an object the server sent is a meta.k8s.io Table.
func isTable(u *unstructured.Unstructured) bool {
	gvk := u.GroupVersionKind()
	return gvk.Group == metav1.GroupName && gvk.Kind == "Table" && (gvk.Version == "v1" || gvk.Version == "v1beta1")
}

// toTable converts a Table the server sent, decoding each row's object.
func toTable(u *unstructured.Unstructured) (*metav1.Table, error) {
	t := &metav1.Table{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, t); err != nil {
		return nil, fmt.Errorf("decoding the server's Table: %v", err)
	}
	for i := range t.Rows {
		r := &t.Rows[i]
		if r.Object.Raw == nil || r.Object.Object != nil {
			continue
		}
		obj, err := runtime.Decode(unstructured.UnstructuredJSONScheme, r.Object.Raw)
		if err != nil {
			return nil, fmt.Errorf("decoding the object of a Table row: %v", err)
		}
		r.Object.Object = obj
	}
	return t, nil
}

// getTable fetches one object or a list as the server's Tables, one per
// chunk of a list (kubectl prints each chunk as it comes, through the same
// printer), and the list's resourceVersion. A server that answers with the
// objects themselves gets them back as one list or object (kubectl's table
// printer shows those as NAME and AGE).
func (tc *tableClient) getTable(ctx context.Context, m *meta.RESTMapping, ns, name string, opts metav1.ListOptions, sortBy string) ([]runtime.Object, string, error) {
	var tables []runtime.Object
	var list *unstructured.UnstructuredList
	rv := ""
	for {
		req := tc.resourceRequest(m, ns, name)
		if name == "" {
			req = req.VersionedParams(&opts, metav1.ParameterCodec)
		}
		res := tableRequest(req, sortBy).Do(ctx)
		body, err := res.Raw()
		if err != nil {
			return nil, "", res.Error() // the server's Status, when it sent one
		}
		obj, err := runtime.Decode(unstructured.UnstructuredJSONScheme, body)
		if err != nil {
			return nil, "", fmt.Errorf("decoding the server's answer: %v", err)
		}
		var cont string
		switch o := obj.(type) {
		case *unstructured.Unstructured:
			if !isTable(o) {
				return []runtime.Object{o}, o.GetResourceVersion(), nil
			}
			t, err := toTable(o)
			if err != nil {
				return nil, "", err
			}
			if rv == "" {
				rv = t.ResourceVersion
			}
			cont, t.Continue = t.Continue, ""
			tables = append(tables, t)
		case *unstructured.UnstructuredList:
			if list == nil {
				list = o
				rv = o.GetResourceVersion()
			} else {
				list.Items = append(list.Items, o.Items...)
			}
			cont = o.GetContinue()
		default:
			return nil, "", fmt.Errorf("unexpected answer of kind %s", obj.GetObjectKind().GroupVersionKind().Kind)
		}
		if name != "" || cont == "" {
			break
		}
		opts.Continue = cont
	}
	if list != nil {
		list.SetContinue("")
		return []runtime.Object{list}, rv, nil
	}
	return tables, rv, nil
}

// watchEvent is one event of a watch stream, its object still undecoded.
type watchEvent struct {
	Type   string          `json:"type"`
	Object json.RawMessage `json:"object"`
}

// watchStream opens a watch of a mapping's resource; human asks for
// Tables. Each event is handed to fn until the stream or ctx ends.
func (tc *tableClient) watchStream(ctx context.Context, m *meta.RESTMapping, ns string, opts metav1.ListOptions, human bool, fn func(typ string, obj *unstructured.Unstructured) error) error {
	req := tc.resourceRequest(m, ns, "")
	opts.Watch, opts.Limit, opts.Continue = true, 0, ""
	req = req.VersionedParams(&opts, metav1.ParameterCodec)
	if human {
		req = req.SetHeader("Accept", tableAccept)
	} else {
		req = req.SetHeader("Accept", "application/json")
	}
	rc, err := req.Stream(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	// ctx ending unblocks the decoder; the stream ending first leaves no
	// goroutine waiting on ctx.
	defer context.AfterFunc(ctx, func() { rc.Close() })()
	dec := json.NewDecoder(rc)
	for {
		var ev watchEvent
		if err := dec.Decode(&ev); err != nil {
			if err == io.EOF || ctx.Err() != nil {
				return nil
			}
			return err
		}
		if ev.Type == string(watch.Error) {
			// The server ends the watch with a Status (e.g. 410 Gone).
			var st metav1.Status
			if err := json.Unmarshal(ev.Object, &st); err != nil {
				return fmt.Errorf("decoding a watch error: %v", err)
			}
			return &apierrors.StatusError{ErrStatus: st}
		}
		obj, err := runtime.Decode(unstructured.UnstructuredJSONScheme, ev.Object)
		if err != nil {
			return fmt.Errorf("decoding a watch event: %v", err)
		}
		u, ok := obj.(*unstructured.Unstructured)
		if !ok {
			continue
		}
		if err := fn(ev.Type, u); err != nil {
			return err
		}
	}
}
