package pods

import (
	"crypto/sha256"
	"encoding/hex"

	corev1 "k8s.io/api/core/v1"
)

// maxNameLen is NAME_MAX, the longest file name the common file systems
// (ext4, xfs, btrfs, tmpfs, APFS, NTFS) allow.
const maxNameLen = 255

// PodDirName is the name of a pod's state directory under Config.RootDir:
// "<namespace>_<name>_<uid>" as the kubelet names pod log directories, when
// that fits in NAME_MAX. A longer one (a valid pod name has up to 253
// characters) keeps the namespace and the UID and shortens the name to a
// prefix followed by "-" and 12 hex digits of a hash of the full
// "<namespace>_<name>_<uid>", so the name is stable per pod and fits. The
// name always ends in "_<uid>".
func PodDirName(pod *corev1.Pod) string {
	full := pod.Namespace + "_" + pod.Name + "_" + string(pod.UID)
	if len(full) <= maxNameLen {
		return full
	}
	sum := sha256.Sum256([]byte(full))
	hash := hex.EncodeToString(sum[:6])
	keep := maxNameLen - len(pod.Namespace) - len(pod.UID) - len(hash) - 3
	name := pod.Name
	if keep < 0 {
		keep = 0 // not a valid pod (namespace or UID too long): hash only
	}
	if len(name) > keep {
		name = name[:keep]
	}
	out := pod.Namespace + "_" + name + "-" + hash + "_" + string(pod.UID)
	if len(out) > maxNameLen {
		return hex.EncodeToString(sum[:]) // still too long: the hash alone
	}
	return out
}
