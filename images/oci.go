package images

// oci.go: images pulled from OCI registries (github.com/google/go-containerregistry).
//
// An OCI reference (REGISTRY/REPO[:TAG][@sha256:H], Docker Hub when the
// registry is left out) resolves, according to the pull policy the caller
// passes in its context (WithPullOptions; the API's default otherwise), from
// the module store's OCI index (oci_index.go) or from the registry. Two
// shapes of image are accepted:
//
//   - the wasm OCI artifact: config application/vnd.wasm.config.v0+json and
//     one layer application/wasm (or application/vnd.wasm.content.layer.v1+wasm),
//     the module itself;
//   - a container image of a single layer (tar, tar+gzip or tar+zstd) holding
//     the module, whose config's Entrypoint (else Cmd) names the .wasm path in
//     the layer, as runwasi and WasmEdge read such images; with neither, the
//     layer's only .wasm file.
//
// The module goes into the store's blobs (Store.Put: a temporary file,
// verified, then renamed, so a partial or corrupt download never becomes a
// blob) and the index records the tag, the manifest digest and the module's
// digest. Every failure is an *Error of Kind ErrPull (ErrNeverPull for a
// missing image under policy Never; ErrInvalid for a malformed reference).

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"
)

// Media types of the wasm OCI artifact.
const (
	MediaTypeWasmConfig   = "application/vnd.wasm.config.v0+json"
	MediaTypeWasmLayer    = "application/wasm"
	MediaTypeWasmLayerAlt = "application/vnd.wasm.content.layer.v1+wasm"
)

// maxImageConfig bounds an image's config blob.
const maxImageConfig = 4 << 20

// DefaultMaxLayerSize bounds a layer pulled from a registry
// (RegistryConfig.MaxLayerSize).
const DefaultMaxLayerSize int64 = 256 << 20

var (
	// ErrPull: pulling an OCI image failed (the registry refused or could
	// not be reached, the image is not a wasm image, a blob was corrupt,
	// truncated or too large).
	ErrPull = errors.New("image pull failed")
	// ErrPullStalled: a pull received nothing for the progress timeout.
	ErrPullStalled = errors.New("image pull stalled")
	// ErrNeverPull: the image is not present and the pull policy is Never.
	ErrNeverPull = errors.New("image not present with pull policy of Never")
)

// Pull policies (as corev1.PullPolicy).
const (
	PullAlways       = "Always"
	PullIfNotPresent = "IfNotPresent"
	PullNever        = "Never"
)

// RegistryConfig configures pulls from OCI registries.
type RegistryConfig struct {
	// Insecure lists the registries (host or host:port) reached over plain
	// HTTP; every other registry is HTTPS only (a loopback one too).
	Insecure []string
	// MaxLayerSize bounds a layer, compressed and uncompressed
	// (DefaultMaxLayerSize when zero).
	MaxLayerSize int64
	// Keychain holds the node's credentials (a docker config.json; see
	// DockerConfigKeychain), tried after the pod's imagePullSecrets.
	Keychain authn.Keychain
	// Transport is the HTTP transport (http.DefaultTransport when nil),
	// for a test's TLS roots.
	Transport http.RoundTripper
	// ProgressTimeout cancels a pull that received nothing for that long
	// (containerd's image_pull_progress_timeout; DefaultPullProgressTimeout
	// when zero).
	ProgressTimeout time.Duration
}

// DefaultPullProgressTimeout is RegistryConfig.ProgressTimeout's default.
const DefaultPullProgressTimeout = 5 * time.Minute

func (c *RegistryConfig) progressTimeout() time.Duration {
	if c.ProgressTimeout > 0 {
		return c.ProgressTimeout
	}
	return DefaultPullProgressTimeout
}

// PullOptions are one pull's options, carried in its context.
type PullOptions struct {
	// Policy is Always, IfNotPresent or Never; "" is the API's default
	// for the reference (DefaultPullPolicy).
	Policy string
	// Keychain holds the pod's imagePullSecrets; tried first.
	Keychain authn.Keychain
	// OnPull is called when the image is about to be fetched from its
	// registry (not when the store has it and the policy allows it).
	OnPull func()
	// Progress, when set, is called as the module's bytes arrive.
	Progress func(done, total int64)
}

type pullOptionsKey struct{}

// WithPullOptions returns ctx carrying o for OCI resolves.
func WithPullOptions(ctx context.Context, o PullOptions) context.Context {
	return context.WithValue(ctx, pullOptionsKey{}, o)
}

func pullOptionsFrom(ctx context.Context) PullOptions {
	o, _ := ctx.Value(pullOptionsKey{}).(PullOptions)
	return o
}

// IsOCIRef reports whether ref is an OCI registry reference: no path, no
// scheme, not a module-store reference.
func IsOCIRef(ref string) bool {
	r := strings.TrimSpace(ref)
	return r != "" && !strings.Contains(r, "://") && !isPath(r) && !IsStoreRef(r)
}

// DefaultPullPolicy is the API's default for ref: Always for ":latest" or no
// tag (and no digest), IfNotPresent otherwise.
func DefaultPullPolicy(ref string) string {
	if strings.Contains(ref, "@") {
		return PullIfNotPresent
	}
	last := ref[strings.LastIndex(ref, "/")+1:]
	if i := strings.LastIndex(last, ":"); i < 0 || last[i+1:] == "latest" {
		return PullAlways
	}
	return PullIfNotPresent
}

// ParseOCIRef parses an OCI reference as the resolver does (Docker Hub and
// tag "latest" by default).
func ParseOCIRef(ref string) (name.Reference, error) {
	return name.ParseReference(ref)
}

func pullErr(ref string, format string, args ...any) *Error {
	return &Error{Ref: ref, Kind: ErrPull, Err: fmt.Errorf(format, args...)}
}

func (r *Resolver) registry() *RegistryConfig {
	if r.Registry != nil {
		return r.Registry
	}
	return &RegistryConfig{}
}

func (c *RegistryConfig) maxLayer() int64 {
	if c.MaxLayerSize > 0 {
		return c.MaxLayerSize
	}
	return DefaultMaxLayerSize
}

// resolveOCI resolves an OCI reference from the store's index or its
// registry, by the pull policy of ctx.
func (r *Resolver) resolveOCI(ctx context.Context, ref string) (*Image, error) {
	nref, err := name.ParseReference(ref)
	if err != nil {
		return nil, &Error{Ref: ref, Kind: ErrInvalid, Err: fmt.Errorf("invalid reference format: %v", err)}
	}
	if r.Store == nil {
		return nil, &Error{Ref: ref, Kind: ErrUnsupported, Err: errors.New("this node has no module store to pull OCI images into")}
	}
	po := pullOptionsFrom(ctx)
	policy := po.Policy
	if policy == "" {
		policy = DefaultPullPolicy(ref)
	}
	idx := r.Store.ociIndex()
	if policy != PullAlways {
		if e := idx.lookup(nref); e != nil {
			if img, err := r.ociImage(ref, e); err == nil {
				idx.touch(e.Ref)
				return img, nil
			}
		}
		if policy == PullNever {
			return nil, &Error{Ref: ref, Kind: ErrNeverPull,
				Err: fmt.Errorf("Container image %q is not present with pull policy of Never", ref)}
		}
	}
	if po.OnPull != nil {
		po.OnPull()
	}
	e, err := r.pull(ctx, ref, nref, po)
	if err != nil {
		return nil, err
	}
	return r.ociImage(ref, e)
}

// ociImage reads the module of index entry e from the store, verified
// against its digest (Store.Get) the first time only: a later resolve of
// ref to the same manifest and module reuses that Image while the store
// has the blob (a stat), so a pod start under IfNotPresent does not read
// and hash the module again. The Image is never current (Current): each
// resolve applies the pull policy, as the kubelet does for each start.
func (r *Resolver) ociImage(ref string, e *ociEntry) (*Image, error) {
	id := ociImageID(e.Repo, e.Manifest)
	r.mu.Lock()
	img := r.ociSeen[ref]
	r.mu.Unlock()
	if img != nil && img.ID == id && img.Digest == e.Module {
		if _, ok := r.Store.Has(e.Module); ok {
			return img, nil
		}
	}
	b, err := r.Store.Get(e.Module)
	if err != nil {
		return nil, pullErr(ref, "reading the module of %s from the store: %v", e.Ref, err)
	}
	img = &Image{Ref: ref, Digest: e.Module, Bytes: b, ID: id,
		Entrypoint: e.Entrypoint, Cmd: e.Cmd, current: func() bool { return false }}
	r.mu.Lock()
	if r.ociSeen == nil {
		r.ociSeen = map[string]*Image{}
	}
	r.ociSeen[ref] = img
	r.mu.Unlock()
	return img, nil
}

// ociImageID is the image's ID for a container status: REPO@MANIFEST-DIGEST.
func ociImageID(repo, manifest string) string { return repo + "@" + manifest }

// insecureGuard refuses plain HTTP to registries not configured insecure
// (go-containerregistry falls back to HTTP for loopback and private
// addresses on its own).
type insecureGuard struct {
	next     http.RoundTripper
	insecure []string
}

func (g *insecureGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !slices.Contains(g.insecure, req.URL.Host) {
		return nil, fmt.Errorf("plain HTTP to registry %s refused: it is not configured as an insecure registry (HTTPS only)", req.URL.Host)
	}
	return g.next.RoundTrip(req)
}

func (c *RegistryConfig) transport() http.RoundTripper {
	t := c.Transport
	if t == nil {
		t = http.DefaultTransport
	}
	return &insecureGuard{next: t, insecure: c.Insecure}
}

// remoteOptions are the options of every registry call for a reference of
// registry reg.
func (c *RegistryConfig) remoteOptions(ctx context.Context, kc authn.Keychain) []remote.Option {
	chain := []authn.Keychain{}
	if kc != nil {
		chain = append(chain, kc)
	}
	if c.Keychain != nil {
		chain = append(chain, c.Keychain)
	}
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithTransport(c.transport()),
		remote.WithAuthFromKeychain(authn.NewMultiKeychain(chain...)),
		remote.WithPlatform(v1.Platform{OS: "wasip1", Architecture: "wasm"}),
		// The kubelet's image back-off retries; one attempt here.
		remote.WithRetryBackoff(remote.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 1}),
		remote.WithUserAgent("wasmpod"),
	}
}

// parseRef is name.ParseReference with insecure registries marked.
func (c *RegistryConfig) parseRef(ref string) (name.Reference, error) {
	nref, err := name.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	if slices.Contains(c.Insecure, nref.Context().RegistryStr()) {
		return name.ParseReference(ref, name.Insecure)
	}
	return nref, nil
}

// describeRemoteErr words a registry error as containerd's pull does.
func describeRemoteErr(ref string, err error) error {
	var te *transport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("failed to resolve reference %q: pull access denied, repository does not exist or may require authorization: authorization failed: %d %s", ref, te.StatusCode, http.StatusText(te.StatusCode))
		case http.StatusNotFound:
			return fmt.Errorf("failed to resolve reference %q: %s: not found", ref, ref)
		}
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return fmt.Errorf("failed to resolve reference %q: failed to do request: %v", ref, err)
	}
	return fmt.Errorf("failed to pull and unpack image %q: %v", ref, err)
}

// pull fetches ref's manifest (and its module, unless the store has the
// module of that manifest) and records it in the index.
func (r *Resolver) pull(ctx context.Context, ref string, nref name.Reference, po PullOptions) (*ociEntry, error) {
	cfg := r.registry()
	if pr, err := cfg.parseRef(ref); err == nil {
		nref = pr
	}
	// As containerd's image_pull_progress_timeout: a pull that receives
	// nothing for ProgressTimeout is cancelled (a stalled registry must not
	// hold the container's start for ever).
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var lastProgress atomic.Int64
	lastProgress.Store(time.Now().UnixNano())
	pt := cfg.progressTimeout()
	go func() {
		t := time.NewTicker(max(pt/4, 10*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if time.Since(time.Unix(0, lastProgress.Load())) > pt {
					cancel(fmt.Errorf("%w: cancelled because of no progress in %s", ErrPullStalled, pt))
					return
				}
			}
		}
	}()
	opts := cfg.remoteOptions(ctx, po.Keychain)
	// Progress lines (wasmpod run, image pull): bytes of the module's layer.
	var done, total atomic.Int64
	user := po.Progress
	po.Progress = func(d, t int64) {
		lastProgress.Store(time.Now().UnixNano())
		done.Store(d)
		total.Store(t)
		if user != nil {
			user(d, t)
		}
	}
	start := time.Now()
	r.progressf("Pulling %s...\n", ref)
	last := int64(-1)
	stop := startTicker(r.Progress, func(elapsed time.Duration) (string, bool) {
		d, t := done.Load(), total.Load()
		news := d > 0 && d != last
		last = d
		return pullStatus(ref, d, t, elapsed), news
	})
	e, err := r.fetch(ctx, ref, nref, opts, po)
	stop()
	if cause := context.Cause(ctx); err != nil && errors.Is(cause, ErrPullStalled) {
		err = pullErr(ref, "failed to pull and unpack image %q: %v", nref.Name(), cause)
	}
	if err != nil {
		r.progressf("Failed to pull %s in %s\n", ref, roundDuration(time.Since(start)))
		return nil, err
	}
	r.progressf("Pulled %s (%s, %s) in %s\n", ref, humanSize(int(e.Size)), shortDigest(e.Module), roundDuration(time.Since(start)))
	return e, nil
}

// fetch is pull's work.
func (r *Resolver) fetch(ctx context.Context, ref string, nref name.Reference, opts []remote.Option, po PullOptions) (*ociEntry, error) {
	cfg := r.registry()
	desc, err := remote.Get(nref, opts...)
	if err != nil {
		return nil, pullErr(ref, "%v", describeRemoteErr(nref.String(), err))
	}
	idx := r.Store.ociIndex()
	repo := nref.Context().Name()
	canon := nref.Name()
	tag := ""
	if t, ok := nref.(name.Tag); ok {
		tag = t.TagStr()
	}
	// The manifest is one the store has: no blob to fetch.
	if e := idx.byManifest(repo, desc.Digest.String()); e != nil {
		if _, ok := r.Store.Has(e.Module); ok {
			ne := *e
			ne.Ref, ne.Tag, ne.Pulled = canon, tag, time.Now()
			ne.LastUsed = ne.Pulled
			if err := idx.put(r.Store, &ne); err != nil {
				return nil, pullErr(ref, "recording the image: %v", err)
			}
			return &ne, nil
		}
	}
	img, err := desc.Image()
	if err != nil {
		return nil, pullErr(ref, "failed to pull and unpack image %q: %v", canon, err)
	}
	// A digest reference must name what came back.
	if d, ok := nref.(name.Digest); ok && d.DigestStr() != desc.Digest.String() {
		return nil, pullErr(ref, "failed to pull and unpack image %q: %v: manifest has digest %s, not %s", canon, ErrDigestMismatch, desc.Digest, d.DigestStr())
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, pullErr(ref, "failed to pull and unpack image %q: reading manifest: %v", canon, err)
	}
	manifestDigest, err := img.Digest()
	if err != nil {
		return nil, pullErr(ref, "failed to pull and unpack image %q: %v", canon, err)
	}
	if m.Config.Size > maxImageConfig {
		return nil, pullErr(ref, "failed to pull and unpack image %q: its config is %d bytes (at most %d)", canon, m.Config.Size, maxImageConfig)
	}
	e := &ociEntry{Ref: canon, Repo: repo, Tag: tag, Manifest: manifestDigest.String()}
	var module []byte
	switch mt := string(m.Config.MediaType); mt {
	case MediaTypeWasmConfig:
		module, err = r.pullWasmArtifact(ctx, img, m, cfg, po)
	case string(types.OCIConfigJSON), string(types.DockerConfigJSON):
		module, err = r.pullContainerImage(ctx, img, m, cfg, po, e)
	default:
		err = fmt.Errorf("unknown config media type %q: not a wasm image (want %s, or a container image of one layer holding the .wasm)", mt, MediaTypeWasmConfig)
	}
	if err != nil {
		return nil, pullErr(ref, "failed to pull and unpack image %q: %v", canon, err)
	}
	if e.Created.IsZero() {
		if raw, err := img.RawConfigFile(); err == nil {
			var c struct {
				Created time.Time `json:"created"`
			}
			if json.Unmarshal(raw, &c) == nil {
				e.Created = c.Created
			}
		}
	}
	digest, size, err := r.Store.putLocal(ctx, "", bytes.NewReader(module)) // an OCI pull: this node's, not the replicas' shared store
	if err != nil {
		return nil, pullErr(ref, "failed to pull and unpack image %q: storing the module: %v", canon, err)
	}
	e.Module, e.Size = digest, size
	if err := r.Store.recordSource(ctx, e, img, m, e.layerBlob); err != nil { // oci_source.go
		return nil, pullErr(ref, "failed to pull and unpack image %q: storing the layer: %v", canon, err)
	}
	e.layerBlob = nil
	e.Pulled = time.Now()
	e.LastUsed = e.Pulled
	if err := idx.put(r.Store, e); err != nil {
		return nil, pullErr(ref, "recording the image: %v", err)
	}
	idx.pulled(e.Ref)
	return e, nil
}

// progressReader reports bytes read.
type progressReader struct {
	r     io.Reader
	n     int64
	total int64
	fn    func(done, total int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if p.fn != nil && n > 0 {
		p.fn(p.n, p.total)
	}
	return n, err
}

// readBlob reads a layer (descriptor d) compressed, bounded and verified
// against its digest (go-containerregistry checks the digest and size at
// EOF), into memory.
func readBlob(rc io.ReadCloser, d v1.Descriptor, max int64, po PullOptions) ([]byte, error) {
	defer rc.Close()
	var r io.Reader = io.LimitReader(rc, max+1)
	r = &progressReader{r: r, total: d.Size, fn: po.Progress}
	b, err := io.ReadAll(r)
	if err != nil {
		if strings.Contains(err.Error(), "error verifying") {
			return nil, fmt.Errorf("%w: reading layer %s: %w", ErrDigestMismatch, d.Digest, err)
		}
		return nil, fmt.Errorf("reading layer %s: %w", d.Digest, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%w: layer %s is over the %d-byte layer size limit", ErrTooLarge, d.Digest, max)
	}
	return b, nil
}

func isWasmLayer(mt types.MediaType) bool {
	return mt == MediaTypeWasmLayer || mt == MediaTypeWasmLayerAlt
}

func (r *Resolver) pullWasmArtifact(ctx context.Context, img v1.Image, m *v1.Manifest, cfg *RegistryConfig, po PullOptions) ([]byte, error) {
	var wasm []v1.Descriptor
	for _, l := range m.Layers {
		if isWasmLayer(l.MediaType) {
			wasm = append(wasm, l)
		}
	}
	if len(wasm) != 1 {
		return nil, fmt.Errorf("a wasm artifact has exactly one %s layer; this one has %d (of %d layers)", MediaTypeWasmLayer, len(wasm), len(m.Layers))
	}
	d := wasm[0]
	b, err := fetchLayer(img, d, cfg, po)
	if err != nil {
		return nil, err
	}
	if err := checkWasm(b); err != nil {
		return nil, fmt.Errorf("%w: layer %s (%s): %v", ErrNotModule, d.Digest, d.MediaType, err)
	}
	return b, nil
}

// fetchLayer reads layer d of img whole, compressed as it is stored,
// refusing it past the layer size limit before and while it is read, and
// checking its digest at its end (readBlob).
func fetchLayer(img v1.Image, d v1.Descriptor, cfg *RegistryConfig, po PullOptions) ([]byte, error) {
	if d.Size > cfg.maxLayer() {
		return nil, fmt.Errorf("%w: layer %s is %d bytes, over the %d-byte layer size limit", ErrTooLarge, d.Digest, d.Size, cfg.maxLayer())
	}
	l, err := img.LayerByDigest(d.Digest)
	if err != nil {
		return nil, err
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	return readBlob(rc, d, cfg.maxLayer(), po)
}

var tarLayerTypes = []types.MediaType{types.OCILayer, types.OCILayerZStd, types.OCIUncompressedLayer, types.DockerLayer, types.DockerUncompressedLayer}

func (r *Resolver) pullContainerImage(ctx context.Context, img v1.Image, m *v1.Manifest, cfg *RegistryConfig, po PullOptions, e *ociEntry) ([]byte, error) {
	if len(m.Layers) != 1 {
		return nil, fmt.Errorf("a wasm container image has exactly one layer holding the module; this one has %d", len(m.Layers))
	}
	d := m.Layers[0]
	if !slices.Contains(tarLayerTypes, d.MediaType) {
		if isWasmLayer(d.MediaType) {
			return r.pullWasmArtifact(ctx, img, m, cfg, po)
		}
		return nil, fmt.Errorf("unknown layer media type %q", d.MediaType)
	}
	if d.Size > cfg.maxLayer() {
		return nil, fmt.Errorf("%w: layer %s is %d bytes, over the %d-byte layer size limit", ErrTooLarge, d.Digest, d.Size, cfg.maxLayer())
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the image config: %v", err)
	}
	e.Created = cf.Created.Time
	e.Entrypoint, e.Cmd = cf.Config.Entrypoint, cf.Config.Cmd
	want := ""
	switch {
	case len(cf.Config.Entrypoint) > 0:
		want = cf.Config.Entrypoint[0]
	case len(cf.Config.Cmd) > 0:
		want = cf.Config.Cmd[0]
	}
	want = strings.TrimPrefix(path.Clean("/"+want), "/")
	// The compressed blob is read whole first: its digest is checked at
	// its end, before anything of it is used.
	blob, err := fetchLayer(img, d, cfg, po)
	if err != nil {
		return nil, err
	}
	e.layerBlob = blob // kept for push (oci_source.go)
	urc, err := uncompress(d.MediaType, blob)
	if err != nil {
		return nil, fmt.Errorf("layer %s: %v", d.Digest, err)
	}
	defer urc.Close()
	tr := tar.NewReader(io.LimitReader(urc, cfg.maxLayer()+1))
	var found []byte
	var wasmFiles []string
	var only []byte
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("layer %s is not a readable tar (or is over the %d-byte limit uncompressed): %v", d.Digest, cfg.maxLayer(), err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		p := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		isWant := want != "" && p == want
		isWasm := strings.HasSuffix(p, ".wasm")
		if !isWant && !isWasm {
			continue
		}
		if h.Size > DefaultMaxModuleSize || h.Size > cfg.maxLayer() {
			return nil, fmt.Errorf("%w: %s in layer %s is %d bytes", ErrTooLarge, p, d.Digest, h.Size)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("reading %s from layer %s: %v", p, d.Digest, err)
		}
		if isWasm {
			wasmFiles = append(wasmFiles, p)
			only = b
		}
		if isWant {
			found = b
		}
	}
	switch {
	case want != "" && found == nil && len(wasmFiles) == 0:
		return nil, fmt.Errorf("%w: the image's entrypoint %q is not in its layer, which holds no .wasm file", ErrNotModule, "/"+want)
	case want != "" && found == nil:
		return nil, fmt.Errorf("the image's entrypoint %q is not in its layer (it holds %s)", "/"+want, strings.Join(wasmFiles, ", "))
	case found == nil && len(wasmFiles) != 1:
		return nil, fmt.Errorf("%w: the image has no entrypoint and its layer holds %d .wasm files (want exactly one)", ErrNotModule, len(wasmFiles))
	case found == nil:
		found = only
	}
	if err := checkWasm(found); err != nil {
		return nil, fmt.Errorf("%w: /%s in layer %s: %v", ErrNotModule, want, d.Digest, err)
	}
	return found, nil
}

// uncompress opens a layer blob of media type mt as a tar stream.
func uncompress(mt types.MediaType, blob []byte) (io.ReadCloser, error) {
	switch mt {
	case types.OCILayer, types.DockerLayer:
		zr, err := gzip.NewReader(bytes.NewReader(blob))
		if err != nil {
			return nil, err
		}
		return zr, nil
	case types.OCILayerZStd:
		zr, err := zstd.NewReader(bytes.NewReader(blob), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		return zr.IOReadCloser(), nil
	}
	return io.NopCloser(bytes.NewReader(blob)), nil
}
