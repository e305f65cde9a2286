package wasmpod_test

import (
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestHostile12ExecFloodSlowClient: a guest that prints without end to
// an exec client that never reads must be held back (the pipe's and the
// connection's buffers fill, its writes block), not buffered in the
// server's memory.
func TestHostile12ExecFloodSlowClient(t *testing.T) {
	e := newH12Env(t)
	startH12Pod(t, e, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "flood"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: e.guestImage,
			Command: []string{"h12"}, Args: []string{"hold"}}}}})
	kc, _ := os.ReadFile(e.kc)
	server := regexp.MustCompile(`server: (\S+)`).FindSubmatch(kc)[1]
	u := "ws" + strings.TrimPrefix(string(server), "http") + "/api/v1/namespaces/default/pods/flood/exec?command=h12&command=flood:0&stdout=1"
	h := watchHeap(t)
	d := websocket.Dialer{Subprotocols: []string{"v5.channel.k8s.io"}, ReadBufferSize: 4096}
	conn, resp, err := d.Dial(u, http.Header{})
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	defer conn.Close()
	// Never read. Watch the server's heap for 10 s.
	for i := 0; i < 20; i++ {
		time.Sleep(500 * time.Millisecond)
		h.sample()
	}
	if grew := h.grew(); grew > 64<<20 {
		t.Errorf("an exec printing to a client that never reads grew the server's heap by %d MiB in 10 s", grew>>20)
	}
}
