package wasmpod_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestDaemonSetRolloutWasmpod: wasmpod rollout status|history|undo|pause|
// resume|restart on DaemonSets print what the real kubectl v1.37 prints,
// byte for byte (stdout, stderr, exit code), on the same cluster: kubectl's
// DaemonSetStatusViewer, DaemonSetHistoryViewer over the ControllerRevisions,
// DaemonSetRollbacker and restart; and wasmpod's own undo and restart
// really roll the pods.
func TestDaemonSetRolloutWasmpod(t *testing.T) {
	t.Parallel()
	e := newDSEnv(t)
	cs := e.c.Client()
	ctx := context.Background()
	wp := e.wasmpod
	rolledOut := func(name string) {
		t.Helper()
		out, errOut, code := wp("rollout", "status", "ds/"+name, "--timeout=120s")
		if code != 0 || !strings.HasSuffix(out, `daemon set "`+name+`" successfully rolled out`+"\n") {
			t.Fatalf("wasmpod rollout status ds/%s: exit %d\n%s%s", name, code, out, errOut)
		}
	}
	command := func(name string) string {
		t.Helper()
		ds, err := cs.AppsV1().DaemonSets("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(ds.Spec.Template.Spec.Containers[0].Command, " ")
	}

	if out, errOut, code := e.run(t, dsManifest("wr", ""), "apply", "-f", "-"); code != 0 {
		t.Fatalf("apply: %d %s%s", code, out, errOut)
	}
	rolledOut("wr")
	e.same(t, "rollout", "status", "ds/wr")
	e.same(t, "rollout", "status", "daemonset", "wr", "--watch=false")
	if out := e.same(t, "rollout", "history", "ds/wr"); !regexp.MustCompile(`^daemonset.apps/wr \nREVISION\s+CHANGE-CAUSE\n1\s+<none>\n\n$`).MatchString(out) {
		t.Errorf("history: %q", out)
	}
	e.must(t, "patch", "ds", "wr", "--type=json", "-p", `[{"op":"replace","path":"/spec/template/spec/containers/0/command","value":["sh","-c","sleep 3601"]}]`)
	e.must(t, "annotate", "controllerrevisions", "-l", "daemonset-name=wr", "kubernetes.io/change-cause=by hand", "--overwrite")
	rolledOut("wr")
	e.same(t, "rollout", "history", "ds/wr")
	if out := e.same(t, "rollout", "history", "daemonsets.apps/wr", "--revision=1"); !strings.Contains(out, "daemonset.apps/wr with revision #1\nPod Template:\n") ||
		!strings.Contains(out, "sleep 3600") {
		t.Errorf("history --revision=1:\n%s", out)
	}
	e.same(t, "rollout", "history", "ds", "wr", "--revision=2")
	e.same(t, "rollout", "history", "ds/wr", "--revision=9")
	e.same(t, "rollout", "undo", "ds/wr", "--to-revision=9")
	if out := e.same(t, "rollout", "undo", "ds/wr", "--to-revision=2"); out != "daemonset.apps/wr skipped rollback (current template already matches revision 2)\n" {
		t.Errorf("undo to the current revision: %q", out)
	}
	e.same(t, "rollout", "pause", "ds/wr")
	e.same(t, "rollout", "resume", "ds/wr")
	e.same(t, "rollout", "history", "ds/missing")
	e.same(t, "rollout", "undo", "ds/missing")
	e.same(t, "rollout", "status", "ds/missing")

	// wasmpod's undo rolls back to revision 1's template (it comes back as
	// revision 3), with kubectl apply's warning.
	out, errOut, code := wp("rollout", "undo", "ds/wr")
	if code != 0 || out != "daemonset.apps/wr rolled back\n" || !strings.HasPrefix(errOut, "Warning: resource daemonsets/wr was previously managed with 'kubectl apply'.") {
		t.Fatalf("wasmpod rollout undo: %d %q %q", code, out, errOut)
	}
	rolledOut("wr")
	if c := command("wr"); c != "sh -c sleep 3600" {
		t.Fatalf("after undo the command is %q", c)
	}
	waitDSPods(t, e, "default", "wr", allReady(fiveNodes...))
	before := map[string]string{}
	for n, ps := range dsPods(t, e, "default", "wr") {
		before[n] = ps[0].Name
	}
	if out, errOut, code := wp("rollout", "restart", "ds/wr"); code != 0 || out != "daemonset.apps/wr restarted\n" {
		t.Fatalf("wasmpod rollout restart: %d %q %q", code, out, errOut)
	}
	rolledOut("wr")
	for n, ps := range waitDSPods(t, e, "default", "wr", allReady(fiveNodes...)) {
		if before[n] == ps[0].Name {
			t.Errorf("%s: pod %s not restarted", n, ps[0].Name)
		}
	}
	// Revision 3 is revision 1's ControllerRevision again (annotated by
	// hand with revision 2's), the restart is 4.
	if out := e.same(t, "rollout", "history", "ds/wr"); !regexp.MustCompile(`REVISION\s+CHANGE-CAUSE\n2\s+by hand\n3\s+by hand\n4\s+<none>\n`).MatchString(out) {
		t.Errorf("history after undo and restart:\n%s", out)
	}
	e.same(t, "rollout", "status", "ds/wr")

	// OnDelete: no rollout status, as kubectl.
	if out, errOut, code := e.run(t, dsManifest("od", "  updateStrategy: {type: OnDelete}\n"), "apply", "-f", "-"); code != 0 {
		t.Fatalf("apply: %d %s%s", code, out, errOut)
	}
	e.same(t, "rollout", "status", "ds/od")
	if _, errOut, code := wp("rollout", "status", "ds/od"); code != 1 || errOut != "error: rollout status is only available for RollingUpdate strategy type\n" {
		t.Errorf("status of an OnDelete daemon set: %d %q", code, errOut)
	}
}
