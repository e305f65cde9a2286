package wasmpod_test

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestHostile12SPDYExecWithUnreadStdinEndsWithItsClient: F8 over SPDY
// (kubectl with KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false, as kubectls
// before 1.30 and client-go's SPDY executor): an exec -i whose
// command never reads its stdin, sent more stdin than the buffers hold
// (the server's reader then blocks in the stdin write), ends when its
// client goes away (kubectl killed): its instance does not keep running,
// holding the container's memory. Observed through the container's memory limit: a
// 64 MiB container, an exec holding 40 MiB; once its kubectl is killed,
// another 40 MiB exec must fit within a few seconds.
func TestHostile12SPDYExecWithUnreadStdinEndsWithItsClient(t *testing.T) {
	e := newH12Env(t)
	startH12Pod(t, e, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "leak3"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: e.guestImage,
			Command: []string{"h12"}, Args: []string{"hold"},
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}}}}}})
	for _, mode := range [][]string{{"exec", "-i"}} {
		var out lockedBuf
		cmd := e.kubectl(t, append(mode, "leak3", "--", "h12", "memgrow:40", "hold")...)
		cmd.Env = append(cmd.Env, "KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false")
		cmd.Stdout, cmd.Stderr = &out, &out
		stdin, _ := cmd.StdinPipe()
		defer stdin.Close()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the first exec holds 40 MiB", time.Minute, func() bool { return strings.Contains(out.String(), "memgrow ok 40") })
		// The guest never reads its stdin: fill every buffer on the way.
		go func() {
			b := make([]byte, 64<<10)
			for i := 0; i < 64; i++ {
				if _, err := stdin.Write(b); err != nil {
					return
				}
			}
		}()
		time.Sleep(2 * time.Second)
		cmd.Process.Kill()
		cmd.Wait()
		var last string
		ok := false
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
			o, errOut, code := e.run(t, "", "exec", "leak3", "--", "h12", "memgrow:40")
			if code == 0 && strings.Contains(o, "memgrow ok 40") {
				ok = true
				break
			}
			last = errOut
		}
		if !ok {
			t.Errorf("%v: 15 s after its kubectl was killed, the exec still holds the container's memory: another 40 MiB exec fails: %.300q", mode, last)
		}
	}
}
