package apiserver

// modules.go: the module store's API (images/store.go), with which a
// client uploads the modules its manifests name, so that a pod names them
// as wasmpod.local/NAME@sha256:<hex> and nothing is resolved against the
// server's files:
//
//	HEAD /wasmpod/modules/sha256:<hex>   200 (Content-Length: the size) or 404
//	GET  /wasmpod/modules/sha256:<hex>   200 {"digest","size"}; with Accept:
//	                                     application/wasm, the module (node
//	                                     agents pull wasmpod.local images so)
//	PUT  /wasmpod/modules/sha256:<hex>   body: the module; 201 {"digest","size"}
//	                                     (200 when it was there already)
//	GET  /wasmpod/tags/                  200 {"items":[{"name","tag","digest","image","size"}...]}
//	GET  /wasmpod/tags/NAME:TAG          200 {"name","tag","digest","image"} or 404
//	PUT  /wasmpod/tags/NAME:TAG          body: {"digest":"sha256:<hex>"}; 200 as GET
//
// Errors are Status JSON. A PUT body is streamed to a temporary file under
// the store's size bound (413 beyond it, told by Content-Length before a
// byte is read) and its total bound (507 Insufficient Storage), checked
// for the WebAssembly header (400) and the digest of
// its path (400), and only then renamed into place: a partial, lying or
// refused upload is never visible. A read stalled for uploadIdle, or an
// upload longer than uploadTimeout, is cut off; at most maxUploads run at
// once, and maxUploadsPerUser of one user who is not an admin (429
// beyond). They are authenticated and authorized as every other path
// (authn.go, rbac_authz.go).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/wasmpod/wasmpod/images"
)

// Paths of the module store's API.
const (
	ModulesPath = "/wasmpod/modules/"
	TagsPath    = "/wasmpod/tags/"
	// ModuleContentType, accepted on GET ModulesPath+DIGEST, answers the
	// module's bytes.
	ModuleContentType = "application/wasm"
)

// Bounds on uploads (variables for tests).
var (
	uploadIdle    = 30 * time.Second
	uploadTimeout = 10 * time.Minute
	maxUploads    = 4
	// maxUploadsPerUser: a user other than an admin has at most this many
	// of the maxUploads at once (429 beyond).
	maxUploadsPerUser = 2
)

// TagInfo is the body of GET and PUT /wasmpod/tags/NAME:TAG.
type TagInfo struct {
	Name   string `json:"name,omitempty"`
	Tag    string `json:"tag,omitempty"`
	Digest string `json:"digest"`
	Image  string `json:"image,omitempty"` // wasmpod.local/NAME:TAG, for kubectl
	Size   int64  `json:"size,omitempty"`  // in lists: the module's size
}

// TagList is the body of GET /wasmpod/tags/: every tag, by name.
type TagList struct {
	Items []TagInfo `json:"items"`
}

// ModuleInfo is the body of a PUT /wasmpod/modules/ answer.
type ModuleInfo struct {
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
}

// isModulesPath reports whether path is served by serveModules.
func isModulesPath(path string) bool {
	return strings.HasPrefix(path, ModulesPath) || strings.HasPrefix(path, TagsPath)
}

func badRequest(msg string) error {
	return statusErr(http.StatusBadRequest, metav1.StatusReasonBadRequest, msg)
}

// serveModules serves the module store's paths. It runs before the
// handler's body limit: a module may be larger than an object.
func (h *httpHandler) serveModules(w http.ResponseWriter, req *http.Request) {
	st := h.s.opts.Modules
	if st == nil {
		writeError(w, statusErr(http.StatusNotFound, metav1.StatusReasonNotFound, "this server has no module store"))
		return
	}
	if rest, ok := strings.CutPrefix(req.URL.Path, ModulesPath); ok {
		h.serveModule(w, req, st, rest)
		return
	}
	h.serveTag(w, req, st, strings.TrimPrefix(req.URL.Path, TagsPath))
}

func (h *httpHandler) serveModule(w http.ResponseWriter, req *http.Request, st *images.Store, digest string) {
	if err := images.ValidDigest(digest); err != nil {
		writeError(w, badRequest(fmt.Sprintf("path: %v", err)))
		return
	}
	switch req.Method {
	case http.MethodHead, http.MethodGet:
		size, ok := st.Published(digest)
		if !ok {
			writeError(w, statusErr(http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf("module %s not found", digest)))
			return
		}
		if req.Method == http.MethodHead {
			w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
			w.Header().Set("Docker-Content-Digest", digest)
			w.WriteHeader(http.StatusOK)
			return
		}
		if req.Header.Get("Accept") == ModuleContentType { // the module itself: node agents pull it
			b, err := st.Get(digest)
			if err != nil {
				writeError(w, apierrors.NewInternalError(err))
				return
			}
			w.Header().Set("Content-Type", ModuleContentType)
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			w.Header().Set("Docker-Content-Digest", digest)
			w.WriteHeader(http.StatusOK)
			w.Write(b)
			return
		}
		writeJSON(w, http.StatusOK, ModuleInfo{Digest: digest, Size: size})
	case http.MethodPut:
		if size, ok := st.Published(digest); ok {
			writeJSON(w, http.StatusOK, ModuleInfo{Digest: digest, Size: size})
			return
		}
		if req.ContentLength > st.MaxSize() {
			writeError(w, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("the module is %d bytes, over the %d-byte limit for a module", req.ContentLength, st.MaxSize())))
			return
		}
		if used, max := st.Usage(), st.MaxTotal(); req.ContentLength > 0 && used+req.ContentLength > max {
			writeError(w, storeFull(fmt.Errorf("%w: %d bytes stored, of at most %d; the module is %d bytes", images.ErrStoreFull, used, max, req.ContentLength)))
			return
		}
		u := UserFrom(req.Context())
		if !isMaster(u) && !h.s.acquireUserUpload(u.GetName()) {
			w.Header().Set("Retry-After", "1")
			writeError(w, apierrors.NewTooManyRequests(fmt.Sprintf("too many module uploads at once by user %q (at most %d)", u.GetName(), maxUploadsPerUser), 1))
			return
		}
		if !isMaster(u) {
			defer h.s.releaseUserUpload(u.GetName())
		}
		if !h.acquireUpload() {
			w.Header().Set("Retry-After", "1")
			writeError(w, apierrors.NewTooManyRequests(fmt.Sprintf("too many module uploads at once (at most %d)", maxUploads), 1))
			return
		}
		defer h.releaseUpload()
		ctx, cancel := context.WithTimeout(req.Context(), uploadTimeout)
		defer cancel()
		body := &idleReader{r: req.Body, rc: http.NewResponseController(w), idle: uploadIdle}
		// Past the overall timeout, a blocked read ends too.
		stop := context.AfterFunc(ctx, func() { body.rc.SetReadDeadline(time.Now()) })
		defer stop()
		got, size, err := st.Put(ctx, digest, body)
		switch {
		case err == nil:
			writeJSON(w, http.StatusCreated, ModuleInfo{Digest: got, Size: size})
		case errors.Is(err, images.ErrTooLarge):
			writeError(w, apierrors.NewRequestEntityTooLargeError(err.Error()))
		case errors.Is(err, images.ErrDigestMismatch), errors.Is(err, images.ErrNotModule):
			writeError(w, badRequest(fmt.Sprintf("body: %v", err)))
		case errors.Is(err, images.ErrStoreFull):
			writeError(w, storeFull(err))
		case errors.Is(err, images.ErrStoreIO):
			writeError(w, apierrors.NewInternalError(err))
		case ctx.Err() != nil:
			writeError(w, apierrors.NewTimeoutError(fmt.Sprintf("the upload did not finish within %s", uploadTimeout), 0))
		default:
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() {
				writeError(w, apierrors.NewTimeoutError(fmt.Sprintf("the upload stalled for %s", uploadIdle), 0))
				return
			}
			writeError(w, badRequest(fmt.Sprintf("body: reading the module: %v", err)))
		}
	default:
		writeError(w, methodNotAllowed(req.Method))
	}
}

// storeFull is 507 Insufficient Storage: the store's total bound
// (images.Store.MaxTotal) would be passed.
func storeFull(err error) error {
	return statusErr(http.StatusInsufficientStorage, "InsufficientStorage", err.Error())
}

// idleReader cuts a body off when a read waits longer than idle.
type idleReader struct {
	r    io.Reader
	rc   *http.ResponseController
	idle time.Duration
}

func (r *idleReader) Read(p []byte) (int, error) {
	_ = r.rc.SetReadDeadline(time.Now().Add(r.idle)) // not every transport has deadlines
	return r.r.Read(p)
}

func (h *httpHandler) acquireUpload() bool {
	h.s.uploadsOnce.Do(func() { h.s.uploads = make(chan struct{}, maxUploads) })
	select {
	case h.s.uploads <- struct{}{}:
		return true
	default:
		return false
	}
}

func (h *httpHandler) releaseUpload() { <-h.s.uploads }

// userUploads counts each server's uploads in progress by user (not
// system:masters), so that one user's slow uploads cannot hold every one
// of the maxUploads slots.
var userUploads = struct {
	sync.Mutex
	m map[*Server]map[string]int
}{m: map[*Server]map[string]int{}}

func (s *Server) acquireUserUpload(name string) bool {
	userUploads.Lock()
	defer userUploads.Unlock()
	byUser := userUploads.m[s]
	if byUser == nil {
		byUser = map[string]int{}
		userUploads.m[s] = byUser
	}
	if byUser[name] >= maxUploadsPerUser {
		return false
	}
	byUser[name]++
	return true
}

func (s *Server) releaseUserUpload(name string) {
	userUploads.Lock()
	defer userUploads.Unlock()
	byUser := userUploads.m[s]
	if byUser[name]--; byUser[name] <= 0 {
		delete(byUser, name)
	}
	if len(byUser) == 0 {
		delete(userUploads.m, s)
	}
}

func (h *httpHandler) serveTag(w http.ResponseWriter, req *http.Request, st *images.Store, nameTag string) {
	if nameTag == "" {
		if req.Method != http.MethodGet {
			writeError(w, methodNotAllowed(req.Method))
			return
		}
		list := TagList{Items: []TagInfo{}}
		for _, t := range st.Tags() {
			name, tag, _ := strings.Cut(t[0], ":")
			size, _ := st.Published(t[1])
			list.Items = append(list.Items, TagInfo{Name: name, Tag: tag, Digest: t[1], Size: size, Image: images.StoreRef{Name: name, Tag: tag}.String()})
		}
		writeJSON(w, http.StatusOK, list)
		return
	}
	name, tag, ok := strings.Cut(nameTag, ":")
	if !ok {
		writeError(w, badRequest(fmt.Sprintf("path: %q: want NAME:TAG", nameTag)))
		return
	}
	if err := images.ValidName(name); err != nil {
		writeError(w, badRequest(fmt.Sprintf("path: %v", err)))
		return
	}
	if err := images.ValidTag(tag); err != nil {
		writeError(w, badRequest(fmt.Sprintf("path: %v", err)))
		return
	}
	answer := func(code int, digest string) {
		writeJSON(w, code, TagInfo{Name: name, Tag: tag, Digest: digest, Image: images.StoreRef{Name: name, Tag: tag}.String()})
	}
	switch req.Method {
	case http.MethodGet:
		d, err := st.Lookup(name, tag)
		if err != nil {
			writeError(w, statusErr(http.StatusNotFound, metav1.StatusReasonNotFound, err.Error()))
			return
		}
		answer(http.StatusOK, d)
	case http.MethodPut:
		var in TagInfo
		b, err := io.ReadAll(io.LimitReader(req.Body, 4<<10+1))
		if err == nil && len(b) > 4<<10 {
			err = errors.New("over 4 KiB")
		}
		if err == nil {
			err = json.Unmarshal(b, &in)
		}
		if err != nil {
			writeError(w, badRequest(fmt.Sprintf("body: want {\"digest\":\"sha256:<hex>\"}: %v", err)))
			return
		}
		if err := images.ValidDigest(in.Digest); err != nil {
			writeError(w, badRequest(fmt.Sprintf("digest: %v", err)))
			return
		}
		if err := st.Tag(name, tag, in.Digest); err != nil {
			if errors.Is(err, images.ErrUnknown) {
				writeError(w, statusErr(http.StatusNotFound, metav1.StatusReasonNotFound, "digest: "+err.Error()))
				return
			}
			writeError(w, apierrors.NewInternalError(err))
			return
		}
		answer(http.StatusOK, in.Digest)
	default:
		writeError(w, methodNotAllowed(req.Method))
	}
}

// relativeImageErrors (under Options.RefuseRelativeImages) refuses the images of p that only the client that
// read the manifest can resolve (./x.wasm, go://./server) when p does
// not say what they are relative to (the wasmpod.io/manifest-dir
// annotation that wasmpod run sets): without it the server would resolve
// them against its own working directory. On an update (old not nil) an
// image the container had already is let be, as upstream ratchets
// validation, so that a pod stored before this check can still change.
func (s *Server) relativeImageErrors(p, old *corev1.Pod) field.ErrorList {
	if !s.opts.RefuseRelativeImages {
		return nil
	}
	if _, ok := p.Annotations[manifestDirAnnotation]; ok {
		return nil
	}
	var errs field.ErrorList
	check := func(path *field.Path, cs, olds []corev1.Container) {
		for i, c := range cs {
			if i < len(olds) && olds[i].Image == c.Image {
				continue
			}
			if images.IsRelative(c.Image) {
				errs = append(errs, field.Invalid(path.Index(i).Child("image"), c.Image,
					"a relative image is resolved by the client that read the manifest, not the server: use wasmpod apply -f (which uploads the module), or wasmpod image import FILE|go://PKG NAME and name the image wasmpod.local/NAME"))
			}
		}
	}
	var oldInit, oldCtrs []corev1.Container
	if old != nil {
		oldInit, oldCtrs = old.Spec.InitContainers, old.Spec.Containers
	}
	check(field.NewPath("spec", "initContainers"), p.Spec.InitContainers, oldInit)
	check(field.NewPath("spec", "containers"), p.Spec.Containers, oldCtrs)
	return errs
}

// workloadTemplate returns the pod template a workload runs, and its
// field path.
func workloadTemplate(obj runtime.Object) (*corev1.PodTemplateSpec, *field.Path) {
	tmpl := field.NewPath("spec", "template")
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return &o.Spec.Template, tmpl
	case *appsv1.ReplicaSet:
		return &o.Spec.Template, tmpl
	case *appsv1.DaemonSet:
		return &o.Spec.Template, tmpl
	case *appsv1.StatefulSet:
		return &o.Spec.Template, tmpl
	case *batchv1.Job:
		return &o.Spec.Template, tmpl
	case *batchv1.CronJob:
		return &o.Spec.JobTemplate.Spec.Template, field.NewPath("spec", "jobTemplate", "spec", "template")
	}
	return nil, nil
}

// validateWorkloadImages refuses, as relativeImageErrors does for a pod,
// the relative images of a workload's pod template (whose pods would
// all be refused).
func validateWorkloadImages(s *Server, obj runtime.Object) error {
	return validateWorkloadImagesUpdate(s, obj, nil)
}

func validateWorkloadImagesUpdate(s *Server, obj, old runtime.Object) error {
	t, path := workloadTemplate(obj)
	if t == nil {
		return nil
	}
	p := &corev1.Pod{ObjectMeta: t.ObjectMeta, Spec: t.Spec}
	var o *corev1.Pod
	if old != nil {
		if ot, _ := workloadTemplate(old); ot != nil {
			o = &corev1.Pod{Spec: ot.Spec}
		}
	}
	errs := s.relativeImageErrors(p, o)
	if len(errs) == 0 {
		return nil
	}
	for _, e := range errs { // spec.containers[0].image -> spec.template.spec.containers[0].image
		e.Field = path.String() + "." + e.Field
	}
	m, _ := meta.Accessor(obj)
	gvk := obj.GetObjectKind().GroupVersionKind()
	if gvk.Kind == "" {
		if r, ok := s.resourceOf(obj); ok {
			gvk = r.GVK()
		}
	}
	return apierrors.NewInvalid(gvk.GroupKind(), m.GetName(), errs)
}

// resourceOf finds the served resource of obj's Go type.
func (s *Server) resourceOf(obj runtime.Object) (*Resource, bool) {
	for _, r := range s.resources {
		if r.newObj != nil && reflect.TypeOf(r.newObj()) == reflect.TypeOf(obj) {
			return r, true
		}
	}
	return nil, false
}

// manifestDirAnnotation is pods.AnnotationManifestDir (pods imports this
// package's clients, not the other way round).
const manifestDirAnnotation = "wasmpod.io/manifest-dir"
