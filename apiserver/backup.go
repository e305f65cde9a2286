package apiserver

import (
	"net/http"
	"strconv"

	"github.com/wasmpod/wasmpod/store"
)

// BackupPath serves, on GET, a consistent snapshot of the store (for
// `wasmpod backup`): with a bbolt store, the bbolt file as of one read
// transaction, which does not stop writers. It answers 501 for a store that
// cannot snapshot itself (the memory store; the etcd store, saying how it
// is backed up instead).
//
// Only the admin reaches it: it is served behind the same authentication
// as every API path (the Unix socket's file permissions, the bearer token
// on TCP), and a snapshot holds every object, Secrets included.
const BackupPath = "/wasmpod/backup"

// Headers of a backup response, besides Content-Length (the snapshot's size).
const (
	// BackupRevisionHeader is the store revision the snapshot holds.
	BackupRevisionHeader = "X-Wasmpod-Store-Revision"
)

func (h *httpHandler) serveBackup(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet {
		writeError(w, methodNotAllowed(req.Method))
		return
	}
	sn, ok := h.s.store.(store.Snapshotter)
	if !ok {
		msg := "this server's store cannot be backed up (it is not persistent): back up a server that runs with a bbolt store"
		if r, ok := h.s.store.(store.SnapshotRefuser); ok {
			msg = r.SnapshotRefusal()
		}
		writeError(w, statusErr(http.StatusNotImplemented, "NotImplemented", msg))
		return
	}
	started := false
	err := sn.Snapshot(req.Context(), w, func(size, rev int64) {
		started = true
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		w.Header().Set(BackupRevisionHeader, strconv.FormatInt(rev, 10))
		w.WriteHeader(http.StatusOK)
	})
	if err != nil && !started {
		writeError(w, err)
	}
	// After the header, a failed copy shows as a short body, which the
	// client detects against Content-Length.
}
