package pods

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// Pod directories (RootDir/<pod dir>/{logs,volumes}) are removed, as the
// kubelet removes orphaned pod directories:
//   - when a pod is deleted from the API, once its worker has finished;
//   - when the agent starts, those of pods that no longer exist (deleted
//     while no agent ran).
//
// A finished pod that still exists keeps its directory, so its logs stay
// readable. Removal never leaves RootDir and never follows a symlink: an
// entry of RootDir that is not a directory is left alone, and removeTree
// (removetree_unix.go) unlinks the symlinks it meets (a guest may have
// planted some in a volume) without following them.

// removePodDir removes the state directory of the pod w ran.
func (a *Agent) removePodDir(w *Worker) error {
	return removeUnderRoot(a.pcfg.RootDir, w.Dir())
}

// removeUnderRoot removes dir, which must be a directory directly under
// root (a symlink there is only unlinked).
func removeUnderRoot(root, dir string) error {
	if root == "" {
		return nil // no root: nothing of ours to clean
	}
	croot, cdir := filepath.Clean(root), filepath.Clean(dir)
	if filepath.Dir(cdir) != croot || filepath.Base(cdir) == "." || filepath.Base(cdir) == ".." {
		return fmt.Errorf("refusing to remove %s: not a pod directory of %s", dir, root)
	}
	return removeTree(cdir) // a file or symlink is unlinked; missing: nil
}

// cleanupOrphanedPodDirs removes the directories under RootDir of pods
// that are not in the API any more. When the pods cannot be listed
// nothing is removed.
func (a *Agent) cleanupOrphanedPodDirs(ctx context.Context) error {
	root := a.pcfg.RootDir
	if root == "" {
		return nil
	}
	ents, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(ents) == 0) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("listing pod directories in %s: %w", root, err)
	}
	list, err := a.client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("spec.nodeName", a.cfg.NodeName).String(),
	})
	if err != nil {
		return fmt.Errorf("listing the pods of node %s: %w", a.cfg.NodeName, err)
	}
	keep := map[string]bool{}
	for i := range list.Items {
		keep[PodDirName(&list.Items[i])] = true
	}
	var errs []error
	for _, e := range ents {
		if keep[e.Name()] || !e.IsDir() {
			continue
		}
		if err := removeUnderRoot(root, filepath.Join(root, e.Name())); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
