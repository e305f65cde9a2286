package apiserver

// streamlimit.go: a bound on a pod's concurrent streaming sessions (exec,
// attach and port-forward connections together). Each exec is a running
// instance held by the server: one client opening 300 concurrent execs of
// a pod without limits grew the server's heap by 854 MiB (3,300
// goroutines). Upstream bounds them only by the container's cgroup; here
// the server and every pod share one process, so past the bound a session
// is refused before the upgrade with 429 TooManyRequests naming it.

import (
	"fmt"
	"net/http"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// maxPodStreamSessions is how many exec, attach and port-forward sessions
// one pod may have open at once (a variable so that tests can lower it).
var maxPodStreamSessions = 100

type podStreamKey struct {
	s        *Server
	ns, name string
}

var (
	podStreamsMu sync.Mutex
	podStreams   = map[podStreamKey]int{}
)

// acquirePodStream counts a streaming session of the pod ns/name; when the
// pod has maxPodStreamSessions already, it answers w with 429 and returns
// false. Otherwise the caller must call the returned release when done.
func (h *httpHandler) acquirePodStream(w http.ResponseWriter, ns, name, what string) (func(), bool) {
	k := podStreamKey{h.s, ns, name}
	podStreamsMu.Lock()
	if podStreams[k] >= maxPodStreamSessions {
		podStreamsMu.Unlock()
		writeError(w, apierrors.NewTooManyRequests(fmt.Sprintf("%s: too many concurrent exec, attach and port-forward sessions on pod %s/%s (at most %d)", what, ns, name, maxPodStreamSessions), 1))
		return nil, false
	}
	podStreams[k]++
	podStreamsMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			podStreamsMu.Lock()
			if podStreams[k]--; podStreams[k] <= 0 {
				delete(podStreams, k)
			}
			podStreamsMu.Unlock()
		})
	}, true
}
