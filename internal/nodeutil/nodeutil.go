// Package nodeutil holds what a node needs both in the serve process
// (wasmpod.Cluster's in-process nodes) and in a node agent process
// (nodeagent): the data and cache directories, the engines beside the
// default one, the memoizing image resolver and the service proxy. It
// imports no part of the control plane, so that the node agent's binary
// (cmd/wasmpod-agent) links none.
package nodeutil

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/klog/v2"

	"github.com/wasmpod/wasmpod/images"
	"github.com/wasmpod/wasmpod/internal/kube/informers"
	"github.com/wasmpod/wasmpod/internal/kubeutil"
	"github.com/wasmpod/wasmpod/network"
	wruntime "github.com/wasmpod/wasmpod/runtime"
	"github.com/wasmpod/wasmpod/runtime/wasi/wasisock"
	"github.com/wasmpod/wasmpod/runtime/wasmtime"
)

// DefaultCacheDir is where images and compiled modules are cached.
func DefaultCacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "wasmpod")
	}
	return filepath.Join(os.TempDir(), "wasmpod-cache")
}

// PrepareDataDir creates dir (mode 0700) or makes a pre-existing one
// private: it holds the store, pod logs and volumes, which other local
// users must not read. A directory owned by another user is refused rather
// than taken over; one of ours that is group- or world-accessible is
// chmod'ed to 0700 (the files inside are then out of other users' reach
// whatever their own modes).
func PrepareDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data dir %s: %w", dir, err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data dir %s: %w", dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("data dir %s: not a directory", dir)
	}
	if uid, ok := fileOwner(st); ok && uid != os.Geteuid() {
		return fmt.Errorf("data dir %s is owned by uid %d, not by this user (uid %d): refusing to use it; choose a directory of your own (--data-dir)", dir, uid, os.Geteuid())
	}
	if st.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("data dir %s is accessible to other users (mode %04o) and cannot be made private: %w", dir, st.Mode().Perm(), err)
		}
	}
	return nil
}

// Engines returns the node's runtime handlers beside the default engine
// def when engines is nil: "wasmtime" over cacheDir/compiled when the
// build has it (-tags wasmtime, CGO_ENABLED=1), else none. closeFn closes
// the engines made here (nil when none were).
func Engines(ctx context.Context, def wruntime.Engine, engines map[string]wruntime.Engine, cacheDir string) (_ map[string]wruntime.Engine, closeFn func(), _ error) {
	if engines != nil || !wasmtime.Built || (def != nil && def.Name() == "wasmtime") {
		return engines, nil, nil
	}
	eng, err := wasmtime.New(ctx, wasmtime.Config{
		CacheDir:   filepath.Join(cacheDir, "compiled"),
		Extensions: wasisock.Functions(),
		HostFDs:    HostFDsOf(def),
	})
	if err != nil {
		return nil, nil, err
	}
	return map[string]wruntime.Engine{"wasmtime": eng}, func() { _ = eng.Close(context.Background()) }, nil
}

// HostFDsOf is an engine's budget of host fds for guests, nil if it has
// none; engines of one node share it.
func HostFDsOf(e wruntime.Engine) *wruntime.Budget {
	if hf, ok := e.(interface{ HostFDs() *wruntime.Budget }); ok {
		return hf.HostFDs()
	}
	return nil
}

// NewMemoResolver is r with its resolved images remembered (MemoResolver).
func NewMemoResolver(r *images.Resolver) *MemoResolver {
	return &MemoResolver{r: r, m: map[[2]string]*images.Image{}}
}

// MemoResolver remembers resolved images, so that pods of an unchanged
// image do not re-hash go:// sources on every start; a remembered image is
// revalidated by stat (images.Resolver.Current) and resolved again (rebuilt
// only if its sources' hash changed) when its files may have changed.
type MemoResolver struct {
	r  *images.Resolver
	mu sync.Mutex
	m  map[[2]string]*images.Image
}

func (m *MemoResolver) Resolve(ctx context.Context, ref, base string) (*images.Image, error) {
	k := [2]string{ref, base}
	m.mu.Lock()
	img := m.m[k]
	m.mu.Unlock()
	if img != nil && m.r.Current(img) {
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

// StartServiceProxy keeps the network's Service table in step with the
// Services and their EndpointSlices (kube-proxy's job): connections to a
// ClusterIP:port (or a NodePort) reach the Service's ready endpoints. Its
// informers come from f (the control plane's shared factory in process;
// the agent's own in a node agent process). It starts f and returns when
// its caches have synced.
func StartServiceProxy(ctx context.Context, f informers.SharedInformerFactory, n *network.Network) error {
	svcInf := f.Core().V1().Services()
	sliceInf := f.Discovery().V1().EndpointSlices()
	sync := func(ns, name string) {
		svc, err := svcInf.Lister().Services(ns).Get(name)
		if err != nil {
			n.DeleteService(ns, name)
			return
		}
		slices, _ := sliceInf.Lister().EndpointSlices(ns).List(labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: name}))
		if err := n.SetService(proxyService(svc, slices)); err != nil {
			klog.Errorf("service %s/%s: %v", ns, name, err)
		}
	}
	svcInf.Informer().AddEventHandler(kubeutil.OnEvery(func(s *corev1.Service) { sync(s.Namespace, s.Name) }))
	sliceInf.Informer().AddEventHandler(kubeutil.OnEvery(func(s *discoveryv1.EndpointSlice) {
		if name := s.Labels[discoveryv1.LabelServiceName]; name != "" {
			sync(s.Namespace, name)
		}
	}))
	f.Start(ctx.Done())
	syncCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for typ, ok := range f.WaitForCacheSync(syncCtx.Done()) {
		if !ok {
			return fmt.Errorf("service proxy: informer for %v did not sync", typ)
		}
	}
	return nil
}

// proxyService translates a Service and its EndpointSlices for the network:
// each service port gets the ready endpoints of the slice port of the same
// name.
func proxyService(svc *corev1.Service, slices []*discoveryv1.EndpointSlice) network.Service {
	out := network.Service{Namespace: svc.Namespace, Name: svc.Name}
	if ip, err := netip.ParseAddr(svc.Spec.ClusterIP); err == nil {
		out.ClusterIP = ip
	}
	for _, sp := range svc.Spec.Ports {
		p := network.ServicePort{Name: sp.Name, Protocol: string(sp.Protocol), Port: int(sp.Port), NodePort: int(sp.NodePort)}
		for _, sl := range slices {
			for _, port := range sl.Ports {
				if port.Port == nil || ptrString(port.Name) != sp.Name {
					continue
				}
				for _, ep := range sl.Endpoints {
					if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
						continue
					}
					for _, a := range ep.Addresses {
						if ip, err := netip.ParseAddr(a); err == nil {
							p.Endpoints = append(p.Endpoints, netip.AddrPortFrom(ip, uint16(*port.Port)))
						}
					}
				}
			}
		}
		out.Ports = append(out.Ports, p)
	}
	// hostname.subdomain records (network.Service.Hostnames), from the
	// ready endpoints of every slice, with ports or none.
	for _, sl := range slices {
		for _, ep := range sl.Endpoints {
			if ep.Hostname == nil || *ep.Hostname == "" || len(ep.Addresses) == 0 || (ep.Conditions.Ready != nil && !*ep.Conditions.Ready) {
				continue
			}
			if ip, err := netip.ParseAddr(ep.Addresses[0]); err == nil {
				if out.Hostnames == nil {
					out.Hostnames = map[string]netip.Addr{}
				}
				out.Hostnames[*ep.Hostname] = ip
			}
		}
	}
	return out
}

func ptrString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
