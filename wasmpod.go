// Package wasmpod runs Kubernetes pods of WebAssembly (WASI preview 1)
// modules inside a Go program.
//
//	c, err := wasmpod.New(ctx, wasmpod.Config{})
//	defer c.Close()
//	pods, err := wasmpod.LoadFile("pod.yaml", wasmpod.LoadOptions{})
//	err = c.Apply(ctx, pods[0])
//	pod, err := c.Wait(ctx, "default", pods[0].Name)
//
// Contracts:
//   - A Cluster is safe for concurrent use. It holds no global state; Close
//     kills every pod it runs and releases the engine.
//   - Apply resolves the pod's images before it returns (building go://
//     images, with progress on Config.Progress), so a bad image is an error
//     of Apply, not a pod stuck in ImagePullBackOff.
//   - Delete terminates gracefully (TERM, then kill at the grace period)
//     and returns at once; Wait returns when the pod is terminal.
package wasmpod

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"github.com/wasmpod/wasmpod/api"
	"github.com/wasmpod/wasmpod/images"
	"github.com/wasmpod/wasmpod/logs"
	"github.com/wasmpod/wasmpod/pods"
	"github.com/wasmpod/wasmpod/runtime"
	"github.com/wasmpod/wasmpod/runtime/wazero"
)

// Errors, checked with errors.Is.
var (
	ErrNotFound      = errors.New("not found")
	ErrAlreadyExists = errors.New("already exists")
)

// Config configures a Cluster. The zero value is usable.
type Config struct {
	// DataDir holds pod state (logs, emptyDir volumes). When empty a
	// temporary directory is used and removed by Close.
	DataDir string
	// CacheDir holds built images and compiled modules; defaults to
	// $XDG_CACHE_HOME/wasmpod (~/.cache/wasmpod).
	CacheDir string
	// NodeName names the local node; defaults to the host name.
	NodeName string
	// AllowHostPath permits hostPath volumes (off by default).
	AllowHostPath bool
	// Clock is the source of time; the real clock when nil.
	Clock clock.WithTicker
	// Engine overrides the runtime (default: wazero with CacheDir).
	Engine runtime.Engine
	// Progress receives progress lines of long work (image builds).
	Progress io.Writer

	// OnStatus, OnEvent and OnLog observe the pods (see pods.Config).
	OnStatus func(pod *corev1.Pod)
	OnEvent  func(pod *corev1.Pod, eventType, reason, message string)
	OnLog    func(pod *corev1.Pod, container string, stream logs.Stream, line string)
}

// Cluster runs pods on the local node.
type Cluster struct {
	cfg      Config
	podCfg   *pods.Config
	images   *memoResolver
	ownsData bool
	ownsEng  bool

	mu      sync.Mutex
	workers map[string]*pods.Worker // "ns/name"
	order   []string
	nextIP  netip.Addr
	cancel  context.CancelFunc
	ctx     context.Context
	wg      sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// DefaultCacheDir is where images and compiled modules are cached.
func DefaultCacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "wasmpod")
	}
	return filepath.Join(os.TempDir(), "wasmpod-cache")
}

// New starts a Cluster.
func New(ctx context.Context, cfg Config) (*Cluster, error) {
	c := &Cluster{cfg: cfg, workers: map[string]*pods.Worker{}, nextIP: netip.MustParseAddr("10.244.0.1")}
	if cfg.CacheDir == "" {
		cfg.CacheDir = DefaultCacheDir()
	}
	if cfg.DataDir == "" {
		d, err := os.MkdirTemp("", "wasmpod-")
		if err != nil {
			return nil, err
		}
		cfg.DataDir, c.ownsData = d, true
	}
	if cfg.NodeName == "" {
		h, _ := os.Hostname()
		cfg.NodeName = nodeName(h)
	}
	if cfg.Engine == nil {
		eng, err := wazero.New(ctx, wazero.Config{CacheDir: filepath.Join(cfg.CacheDir, "compiled")})
		if err != nil {
			return nil, err
		}
		cfg.Engine, c.ownsEng = eng, true
	}
	c.cfg = cfg
	c.images = &memoResolver{r: &images.Resolver{CacheDir: filepath.Join(cfg.CacheDir, "images"), Progress: cfg.Progress}, m: map[[2]string]*images.Image{}}
	c.podCfg = &pods.Config{
		Engine:        cfg.Engine,
		Images:        c.images,
		Clock:         cfg.Clock,
		RootDir:       filepath.Join(cfg.DataDir, "pods"),
		NodeName:      cfg.NodeName,
		HostIP:        "127.0.0.1",
		AllowHostPath: cfg.AllowHostPath,
		OnStatus:      cfg.OnStatus,
		OnEvent:       cfg.OnEvent,
		OnLog:         cfg.OnLog,
	}
	c.ctx, c.cancel = context.WithCancel(context.WithoutCancel(ctx))
	return c, nil
}

// LoadOptions controls LoadFile.
type LoadOptions struct {
	AllowHostPath bool
}

// LoadFile decodes, defaults and validates the Pods of a manifest file
// ("-" reads standard input); relative images resolve against its directory.
func LoadFile(path string, opts LoadOptions) ([]*corev1.Pod, error) {
	var docs []api.Document
	var err error
	base := filepath.Dir(path)
	if path == "-" {
		docs, err = api.DecodeReader(os.Stdin, "<stdin>")
		base = "."
	} else {
		docs, err = api.DecodeFile(path)
	}
	if err != nil {
		return nil, err
	}
	return loadDocs(docs, base, opts)
}

// LoadBytes is LoadFile over bytes; baseDir anchors relative images.
func LoadBytes(data []byte, source, baseDir string, opts LoadOptions) ([]*corev1.Pod, error) {
	docs, err := api.Decode(data, source)
	if err != nil {
		return nil, err
	}
	return loadDocs(docs, baseDir, opts)
}

func loadDocs(docs []api.Document, base string, opts LoadOptions) ([]*corev1.Pod, error) {
	ps, err := api.LoadPods(docs, api.Options{AllowHostPath: opts.AllowHostPath}, "wasmpod run")
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(base)
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		if _, ok := p.Annotations[pods.AnnotationManifestDir]; !ok {
			p.Annotations[pods.AnnotationManifestDir] = abs
		}
	}
	return ps, nil
}

func key(ns, name string) string { return ns + "/" + name }

// Apply starts a pod. The pod must have been loaded (defaulted and valid).
func (c *Cluster) Apply(ctx context.Context, pod *corev1.Pod) error {
	pod = pod.DeepCopy()
	if pod.Namespace == "" {
		pod.Namespace = metav1.NamespaceDefault
	}
	if pod.Name == "" && pod.GenerateName != "" {
		pod.Name = pod.GenerateName + uuid.NewString()[:5]
	}
	// Resolve every image first, so bad images fail here.
	base := pod.Annotations[pods.AnnotationManifestDir]
	for _, ctr := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		img, err := c.images.Resolve(ctx, ctr.Image, base)
		if err != nil {
			return fmt.Errorf("pod/%s: container %q: %w", pod.Name, ctr.Name, err)
		}
		if _, err := c.cfg.Engine.Compile(ctx, img.Digest, img.Bytes); err != nil {
			return fmt.Errorf("pod/%s: container %q: image %q: %w", pod.Name, ctr.Name, ctr.Image, err)
		}
	}
	c.mu.Lock()
	k := key(pod.Namespace, pod.Name)
	if _, ok := c.workers[k]; ok {
		c.mu.Unlock()
		return fmt.Errorf("pods %q %w", pod.Name, ErrAlreadyExists)
	}
	pod.UID = types.UID(uuid.NewString())
	pod.CreationTimestamp = metav1.NewTime(c.now())
	pod.Status = corev1.PodStatus{Phase: corev1.PodPending, PodIP: c.nextIP.String(), PodIPs: []corev1.PodIP{{IP: c.nextIP.String()}}}
	c.nextIP = c.nextIP.Next()
	w := pods.NewWorker(c.podCfg, pod)
	c.workers[k] = w
	c.order = append(c.order, k)
	c.mu.Unlock()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		w.Run(c.ctx)
	}()
	return nil
}

func (c *Cluster) now() time.Time {
	if c.cfg.Clock != nil {
		return c.cfg.Clock.Now()
	}
	return time.Now()
}

func (c *Cluster) worker(ns, name string) (*pods.Worker, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	w, ok := c.workers[key(ns, name)]
	if !ok {
		return nil, fmt.Errorf("pods %q %w", name, ErrNotFound)
	}
	return w, nil
}

// Get returns the pod with its current status.
func (c *Cluster) Get(ns, name string) (*corev1.Pod, error) {
	w, err := c.worker(ns, name)
	if err != nil {
		return nil, err
	}
	return w.Pod(), nil
}

// List returns every pod, in the order they were applied.
func (c *Cluster) List() []*corev1.Pod {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*corev1.Pod, 0, len(c.order))
	for _, k := range c.order {
		out = append(out, c.workers[k].Pod())
	}
	return out
}

// Wait blocks until the pod is terminal (or ctx ends) and returns it.
func (c *Cluster) Wait(ctx context.Context, ns, name string) (*corev1.Pod, error) {
	w, err := c.worker(ns, name)
	if err != nil {
		return nil, err
	}
	select {
	case <-w.Done():
		return w.Pod(), nil
	case <-ctx.Done():
		return w.Pod(), ctx.Err()
	}
}

// Delete terminates the pod gracefully. grace < 0 uses the pod's
// terminationGracePeriodSeconds.
func (c *Cluster) Delete(ns, name string, grace time.Duration) error {
	w, err := c.worker(ns, name)
	if err != nil {
		return err
	}
	w.Terminate(grace)
	return nil
}

// LogPath returns a container instance's CRI log file.
func (c *Cluster) LogPath(ns, name, container string, restart int32) (string, error) {
	w, err := c.worker(ns, name)
	if err != nil {
		return "", err
	}
	return w.LogPath(container, restart), nil
}

// Close kills every pod, waits for them and releases what New made.
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() { c.closeErr = c.close() })
	return c.closeErr
}

func (c *Cluster) close() error {
	c.cancel()
	c.wg.Wait()
	var err error
	if c.ownsEng {
		err = c.cfg.Engine.Close(context.Background())
	}
	if c.ownsData {
		err = errors.Join(err, os.RemoveAll(c.cfg.DataDir))
	}
	return err
}

// ExitCode summarises terminal pods as `wasmpod run` does: 0 when every pod
// Succeeded, else the exit code of the first failed container (init
// containers first, in pod order), else 1.
func ExitCode(ps []*corev1.Pod) int {
	all := true
	for _, p := range ps {
		if p.Status.Phase != corev1.PodSucceeded {
			all = false
		}
	}
	if all {
		return 0
	}
	for _, p := range ps {
		if p.Status.Phase == corev1.PodSucceeded {
			continue
		}
		for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
			t := cs.State.Terminated
			if t == nil {
				t = cs.LastTerminationState.Terminated
			}
			if t != nil && t.ExitCode != 0 {
				return int(t.ExitCode)
			}
		}
	}
	return 1
}

// memoResolver remembers resolved images for the Cluster's lifetime, so a
// pod's worker does not rebuild or re-hash what Apply resolved.
type memoResolver struct {
	r  *images.Resolver
	mu sync.Mutex
	m  map[[2]string]*images.Image
}

func (m *memoResolver) Resolve(ctx context.Context, ref, base string) (*images.Image, error) {
	k := [2]string{ref, base}
	m.mu.Lock()
	img := m.m[k]
	m.mu.Unlock()
	if img != nil {
		return img, nil
	}
	img, err := m.r.Resolve(ctx, ref, base)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.m[k] = img
	m.mu.Unlock()
	return img, nil
}

// nodeName turns a host name into a valid node name (a DNS-1123 subdomain).
func nodeName(host string) string {
	b := []byte(strings.ToLower(host))
	for i, ch := range b {
		if !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '.') {
			b[i] = '-'
		}
	}
	n := strings.Trim(string(b), "-.")
	if n == "" {
		return "localhost"
	}
	return n
}
