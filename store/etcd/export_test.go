package etcd

// ProgressRevision is the highest etcd revision of a progress notification
// that a watcher of s received.
func ProgressRevision(s *Store) int64 { return s.progress.Load() }

// EtcdRevision is the etcd revision of the store's revision rev.
func EtcdRevision(s *Store, rev int64) int64 { return rev + s.off }
