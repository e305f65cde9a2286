package wasmpod_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// TestImagePullFailureEvents: a pull that fails (the loopback registry
// answers 401 for a private repository without credentials, 404 for a
// missing one) gives the kubelet's events through the real API server: on
// the failed pull a Warning Failed "Failed to pull image ...: ..." and a
// Warning Failed "Error: ErrImagePull", then, while the pull backs off, a
// Normal BackOff "Back-off pulling image \"REF\"" and a Warning Failed
// "Error: ImagePullBackOff"; the real kubectl describe shows them.
func TestImagePullFailureEvents(t *testing.T) {
	e := newOCIEnv(t)
	ctx := context.Background()
	cs := e.c.Client()
	cases := []struct{ pod, ref, cause string }{
		{"pull-401", e.host + "/private/app:v1", "401 Unauthorized"},
		{"pull-404", e.host + "/public/missing:v1", "/public/missing:v1: not found"},
	}
	for _, tc := range cases {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: tc.pod, Namespace: "default"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: tc.ref}}}}
		if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range cases {
		e.wait(t, tc.pod, "ImagePullBackOff", waitingFor("ImagePullBackOff"))
		want := []struct{ typ, reason, msg string }{
			{corev1.EventTypeWarning, "Failed", fmt.Sprintf("Failed to pull image %q: ", tc.ref)},
			{corev1.EventTypeWarning, "Failed", "Error: ErrImagePull"},
			{corev1.EventTypeNormal, "BackOff", fmt.Sprintf("Back-off pulling image %q", tc.ref)},
			{corev1.EventTypeWarning, "Failed", "Error: ImagePullBackOff"},
		}
		var evs []corev1.Event
		found := func() bool {
			l, err := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{
				FieldSelector: fields.OneTermEqualSelector("involvedObject.name", tc.pod).String()})
			if err != nil {
				t.Fatal(err)
			}
			evs = l.Items
			for _, w := range want {
				ok := false
				for _, ev := range evs {
					exact := !strings.HasSuffix(w.msg, ": ")
					if ev.Type == w.typ && ev.Reason == w.reason && (ev.Message == w.msg || !exact && strings.HasPrefix(ev.Message, w.msg) && strings.Contains(ev.Message, tc.cause)) &&
						ev.Source.Component == "kubelet" {
						ok = true
					}
				}
				if !ok {
					return false
				}
			}
			return true
		}
		deadline := time.Now().Add(30 * time.Second)
		for !found() {
			if time.Now().After(deadline) {
				var got []string
				for _, ev := range evs {
					got = append(got, fmt.Sprintf("%s %s %q (%s)", ev.Type, ev.Reason, ev.Message, ev.InvolvedObject.FieldPath))
				}
				t.Fatalf("%s: events\n%s\nwant %+v", tc.pod, strings.Join(got, "\n"), want)
			}
			time.Sleep(200 * time.Millisecond)
		}
		out := e.describe(t, tc.pod)
		for _, line := range []string{fmt.Sprintf("Back-off pulling image %q", tc.ref), "Error: ImagePullBackOff", "Error: ErrImagePull"} {
			if !strings.Contains(out, line) {
				t.Errorf("kubectl describe pod %s lacks %s:\n%s", tc.pod, line, out)
			}
		}
	}
}
