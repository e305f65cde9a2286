package apiserver

// protobuf.go speaks Kubernetes protobuf (application/vnd.kubernetes.protobuf),
// what client-go's typed clients and kubectl's create commands send:
//
//   - Request bodies (create, update, DeleteOptions, Binding) that carry the
//     protobuf envelope ("k8s\x00" + runtime.Unknown) are decoded into the
//     URL's kind; the envelope's TypeMeta must name it (the same rules as a
//     JSON body's kind and apiVersion).
//   - Responses are protobuf when the client's Accept names
//     application/vnd.kubernetes.protobuf before any JSON media type (and
//     without "as=", which asks for a Table): objects, lists and Status
//     errors; kinds without a protobuf form (version.Info, Table) stay JSON.
//   - Watches then stream length-prefixed frames (4-byte big-endian length)
//     of bare protobuf metav1.WatchEvents whose object is the protobuf envelope,
//     with Content-Type application/vnd.kubernetes.protobuf;stream=watch, as
//     upstream's streaming serializer.
//
// JSON stays the default. Patches are JSON, merge or strategic only, as
// upstream (there are no protobuf patches).

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/apimachinery/pkg/runtime/serializer/streaming"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/wasmpod/wasmpod/internal/kube/kubernetes/scheme"
)

// protoSerializer encodes and decodes the protobuf envelope over the
// client-go scheme (every kind the server serves is registered there).
var protoSerializer = protobuf.NewSerializer(scheme.Scheme, scheme.Scheme)

// protobufMagic starts every Kubernetes protobuf body.
var protobufMagic = []byte{'k', '8', 's', 0}

// isProtobufBody reports whether body is a protobuf envelope (JSON and YAML
// bodies never start with the magic bytes).
func isProtobufBody(body []byte) bool { return bytes.HasPrefix(body, protobufMagic) }

// decodeProtobufInto decodes a protobuf envelope into obj (a generated API
// type), checking the envelope's kind and apiVersion against want as
// decodeInto does for JSON.
func decodeProtobufInto(body []byte, obj any, want schema.GroupVersionKind) error {
	bad := func(err error) error {
		return apierrors.NewBadRequest(fmt.Sprintf("the body of the request is not a valid %s object: %v", want.Kind, err))
	}
	var unk runtime.Unknown
	if err := unk.Unmarshal(body[len(protobufMagic):]); err != nil {
		return bad(err)
	}
	if unk.ContentEncoding != "" {
		return bad(fmt.Errorf("unsupported content encoding %q", unk.ContentEncoding))
	}
	apiVersion, kind := unk.APIVersion, unk.Kind
	// Options kinds (DeleteOptions) come in the client's group version.
	metaKind := want.Group == metav1.GroupName && (strings.HasSuffix(apiVersion, "/"+want.Version) || apiVersion == want.Version)
	if apiVersion != "" && apiVersion != want.GroupVersion().String() && !metaKind {
		return apierrors.NewBadRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%s)", apiVersion, want.GroupVersion()))
	}
	if kind != "" && kind != want.Kind {
		return apierrors.NewBadRequest(fmt.Sprintf("the kind in the data (%s) does not match the expected kind (%s) for this URL", kind, want.Kind))
	}
	u, ok := obj.(interface {
		Reset()
		Unmarshal([]byte) error
	})
	if !ok {
		return statusErr(http.StatusUnsupportedMediaType, metav1.StatusReasonUnsupportedMediaType,
			fmt.Sprintf("%s has no protobuf form on this server", want.Kind))
	}
	u.Reset()
	if err := u.Unmarshal(unk.Raw); err != nil {
		return bad(err)
	}
	if o, ok := obj.(runtime.Object); ok && (apiVersion != "" || kind != "") {
		o.GetObjectKind().SetGroupVersionKind(schema.FromAPIVersionAndKind(apiVersion, kind))
	}
	return nil
}

// acceptsProtobuf reports whether the Accept header's first usable media
// type is protobuf for the object itself. Clauses asking for a conversion
// ("as=") in protobuf are skipped, as negotiateRead does (Tables are JSON).
func acceptsProtobuf(req *http.Request) bool {
	header := req.Header.Get("Accept")
	if !strings.Contains(header, runtime.ContentTypeProtobuf) {
		return false
	}
	for _, c := range parseAccept(header) {
		switch c.mediaType {
		case runtime.ContentTypeProtobuf:
			if c.params["as"] == "" {
				return true
			}
		case "application/json", "application/*", "*/*", "application/yaml":
			return false
		}
	}
	return false
}

// watchesMetadataProtobuf reports whether a watch's Accept header prefers
// PartialObjectMetadata in protobuf (client-go's metadata informers, the
// garbage collector's, ask for it first): the watch then streams protobuf
// frames of PartialObjectMetadata, as upstream's, instead of JSON, which
// was 5% of the control plane's CPU while Jobs ran (the collector's watch
// of pods; BenchmarkJobCompletions). Gets and lists of metadata stay JSON.
func watchesMetadataProtobuf(req *http.Request, target *readTarget) bool {
	if target == nil || target.kind != "PartialObjectMetadata" {
		return false
	}
	for _, c := range parseAccept(req.Header.Get("Accept")) {
		switch c.mediaType {
		case runtime.ContentTypeProtobuf:
			gv := schema.GroupVersion{Group: c.params["g"], Version: c.params["v"]}
			if c.params["as"] == "PartialObjectMetadata" && gv == target.gv {
				return true
			}
		case "application/json", "application/*", "*/*":
			return false
		}
	}
	return false
}

// wantsProtobuf reports whether the handler's writer answers in protobuf.
func wantsProtobuf(w http.ResponseWriter) bool {
	tw, ok := w.(*trackingWriter)
	return ok && tw.proto
}

// encodeProtobuf encodes obj in the protobuf envelope, filling its kind from
// the scheme when it is empty.
func encodeProtobuf(obj runtime.Object) ([]byte, error) {
	if obj.GetObjectKind().GroupVersionKind().Empty() {
		if kinds, _, err := scheme.Scheme.ObjectKinds(obj); err == nil && len(kinds) > 0 {
			obj.GetObjectKind().SetGroupVersionKind(kinds[0])
		}
	}
	var w sliceWriter
	if err := protoSerializer.EncodeWithAllocator(obj, &w, &runtime.SimpleAllocator{}); err != nil {
		return nil, err
	}
	return w.b, nil
}

// sliceWriter keeps what the protobuf serializer writes: its one write of
// an object is the buffer it has just allocated for it (SimpleAllocator
// allocates a new one every time, and nothing else holds it), kept rather
// than copied into a bytes.Buffer grown in steps (that copy was ~4% of
// the bytes the cluster allocated in BenchmarkJobCompletions).
type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	if w.b == nil {
		w.b = p
	} else {
		w.b = append(w.b[:len(w.b):len(w.b)], p...)
	}
	return len(p), nil
}

// writeProtobuf writes obj in protobuf when the client asked for it and obj
// has a protobuf form; it reports whether it wrote anything.
func writeProtobuf(w http.ResponseWriter, code int, obj any) bool {
	ro, ok := obj.(runtime.Object)
	if !ok || !wantsProtobuf(w) {
		return false
	}
	b, err := encodeProtobuf(ro)
	if err != nil {
		return false // no protobuf form (Table, ...): JSON
	}
	w.Header().Set("Content-Type", runtime.ContentTypeProtobuf)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	w.Write(b)
	return true
}

// serveWatchProtobuf streams wi's events as length-prefixed protobuf
// WatchEvents until the client goes away, the watch ends or an ERROR event
// was sent.
func serveWatchProtobuf(w http.ResponseWriter, req *http.Request, r *Resource, wi watch.Interface, convert func(runtime.Object) runtime.Object) {
	flusher, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", runtime.ContentTypeProtobuf+";stream=watch")
	w.Header().Set("Transfer-Encoding", "chunked")
	w.WriteHeader(http.StatusOK)
	if flusher != nil {
		flusher.Flush()
	}
	// As upstream's stream serializer: each frame is a bare WatchEvent (no
	// envelope); its object is an enveloped protobuf object.
	enc := streaming.NewEncoder(protobuf.LengthDelimitedFramer.NewFrameWriter(w), protobuf.NewRawSerializer(scheme.Scheme, scheme.Scheme))
	for {
		select {
		case <-req.Context().Done():
			return
		case ev, ok := <-wi.ResultChan():
			if !ok {
				return
			}
			var b []byte
			var err error
			se, _ := ev.Object.(*sharedEvent)
			switch {
			case convert != nil:
				obj := ev.Object
				if se != nil {
					obj = se.obj
				} else if obj.GetObjectKind().GroupVersionKind().Empty() {
					obj.GetObjectKind().SetGroupVersionKind(r.GVK())
				}
				if st, ok := obj.(*metav1.Status); ok {
					st.Kind, st.APIVersion = "Status", "v1"
				}
				b, err = encodeProtobuf(convert(obj))
			case se != nil:
				b, err = se.encodedProtobuf() // once for every protobuf watcher (watchcache.go)
			default:
				if st, ok := ev.Object.(*metav1.Status); ok {
					st.Kind, st.APIVersion = "Status", "v1"
				} else if ev.Object.GetObjectKind().GroupVersionKind().Empty() {
					ev.Object.GetObjectKind().SetGroupVersionKind(r.GVK())
				}
				b, err = encodeProtobuf(ev.Object)
			}
			if err != nil {
				b, _ = encodeProtobuf(statusOf(apierrors.NewInternalError(err)))
				ev.Type = watch.Error
			}
			if err := enc.Encode(&metav1.WatchEvent{Type: string(ev.Type), Object: runtime.RawExtension{Raw: b}}); err != nil {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
			if ev.Type == watch.Error {
				return
			}
		}
	}
}
