package pods

// kubeletapi.go: the agent's kubelet API, the HTTPS endpoints through which
// an API server reaches a node agent that runs in another process (its
// client side is apiserver/remotenode.go), on upstream's kubelet paths:
//
//	GET      /healthz                                   "ok"
//	GET      /pods                                      the node's pods (a v1 PodList)
//	GET      /stats/summary, /metrics/resource          stats.go
//	GET      /metrics                                   metrics.go
//	GET      /containerLogs/NS/POD/CONTAINER            ?follow&previous&tailLines&timestamps&sinceSeconds&sinceTime&limitBytes
//	GET|POST /exec/NS/POD[/UID]/CONTAINER               ?command=..&input=1&output=1&error=1&tty=1
//	GET|POST /attach/NS/POD[/UID]/CONTAINER             ?input=1&output=1&error=1&tty=1
//	GET|POST /portForward/NS/POD[/UID]                  SPDY portforward.k8s.io, or WebSocket ?port=P
//
// exec, attach and port-forward speak the API server's stream protocols
// (streaming.ServeExec, ServeAttach, ServePortForward: WebSocket v5/v4 and
// SPDY/3.1).
//
// Authentication, as the kubelet's with --client-ca-file and webhook
// authentication: a client certificate verified by the cluster CA (the TLS
// server asks for one: KubeletTLSConfig) names the user (CN) and groups
// (O); else a bearer token is sent to the API server in a
// SelfSubjectReview made with that token, which answers who it is (the
// TokenReview of upstream's webhook, without needing the agent's own
// credential to be allowed to review tokens). Neither: 401.
//
// Authorization, as the kubelet's webhook authorization: system:masters
// may do everything (the API server's kubelet client certificate is in
// it); a token's user is checked with a SelfSubjectAccessReview, made with
// its token, of the verb (GET get, POST create, ...) on the node's
// subresource: stats for /stats, metrics for /metrics, log for /logs,
// proxy for everything else; a certificate's user with a
// SubjectAccessReview made with the agent's own credential (which a
// kube-apiserver's Node authorizer allows a node; an agent without a
// client refuses them, 403). Answers are cached for a minute (allowed) or
// ten seconds (denied, or unknown tokens).

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/wasmpod/wasmpod/internal/streaming"
)

// nodeIP is the node's InternalIP (AgentConfig.NodeIP, default 127.0.0.1).
func (a *Agent) nodeIP() string {
	if a.cfg.NodeIP.IsValid() {
		return a.cfg.NodeIP.String()
	}
	return "127.0.0.1"
}

// KubeletAPIConfig configures the kubelet API (Agent.KubeletHandler).
type KubeletAPIConfig struct {
	// APIServer reaches the API server without credentials of its own
	// (its Host and TLS trust are used): the tokens of callers are
	// reviewed through it. Nil: bearer tokens are refused.
	APIServer *rest.Config
	// Clock times the review cache (default: the agent's).
	Now func() time.Time
}

// KubeletTLSConfig is the TLS configuration of the kubelet API's server:
// its serving certificate, and the cluster CA (clientCA, PEM) that
// verifies client certificates when one is given.
func KubeletTLSConfig(cert tls.Certificate, clientCA []byte) (*tls.Config, error) {
	pool := x509.NewCertPool()
	if len(clientCA) > 0 && !pool.AppendCertsFromPEM(clientCA) {
		return nil, fmt.Errorf("kubelet API: the client CA holds no PEM certificate")
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    pool,
		NextProtos:   []string{"http/1.1"}, // SPDY and WebSocket upgrades need HTTP/1.1
	}, nil
}

// KubeletHandler is the agent's kubelet API (see the file comment).
func (a *Agent) KubeletHandler(cfg KubeletAPIConfig) http.Handler {
	if cfg.Now == nil {
		cfg.Now = a.clk.Now
	}
	k := &kubeletAPI{a: a, cfg: cfg, cache: map[string]reviewEntry{}}
	if cfg.APIServer != nil {
		anon := rest.AnonymousClientConfig(cfg.APIServer)
		if hc, err := rest.HTTPClientFor(anon); err == nil {
			k.review, k.host = hc, strings.TrimSuffix(anon.Host, "/")
			if k.host != "" && !strings.Contains(k.host, "://") {
				k.host = "https://" + k.host
			}
			k.host += strings.TrimSuffix(anon.APIPath, "/")
		}
	}
	return k
}

type kubeletAPI struct {
	a      *Agent
	cfg    KubeletAPIConfig
	review *http.Client // nil: no token reviews
	host   string

	mu    sync.Mutex
	cache map[string]reviewEntry
}

type reviewEntry struct {
	user    authenticationv1.UserInfo
	allowed bool
	reason  string
	err     error
	expires time.Time
}

// kubeletUser is an authenticated caller.
type kubeletUser struct {
	name   string
	groups []string
	token  string // "" for a certificate
}

func (k *kubeletAPI) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	u, err := k.authenticate(req)
	if err != nil {
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	verb, sub := kubeletAttributes(req)
	if ok, reason := k.authorize(req.Context(), u, verb, sub); !ok {
		msg := fmt.Sprintf("Forbidden (user=%s, verb=%s, resource=nodes, subresource=%s)", u.name, verb, sub)
		if reason != "" {
			msg += ": " + reason
		}
		http.Error(w, msg, http.StatusForbidden)
		return
	}
	k.route(w, req)
}

// authenticate finds the caller: a verified client certificate, else a
// bearer token the API server knows.
func (k *kubeletAPI) authenticate(req *http.Request) (*kubeletUser, error) {
	if req.TLS != nil && len(req.TLS.VerifiedChains) > 0 && len(req.TLS.VerifiedChains[0]) > 0 {
		leaf := req.TLS.VerifiedChains[0][0]
		return &kubeletUser{name: leaf.Subject.CommonName, groups: leaf.Subject.Organization}, nil
	}
	tok, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
	tok = strings.TrimSpace(tok)
	if !ok || tok == "" || k.review == nil {
		return nil, fmt.Errorf("no credentials")
	}
	e := k.cached("authn\x00"+tok, func() reviewEntry {
		var out authenticationv1.SelfSubjectReview
		in := &authenticationv1.SelfSubjectReview{TypeMeta: metav1.TypeMeta{APIVersion: "authentication.k8s.io/v1", Kind: "SelfSubjectReview"}}
		if err := k.post(req.Context(), tok, "/apis/authentication.k8s.io/v1/selfsubjectreviews", in, &out); err != nil {
			return reviewEntry{err: err}
		}
		return reviewEntry{user: out.Status.UserInfo, allowed: true}
	})
	if e.err != nil || e.user.Username == "" {
		return nil, fmt.Errorf("token not accepted: %v", e.err)
	}
	return &kubeletUser{name: e.user.Username, groups: e.user.Groups, token: tok}, nil
}

// authorize decides whether u may do verb on the node's subresource.
func (k *kubeletAPI) authorize(ctx context.Context, u *kubeletUser, verb, sub string) (bool, string) {
	if slices.Contains(u.groups, "system:masters") {
		return true, ""
	}
	node := k.a.cfg.NodeName
	if u.token == "" {
		// A certificate's user: a SubjectAccessReview made with the
		// agent's own credential, as the kubelet's webhook authorizer
		// (a node may create them: upstream's NodeRules).
		if k.a.client == nil {
			return false, "only system:masters certificates are accepted"
		}
		e := k.cached("sar\x00"+u.name+"\x00"+strings.Join(u.groups, "\x00")+"\x00"+verb+"\x00"+sub, func() reviewEntry {
			out, err := k.a.client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
				Spec: authorizationv1.SubjectAccessReviewSpec{User: u.name, Groups: u.groups, ResourceAttributes: &authorizationv1.ResourceAttributes{
					Verb: verb, Resource: "nodes", Subresource: sub, Name: node}},
			}, metav1.CreateOptions{})
			if err != nil {
				return reviewEntry{err: err}
			}
			return reviewEntry{allowed: out.Status.Allowed, reason: out.Status.Reason}
		})
		if e.err != nil {
			return false, e.err.Error()
		}
		return e.allowed, e.reason
	}
	e := k.cached("authz\x00"+u.token+"\x00"+verb+"\x00"+sub, func() reviewEntry {
		in := &authorizationv1.SelfSubjectAccessReview{
			TypeMeta: metav1.TypeMeta{APIVersion: "authorization.k8s.io/v1", Kind: "SelfSubjectAccessReview"},
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
				Verb: verb, Resource: "nodes", Subresource: sub, Name: node}},
		}
		var out authorizationv1.SelfSubjectAccessReview
		if err := k.post(ctx, u.token, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", in, &out); err != nil {
			return reviewEntry{err: err}
		}
		return reviewEntry{allowed: out.Status.Allowed, reason: out.Status.Reason}
	})
	if e.err != nil {
		return false, e.err.Error()
	}
	return e.allowed, e.reason
}

// cached returns the cache's answer for key, or asks and keeps it.
func (k *kubeletAPI) cached(key string, ask func() reviewEntry) reviewEntry {
	sum := sha256.Sum256([]byte(key)) // tokens are not kept in the clear
	hk := string(sum[:])
	now := k.cfg.Now()
	k.mu.Lock()
	e, ok := k.cache[hk]
	k.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e
	}
	e = ask()
	ttl := time.Minute
	if e.err != nil || !e.allowed {
		ttl = 10 * time.Second
	}
	e.expires = now.Add(ttl)
	k.mu.Lock()
	if len(k.cache) > 4096 { // bounded: drop the expired, else everything
		for key, old := range k.cache {
			if !now.Before(old.expires) {
				delete(k.cache, key)
			}
		}
		if len(k.cache) > 4096 {
			clear(k.cache)
		}
	}
	k.cache[hk] = e
	k.mu.Unlock()
	return e
}

// post sends a review to the API server with the caller's token.
func (k *kubeletAPI) post(ctx context.Context, token, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, k.host+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := k.review.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", path, resp.Status)
	}
	return json.Unmarshal(body, out)
}

// kubeletAttributes are the verb and nodes subresource of a request, as
// the kubelet's authorizer maps them.
func kubeletAttributes(req *http.Request) (verb, sub string) {
	switch req.Method {
	case http.MethodGet, http.MethodHead:
		verb = "get"
	case http.MethodPost:
		verb = "create"
	case http.MethodPut:
		verb = "update"
	case http.MethodPatch:
		verb = "patch"
	case http.MethodDelete:
		verb = "delete"
	default:
		verb = strings.ToLower(req.Method)
	}
	p := req.URL.Path
	switch {
	case p == "/stats" || strings.HasPrefix(p, "/stats/"):
		sub = "stats"
	case p == "/metrics" || strings.HasPrefix(p, "/metrics/"):
		sub = "metrics"
	case p == "/logs" || strings.HasPrefix(p, "/logs/"):
		sub = "log"
	default:
		sub = "proxy"
	}
	return verb, sub
}

// route serves an authorized request.
func (k *kubeletAPI) route(w http.ResponseWriter, req *http.Request) {
	p := req.URL.Path
	parts := strings.Split(strings.Trim(p, "/"), "/")
	switch {
	case p == "/healthz":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok")
	case p == "/pods" || p == "/pods/":
		k.servePods(w, req)
	case strings.HasPrefix(p, "/stats/") || p == "/metrics" || strings.HasPrefix(p, "/metrics/"):
		k.a.ServeNodeProxy(w, req, p) // stats.go, metrics.go
	case parts[0] == "containerLogs" && len(parts) == 4:
		k.serveLogs(w, req, parts[1], parts[2], parts[3])
	case (parts[0] == "exec" || parts[0] == "attach") && (len(parts) == 4 || len(parts) == 5):
		if req.Method != http.MethodGet && req.Method != http.MethodPost {
			http.Error(w, "405: Method Not Allowed", http.StatusMethodNotAllowed)
			return
		}
		uid := ""
		if len(parts) == 5 {
			uid = parts[3]
		}
		if parts[0] == "exec" {
			k.serveExec(w, req, parts[1], parts[2], uid, parts[len(parts)-1])
		} else {
			k.serveAttach(w, req, parts[1], parts[2], uid, parts[len(parts)-1])
		}
	case parts[0] == "portForward" && (len(parts) == 3 || len(parts) == 4):
		uid := ""
		if len(parts) == 4 {
			uid = parts[3]
		}
		k.servePortForward(w, req, parts[1], parts[2], uid)
	default:
		http.NotFound(w, req)
	}
}

// pod finds a pod the agent runs by namespace and name (and UID when
// given).
func (a *Agent) podByName(ns, name, uid string) (*corev1.Pod, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, e := range a.pods {
		if e.ns == ns && e.name == name && (uid == "" || string(e.uid) == uid) {
			return e.w.Pod(), nil
		}
	}
	return nil, apierrors.NewNotFound(corev1.Resource("pods"), name)
}

func (k *kubeletAPI) servePods(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet {
		http.Error(w, "405: Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	list := corev1.PodList{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PodList"}}
	k.a.mu.Lock()
	entries := make([]*podEntry, 0, len(k.a.pods))
	for _, e := range k.a.pods {
		entries = append(entries, e)
	}
	k.a.mu.Unlock()
	for _, e := range entries {
		list.Items = append(list.Items, *e.w.Pod())
	}
	slices.SortFunc(list.Items, func(x, y corev1.Pod) int {
		return strings.Compare(x.Namespace+"/"+x.Name, y.Namespace+"/"+y.Name)
	})
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(&list)
}

// queryBool reads a kubelet flag parameter: "1" or a true boolean.
func queryBool(q map[string][]string, key string) bool {
	v := ""
	if vs := q[key]; len(vs) > 0 {
		v = vs[0]
	}
	b, _ := strconv.ParseBool(v)
	return b
}

func (k *kubeletAPI) serveLogs(w http.ResponseWriter, req *http.Request, ns, name, container string) {
	if req.Method != http.MethodGet {
		http.Error(w, "405: Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	q := req.URL.Query()
	opts := &corev1.PodLogOptions{Container: container, Follow: queryBool(q, "follow"), Previous: queryBool(q, "previous"), Timestamps: queryBool(q, "timestamps")}
	for _, f := range []struct {
		key string
		dst **int64
		min int64
	}{{"tailLines", &opts.TailLines, 0}, {"sinceSeconds", &opts.SinceSeconds, 1}, {"limitBytes", &opts.LimitBytes, 1}} {
		if v := q.Get(f.key); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < f.min {
				streaming.WriteError(w, apierrors.NewBadRequest(fmt.Sprintf("%s: must be an integer of at least %d, not %q", f.key, f.min, v)))
				return
			}
			*f.dst = &n
		}
	}
	if v := q.Get("sinceTime"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			streaming.WriteError(w, apierrors.NewBadRequest(fmt.Sprintf("sinceTime: %v", err)))
			return
		}
		mt := metav1.NewTime(t)
		opts.SinceTime = &mt
	}
	pod, ok := k.podContainer(w, ns, name, "", container)
	if !ok {
		return
	}
	ctx := req.Context()
	lw := &flushWriter{w: w}
	var out io.Writer = lw
	if opts.LimitBytes != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		out = &limitedWriter{w: lw, n: *opts.LimitBytes, done: cancel}
	}
	err := k.a.Logs(ctx, pod, opts, out)
	if lim, ok := out.(*limitedWriter); ok && lim.n <= 0 {
		err = nil
	}
	if err != nil && !lw.started {
		streaming.WriteError(w, err)
		return
	}
	if !lw.started {
		lw.start()
	}
}

// podContainer is the agent's pod ns/name (of that UID, unless uid is
// empty) that has the container, or false once it has written the error.
func (k *kubeletAPI) podContainer(w http.ResponseWriter, ns, name, uid, container string) (*corev1.Pod, bool) {
	pod, err := k.a.podByName(ns, name, uid)
	if err != nil {
		streaming.WriteError(w, err)
		return nil, false
	}
	if !hasContainerNamed(pod, container) {
		streaming.WriteError(w, apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", container, name)))
		return nil, false
	}
	return pod, true
}

func hasContainerNamed(pod *corev1.Pod, name string) bool {
	for _, cs := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for _, c := range cs {
			if c.Name == name {
				return true
			}
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if c.Name == name {
			return true
		}
	}
	return false
}

// flushWriter sends the 200 and its headers with the first write, and
// flushes every write (a followed log reaches the client as it comes).
type flushWriter struct {
	w       http.ResponseWriter
	started bool
}

func (f *flushWriter) start() {
	f.started = true
	f.w.Header().Set("Content-Type", "text/plain")
	f.w.WriteHeader(http.StatusOK)
}

func (f *flushWriter) Write(p []byte) (int, error) {
	if !f.started {
		f.start()
	}
	n, err := f.w.Write(p)
	if fl, ok := f.w.(http.Flusher); ok {
		fl.Flush()
	}
	return n, err
}

// limitedWriter stops a log after n bytes.
type limitedWriter struct {
	w    io.Writer
	n    int64
	done func()
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, io.ErrShortWrite
	}
	short := int64(len(p)) > l.n
	if short {
		p = p[:l.n]
	}
	n, err := l.w.Write(p)
	l.n -= int64(n)
	if l.n <= 0 {
		l.done()
	}
	if err == nil && short {
		err = io.ErrShortWrite
	}
	return n, err
}

func (k *kubeletAPI) serveExec(w http.ResponseWriter, req *http.Request, ns, name, uid, container string) {
	q := req.URL.Query()
	opts := &corev1.PodExecOptions{Container: container, Command: q["command"],
		Stdin: queryBool(q, "input"), Stdout: queryBool(q, "output"), Stderr: queryBool(q, "error"), TTY: queryBool(q, "tty")}
	pod, ok := k.podContainer(w, ns, name, uid, container)
	if !ok {
		return
	}
	streaming.ServeExec(w, req, opts, func(ctx context.Context, streams streaming.ExecStreams) (int, error) {
		return k.a.Exec(ctx, pod, opts, streams)
	})
}

func (k *kubeletAPI) serveAttach(w http.ResponseWriter, req *http.Request, ns, name, uid, container string) {
	q := req.URL.Query()
	opts := &corev1.PodAttachOptions{Container: container,
		Stdin: queryBool(q, "input"), Stdout: queryBool(q, "output"), Stderr: queryBool(q, "error"), TTY: queryBool(q, "tty")}
	pod, ok := k.podContainer(w, ns, name, uid, container)
	if !ok {
		return
	}
	streaming.ServeAttach(w, req, opts, func(ctx context.Context, streams streaming.ExecStreams) error {
		return k.a.Attach(ctx, pod, opts, streams)
	})
}

func (k *kubeletAPI) servePortForward(w http.ResponseWriter, req *http.Request, ns, name, uid string) {
	pod, err := k.a.podByName(ns, name, uid)
	if err != nil {
		streaming.WriteError(w, err)
		return
	}
	streaming.ServePortForward(w, req,
		func(ctx context.Context, port int32) error {
			if port < 1 || port > 65535 {
				return apierrors.NewBadRequest(fmt.Sprintf("port %d must be between 1 and 65535", port))
			}
			return nil
		},
		func(ctx context.Context, port int32, conn io.ReadWriteCloser) error {
			if port < 1 || port > 65535 {
				return apierrors.NewBadRequest(fmt.Sprintf("port %d must be between 1 and 65535", port))
			}
			return k.a.PortForward(ctx, pod, port, conn)
		})
}
