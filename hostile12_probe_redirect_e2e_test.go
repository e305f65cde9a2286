package wasmpod_test

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestHostile12ProbeRedirectElsewhereWarns: an httpGet liveness probe
// answered by a redirect to another host is not followed (the node must
// not be led anywhere by a guest), counts as a success, and is reported as
// upstream's prober reports probe.Warning: a Warning event ProbeWarning
// "Liveness probe warning: Probe terminated redirects, Response body:
// BODY" (upstream e2e container_probe.go "should *not* be restarted with
// a non-local redirect http liveness probe"). The container is never
// restarted.
func TestHostile12ProbeRedirectElsewhereWarns(t *testing.T) {
	e := newH12Env(t)
	startH12Pod(t, e, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "redir"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: e.guestImage,
			Command: []string{"h12"}, Args: []string{"serve:8080=redirect=http://0.0.0.0/", "hold"},
			LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/redirect", Port: intstr.FromInt32(8080)}},
				InitialDelaySeconds: 2, PeriodSeconds: 1, FailureThreshold: 3}}}}})
	var evs string
	defer func() {
		if t.Failed() {
			t.Logf("events:\n%s", evs)
		}
	}()
	waitFor(t, "a ProbeWarning event", 20*time.Second, func() bool {
		evs, _, _ = e.run(t, "", "get", "events", "--field-selector", "involvedObject.name=redir", "-o", "custom-columns=TYPE:.type,REASON:.reason,MESSAGE:.message")
		return strings.Contains(evs, "ProbeWarning")
	})
	found := false
	for _, l := range strings.Split(evs, "\n") {
		f := strings.Fields(l)
		found = found || len(f) > 2 && f[0] == "Warning" && f[1] == "ProbeWarning" &&
			strings.Contains(l, `Liveness probe warning: Probe terminated redirects, Response body: <a href="http://0.0.0.0/">Found</a>.`)
	}
	if !found {
		t.Errorf("no upstream ProbeWarning event")
	}
	if out := e.must(t, "get", "pod", "redir", "-o", "jsonpath={.status.containerStatuses[0].restartCount}"); out != "0" {
		t.Errorf("restartCount %s", out)
	}
}
