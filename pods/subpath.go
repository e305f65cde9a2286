package pods

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	corev1 "k8s.io/api/core/v1"

	"github.com/wasmpod/wasmpod/runtime"
)

// openVolumePath opens what a volumeMount mounts: the volume's directory
// itself, or its subPath resolved beneath it, a directory (root) or a
// regular file (file, a single-file mount: runtime.Mount.File).
//
// The subPath is resolved as the kubelet's safe subpath does
// (pkg/volume/util/subpath): component by component within the volume, a
// symlink being followed only while it stays inside the volume (os.Root's
// confined resolution: openat per component, never a host path walk), and
// missing directories are created the same way. A subPath that leads
// outside the volume, through ".." or a symlink planted by a guest, is
// refused. What is returned is what was checked: the runtime mounts this
// handle (runtime.Mount.Root or File), it does not resolve the path again,
// so a file's name replaced later (by a symlink, a rename, a ConfigMap
// update) changes nothing: upstream likewise resolves the subPath at
// start and bind-mounts the file it found, so ConfigMap subPath mounts
// receive no updates.
//
// The caller closes the returned root or file.
func openVolumePath(volDir, subPath string) (root *os.Root, file *os.File, err error) {
	vr, err := os.OpenRoot(volDir)
	if fi, serr := os.Stat(volDir); err != nil && subPath == "" && serr == nil && fi.Mode().IsRegular() {
		// A hostPath volume naming a file: mounted alone.
		f, err := os.OpenFile(volDir, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
		if err != nil {
			return nil, nil, err
		}
		if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
			f.Close()
			return nil, nil, fmt.Errorf("%s is not a regular file", volDir)
		}
		return nil, f, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if subPath == "" {
		return vr, nil, nil
	}
	defer vr.Close()
	if err := checkSubPath(subPath); err != nil {
		return nil, nil, err
	}
	if !filepath.IsLocal(subPath) {
		return nil, nil, fmt.Errorf("subPath %q must be a relative path inside the volume", subPath)
	}
	// An existing file is mounted as itself. O_NONBLOCK: a FIFO planted
	// there must not block the worker (it is refused below).
	f, err := vr.OpenFile(subPath, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	switch {
	case err == nil:
		fi, err := f.Stat()
		switch {
		case err != nil:
			f.Close()
			return nil, nil, subPathError(subPath, err)
		case fi.Mode().IsRegular():
			return nil, f, nil
		case !fi.IsDir():
			f.Close()
			return nil, nil, fmt.Errorf("subPath %q is neither a directory nor a regular file (%v)", subPath, fi.Mode().Type())
		}
		f.Close() // a directory: opened as a root below
	case !errors.Is(err, fs.ErrNotExist):
		return nil, nil, subPathError(subPath, err)
	}
	if err := vr.MkdirAll(subPath, 0o777); err != nil {
		return nil, nil, subPathError(subPath, err)
	}
	sr, err := vr.OpenRoot(subPath)
	if err != nil {
		return nil, nil, subPathError(subPath, err)
	}
	return sr, nil, nil
}

// checkHostPath checks a hostPath volume's type as the kubelet's
// hostPath plugin does before mounting it (checkType), making the
// directory or the empty file of the ...OrCreate types. A directory is
// mounted as a directory, a file (File, FileOrCreate, or no type on a
// file) alone, as a single-file mount (openVolumePath); sockets, char and
// block devices cannot be mounted into a WASM module.
func checkHostPath(v *corev1.Volume) error {
	p := v.HostPath.Path
	t := corev1.HostPathUnset
	if v.HostPath.Type != nil {
		t = *v.HostPath.Type
	}
	switch t {
	case corev1.HostPathDirectoryOrCreate:
		if err := os.MkdirAll(p, 0o755); err != nil {
			return fmt.Errorf("volume %q: %w", v.Name, err)
		}
		return nil
	case corev1.HostPathFileOrCreate:
		f, err := os.OpenFile(p, os.O_CREATE|os.O_RDONLY|syscall.O_NONBLOCK, 0o644)
		if err != nil {
			return fmt.Errorf("volume %q: %w", v.Name, err)
		}
		f.Close()
		t = corev1.HostPathFile
	}
	fi, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("volume %q: hostPath: %w", v.Name, err)
	}
	switch {
	case t == corev1.HostPathDirectory && !fi.IsDir():
		return fmt.Errorf("volume %q: hostPath type check failed: %s is not a directory", v.Name, p)
	case t == corev1.HostPathFile && !fi.Mode().IsRegular():
		return fmt.Errorf("volume %q: hostPath type check failed: %s is not a file", v.Name, p)
	case t != corev1.HostPathUnset && t != corev1.HostPathDirectory && t != corev1.HostPathFile:
		return fmt.Errorf("volume %q: hostPath type %q is not supported (a WASM module mounts directories and regular files only)", v.Name, t)
	case !fi.IsDir() && !fi.Mode().IsRegular():
		return fmt.Errorf("volume %q: hostPath %s is neither a directory nor a regular file", v.Name, p)
	}
	return nil
}

// checkSubPath is the kubelet's check of a subPath before it is resolved
// (makeMounts), with its messages: not absolute, no ".." component. (The
// API refuses both for subPath; a subPathExpr's value is known only here.)
func checkSubPath(p string) error {
	switch {
	case path.IsAbs(p):
		return fmt.Errorf("error SubPath `%s` must not be an absolute path", p)
	case slices.Contains(strings.Split(p, "/"), ".."):
		return fmt.Errorf("unable to provision SubPath `%s`: must not contain '..'", p)
	case strings.IndexByte(p, 0) >= 0:
		return fmt.Errorf("unable to provision SubPath %q: must not contain NUL", p)
	}
	return nil
}

// rootfsMount gives a container without a volume at "/" its root file
// system there (rootfs.go): the writable layer of its instance, read-only
// with readOnlyRootFilesystem, where the WASI layer also makes the mount
// points of single-file mounts (subPath files, the termination-message
// file) as a container runtime makes them in the image's file system
// (e.g. /dev/termination-log, /etc/nginx/nginx.conf).
func (w *Worker) rootfsMount(c *ctr, cfg *runtime.ContainerConfig) error {
	for _, m := range cfg.Mounts {
		if m.File == nil && !m.FileByPath && path.IsAbs(m.GuestPath) && path.Clean(m.GuestPath) == "/" {
			return nil
		}
	}
	m, err := w.rootfsMountOf(c) // rootfs.go
	if err != nil {
		return err
	}
	cfg.Mounts = append(cfg.Mounts, m)
	return nil
}

// subPathError explains why a subPath cannot be mounted.
func subPathError(subPath string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	switch {
	case strings.Contains(err.Error(), "escapes"):
		// os.Root's error for a path that leaves the root.
		return fmt.Errorf("subPath %q leads outside the volume (through a symlink or \"..\")", subPath)
	case errors.Is(err, syscall.ENOTDIR), errors.Is(err, fs.ErrExist):
		return fmt.Errorf("subPath %q: not a directory", subPath)
	case errors.Is(err, syscall.ELOOP):
		return fmt.Errorf("subPath %q: too many levels of symbolic links", subPath)
	}
	return fmt.Errorf("subPath %q: %v", subPath, err)
}

// Pinned subPath mounts. The kubelet resolves a subPath once per container
// start and bind-mounts what it found; an exec (or exec probe or hook)
// enters that container's mounts, so it sees the same file or directory
// even if the volume changed since. The worker keeps, per running
// container, the subPath mounts its instance started with (pinMounts) and
// containerConfig hands copies of them to every exec of that instance
// (pinnedMount); a new instance resolves again (unpinMounts first).

// pinMounts keeps handles on the subPath mounts of the instance of
// container name that just started.
func (w *Worker) pinMounts(c *ctr, ms []runtime.Mount) {
	name := c.spec.Name
	subPaths := map[string]bool{}
	for _, vm := range c.spec.VolumeMounts {
		if vm.SubPath != "" || vm.SubPathExpr != "" {
			subPaths[vm.MountPath] = true
		}
	}
	var pinned []runtime.Mount
	for _, m := range ms {
		if !subPaths[m.GuestPath] {
			continue
		}
		if d, err := dupMount(m); err == nil {
			pinned = append(pinned, d)
		}
	}
	w.mu.Lock()
	old := w.pinned[name]
	if w.pinned == nil {
		w.pinned = map[string][]runtime.Mount{}
	}
	w.pinned[name] = pinned
	w.mu.Unlock()
	closeMounts(old)
}

// unpinMounts drops the pinned mounts of container name (its instance
// ended, or a new one is about to start).
func (w *Worker) unpinMounts(name string) {
	w.mu.Lock()
	old := w.pinned[name]
	delete(w.pinned, name)
	w.mu.Unlock()
	closeMounts(old)
}

// pinnedMount is a copy (its own handles, for the caller to close) of the
// running instance's mount at guestPath, false if there is none.
func (w *Worker) pinnedMount(name, guestPath string) (runtime.Mount, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, m := range w.pinned[name] {
		if m.GuestPath == guestPath {
			d, err := dupMount(m)
			return d, err == nil
		}
	}
	return runtime.Mount{}, false
}

// dupMount is m with handles of its own on the same directory or file.
func dupMount(m runtime.Mount) (runtime.Mount, error) {
	if m.Root != nil {
		r, err := m.Root.OpenRoot(".")
		if err != nil {
			return m, err
		}
		m.Root = r
	}
	if m.File != nil {
		f, err := dupFile(m.File)
		if err != nil {
			return m, err
		}
		m.File = f
	}
	return m, nil
}
