package pods

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/wasmpod/wasmpod/runtime"
	"github.com/wasmpod/wasmpod/runtime/wasi"
)

// A container's writable root file system.
//
// An image-based container has a writable layer over its image: every
// instance starts with a fresh one, what it writes there (/tmp/health) is
// lost when a new instance replaces it, an exec (or exec probe or hook)
// into the container sees that same layer, and it counts against the
// container's limits.ephemeral-storage (the kubelet evicts the pod when
// the layer holds more: "Container NAME exceeded its local ephemeral
// storage limit"). A WASM module has no image files, so the layer is an
// almost empty directory, <pod>/rootfs/<container>, mounted at "/": it
// holds the directories an image usually has (rootfsSkeleton) and the
// guest's writes. securityContext.readOnlyRootFilesystem mounts it
// read-only. Volumes, subPath and termination-message mounts sit on top of
// it as before, and the WASI layer confines the guest to it (symlinks
// resolve inside it, ".." stops at it, links and renames to another mount
// fail with EXDEV, a mount point cannot be renamed or removed).
//
// freshRootfs makes a new layer for each instance (the previous
// instance's is removed then: until its replacement starts, an exited
// container's layer stays, as an exited container upstream keeps its
// layer until it is removed); the pod directory's removal takes the last
// ones. With an ephemeral-storage limit the layer has a hard quota of
// twice the limit (a guest cannot fill the node's disk between two
// checks), and watchRootfs measures every VolumeCheckInterval and evicts
// the pod when a layer holds more than its container's limit. The node's
// disk accounting (PodDisk, the pod directory's usage) counts the layers.

// rootfsSkeleton are the directories of a fresh layer, with their modes
// (/tmp and /var/tmp sticky and world-writable, as in an image).
var rootfsSkeleton = []struct {
	name string
	mode fs.FileMode
}{
	{"dev", 0o755},
	{"etc", 0o755},
	{"tmp", 0o777 | fs.ModeSticky},
	{"var", 0o755},
	{"var/tmp", 0o777 | fs.ModeSticky},
}

// rootfsBaseline is what a fresh layer measures before the guest writes
// anything (the skeleton and a termination-message mount point), which
// does not count against the container's limit.
var rootfsBaseline = int64(len(rootfsSkeleton)+1) * wasi.InodeCost

// rootfsLayer is a container's current layer.
type rootfsLayer struct {
	dir   string
	quota *runtime.VolumeQuota // nil without an ephemeral-storage limit
}

// rootfsDir is the host directory of container name's layer.
func (w *Worker) rootfsDir(name string) string {
	return filepath.Join(w.podDir, "rootfs", name)
}

// readOnlyRoot is whether c's securityContext asks for a read-only "/".
func readOnlyRoot(c *corev1.Container) bool {
	sc := c.SecurityContext
	return sc != nil && sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem
}

// ephemeralLimit is c's limits.ephemeral-storage, false when it has none.
func ephemeralLimit(c *corev1.Container) (resource.Quantity, bool) {
	q, ok := c.Resources.Limits[corev1.ResourceEphemeralStorage]
	return q, ok
}

// freshRootfs replaces container c's layer by a new one, for the
// instance about to start.
func (w *Worker) freshRootfs(c *ctr) error {
	name := c.spec.Name
	dir := w.rootfsDir(name)
	w.mu.Lock()
	delete(w.rootfs, name)
	w.mu.Unlock()
	// removeTree unlinks symlinks the guest made without following them.
	if may, err := w.mayExist("rootfs", name); err != nil {
		return err
	} else if may {
		if err := removeTree(dir); err != nil {
			return fmt.Errorf("removing the previous root file system of container %q: %w", name, err)
		}
	}
	_, err := w.rootfsLayer(c)
	return err
}

// rootfsLayer is container c's current layer, made (with its skeleton
// and working directory) when there is none yet.
func (w *Worker) rootfsLayer(c *ctr) (*rootfsLayer, error) {
	name := c.spec.Name
	w.mu.Lock()
	defer w.mu.Unlock()
	if l := w.rootfs[name]; l != nil {
		return l, nil
	}
	dir, err := w.podSubdir("rootfs", name) // podfs.go
	if err != nil {
		return nil, err
	}
	w.madeEntry("rootfs", name)
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	for _, d := range rootfsSkeleton {
		made := true
		if err := root.Mkdir(d.name, 0o755); errors.Is(err, fs.ErrExist) {
			made = false // left by an earlier agent: its mode is set again
		} else if err != nil {
			return nil, err
		}
		if !made || needsChmod(d.mode) { // past the umask; sticky
			if err := root.Chmod(d.name, d.mode); err != nil {
				return nil, err
			}
		}
	}
	// A runtime makes a missing working directory in the container's
	// root file system (runc does, read-only root or not).
	if wd := c.spec.WorkingDir; path.IsAbs(wd) && path.Clean(wd) != "/" {
		if err := root.MkdirAll(path.Clean(wd)[1:], 0o755); err != nil {
			return nil, fmt.Errorf("making the working directory %q of container %q: %w", wd, name, err)
		}
	}
	l := &rootfsLayer{dir: dir}
	if lim, ok := ephemeralLimit(c.spec); ok && !readOnlyRoot(c.spec) {
		pod := w.state.pod
		q, err := runtime.NewVolumeQuota(fmt.Sprintf("pod %s/%s container %q root file system", pod.Namespace, pod.Name, name),
			2*lim.Value()+rootfsBaseline, dir)
		if err != nil {
			return nil, err
		}
		l.quota = q
	}
	if w.rootfs == nil {
		w.rootfs = map[string]*rootfsLayer{}
	}
	w.rootfs[name] = l
	return l, nil
}

// rootfsOverLimit measures the layers of the containers that have an
// ephemeral-storage limit and returns the kubelet's eviction message for
// the first one over it ("" if none is).
func (w *Worker) rootfsOverLimit() string {
	for _, c := range w.rootfsLimited() {
		lim, _ := ephemeralLimit(c)
		used, err := runtime.MeasureVolume(w.rootfsDir(c.Name))
		if err != nil || used-rootfsBaseline <= lim.Value() {
			continue
		}
		return fmt.Sprintf("Container %s exceeded its local ephemeral storage limit %q. ", c.Name, lim.String())
	}
	return ""
}

// rootfsLimited are the pod's containers with an ephemeral-storage limit
// and a writable root.
func (w *Worker) rootfsLimited() []*corev1.Container {
	var out []*corev1.Container
	spec := &w.state.pod.Spec
	for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range cs {
			if _, ok := ephemeralLimit(&cs[i]); ok && !readOnlyRoot(&cs[i]) {
				out = append(out, &cs[i])
			}
		}
	}
	return out
}

// watchRootfs measures the limited layers every VolumeCheckInterval (on
// the worker's clock) and evicts the pod when one is over its limit. It
// returns a func that stops it; nil when no container has a limit.
func (w *Worker) watchRootfs() func() {
	if len(w.rootfsLimited()) == 0 {
		return nil
	}
	return w.evictWhenOver(w.rootfsOverLimit)
}

// rootfsMountOf is the mount of container c's layer at "/" (its quota
// shared by the instance and its execs).
func (w *Worker) rootfsMountOf(c *ctr) (runtime.Mount, error) {
	l, err := w.rootfsLayer(c)
	if err != nil {
		return runtime.Mount{}, err
	}
	root, err := os.OpenRoot(l.dir)
	if err != nil {
		return runtime.Mount{}, err
	}
	return runtime.Mount{HostPath: l.dir, GuestPath: "/", ReadOnly: readOnlyRoot(c.spec), Root: root, Quota: l.quota}, nil
}
