package pods

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// openVolumePath opens the host directory a volumeMount mounts: the
// volume's directory itself, or its subPath resolved beneath it.
//
// The subPath is resolved as the kubelet's safe subpath does
// (pkg/volume/util/subpath): component by component within the volume, a
// symlink being followed only while it stays inside the volume (os.Root's
// confined resolution: openat per component, never a host path walk), and
// missing directories are created the same way. A subPath that leads
// outside the volume, through ".." or a symlink planted by a guest, is
// refused. The directory returned is the one checked: the runtime mounts
// this handle (runtime.Mount.Root), it does not resolve the path again.
//
// The caller closes the returned root.
func openVolumePath(volDir, subPath string) (*os.Root, error) {
	vr, err := os.OpenRoot(volDir)
	if err != nil {
		return nil, err
	}
	if subPath == "" {
		return vr, nil
	}
	defer vr.Close()
	if !filepath.IsLocal(subPath) {
		return nil, fmt.Errorf("subPath %q must be a relative path inside the volume", subPath)
	}
	if err := vr.MkdirAll(subPath, 0o777); err != nil {
		return nil, subPathError(subPath, err)
	}
	sr, err := vr.OpenRoot(subPath)
	if err != nil {
		return nil, subPathError(subPath, err)
	}
	return sr, nil
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
		return fmt.Errorf("subPath %q is not a directory (WASI mounts directories only)", subPath)
	case errors.Is(err, syscall.ELOOP):
		return fmt.Errorf("subPath %q: too many levels of symbolic links", subPath)
	}
	return fmt.Errorf("subPath %q: %v", subPath, err)
}
