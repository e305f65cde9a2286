package wasmpod_test

// The Deployment controller with the ReplicaSet controller, real pods
// (the toolbox as busybox running `sh -c 'sleep 3600'`) and the real
// kubectl with default flags. Upstream behaviours
// (test/e2e/apps/deployment.go): "RollingUpdateDeployment should delete
// old pods and create new ones", "RecreateDeployment should delete old
// pods and create new ones", "test Deployment ReplicaSet orphaning and
// adoption regarding controllerRef", and the kubernetes.io example
// controllers/nginx-deployment.yaml through kubectl apply, rollout
// status|history|undo|pause|resume|restart. The controller's other
// behaviours (rollover, proportional scaling, old replica set cleanup,
// iterative rollouts, progress deadline) are in controllers/deployment
// on the fake clock.

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/wasmpod/wasmpod/cli"
)

// nginxDeployment is kubernetes.io's controllers/nginx-deployment.yaml
// with the image replaced by busybox running a sleep.
const nginxDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: nginx-deployment
  labels:
    app: nginx
spec:
  replicas: 3
  selector:
    matchLabels:
      app: nginx
  template:
    metadata:
      labels:
        app: nginx
    spec:
      containers:
      - name: nginx
        image: busybox
        command: ["sh", "-c", "sleep 3600"]
        ports:
        - containerPort: 80
`

// deployRSs lists the ReplicaSets a Deployment controls, by revision.
func deployRSs(t *testing.T, e *streamEnv, name string) map[string]appsv1.ReplicaSet {
	t.Helper()
	l, err := e.c.Client().AppsV1().ReplicaSets("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]appsv1.ReplicaSet{}
	for _, rs := range l.Items {
		if ref := metav1.GetControllerOf(&rs); ref != nil && ref.Name == name {
			out[rs.Annotations["deployment.kubernetes.io/revision"]] = rs
		}
	}
	return out
}

// livePods are the pods of the selector not being deleted, by their
// pod-template-hash.
func livePods(t *testing.T, e *streamEnv, sel string) map[string][]corev1.Pod {
	t.Helper()
	l, err := e.c.Client().CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]corev1.Pod{}
	for _, p := range l.Items {
		if p.DeletionTimestamp == nil {
			out[p.Labels["pod-template-hash"]] = append(out[p.Labels["pod-template-hash"]], p)
		}
	}
	return out
}

// rolledOut runs kubectl rollout status to its end.
func rolledOut(t *testing.T, e *streamEnv, name string) {
	t.Helper()
	out, errOut, code := e.run(t, "", "rollout", "status", "deployment/"+name, "--timeout=300s")
	if code != 0 || !strings.Contains(out, `deployment "`+name+`" successfully rolled out`) {
		dump, _, _ := e.run(t, "", "get", "deploy,rs,pods", "-o", "wide")
		yaml, _, _ := e.run(t, "", "get", "deploy,rs", "-o", "yaml")
		t.Fatalf("kubectl rollout status: exit %d\n%s%s\n%s\n%s", code, out, errOut, dump, yaml)
	}
}

// onlyRevision checks the Deployment's end state: exactly replicas live
// pods, all of the ReplicaSet of revision rev and Running, every other
// ReplicaSet at 0.
func onlyRevision(t *testing.T, e *streamEnv, name, sel, rev string, replicas int) appsv1.ReplicaSet {
	t.Helper()
	var cur appsv1.ReplicaSet
	waitFor(t, "only revision "+rev+" has pods", 90*time.Second, func() bool {
		rss := deployRSs(t, e, name)
		var ok bool
		if cur, ok = rss[rev]; !ok {
			return false
		}
		for r, rs := range rss {
			if r != rev && (*rs.Spec.Replicas != 0 || rs.Status.Replicas != 0) {
				return false
			}
		}
		pods := livePods(t, e, sel)
		hash := cur.Labels["pod-template-hash"]
		if len(pods) != 1 || len(pods[hash]) != replicas {
			return false
		}
		for _, p := range pods[hash] {
			if p.Status.Phase != corev1.PodRunning {
				return false
			}
		}
		return true
	})
	return cur
}

// TestDeploymentKubectl: the nginx-deployment example through kubectl
// apply reaches 3 available replicas; "RollingUpdateDeployment should
// delete old pods and create new ones" by kubectl set image; then
// kubectl rollout history, undo (the client-side rollback patch), pause,
// resume and restart, each with kubectl's output.
func TestDeploymentKubectl(t *testing.T) {
	t.Parallel()
	e := newToolboxEnv(t)
	cs := e.c.Client()
	ctx := context.Background()
	if out, errOut, code := e.run(t, nginxDeployment, "apply", "-f", "-"); code != 0 || !strings.Contains(out, "deployment.apps/nginx-deployment created") {
		t.Fatalf("apply: %d %s%s", code, out, errOut)
	}
	rolledOut(t, e, "nginx-deployment")
	rs1 := onlyRevision(t, e, "nginx-deployment", "app=nginx", "1", 3)
	d, err := cs.AppsV1().Deployments("default").Get(ctx, "nginx-deployment", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status.AvailableReplicas != 3 || d.Status.ReadyReplicas != 3 || d.Status.UpdatedReplicas != 3 || d.Annotations["deployment.kubernetes.io/revision"] != "1" {
		t.Fatalf("status %+v annotations %v", d.Status, d.Annotations)
	}
	if !regexp.MustCompile(`^nginx-deployment-[a-z0-9]{6,10}$`).MatchString(rs1.Name) || rs1.Name != "nginx-deployment-"+rs1.Labels["pod-template-hash"] {
		t.Fatalf("replica set name %q", rs1.Name)
	}
	// The events, as kubectl describe shows them.
	waitFor(t, "the ScalingReplicaSet event", 10*time.Second, func() bool {
		out := e.must(t, "describe", "deployment", "nginx-deployment")
		return strings.Contains(out, "Scaled up replica set "+rs1.Name+" from 0 to 3")
	})

	// A new image rolls out; the old pods go.
	if out := e.must(t, "set", "image", "deployment/nginx-deployment", "nginx=busybox:1.36"); !strings.Contains(out, "deployment.apps/nginx-deployment image updated") {
		t.Fatalf("set image: %q", out)
	}
	rolledOut(t, e, "nginx-deployment")
	rs2 := onlyRevision(t, e, "nginx-deployment", "app=nginx", "2", 3)

	out := e.must(t, "rollout", "history", "deployment/nginx-deployment")
	if !regexp.MustCompile(`(?s)^deployment.apps/nginx-deployment \nREVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>\n`).MatchString(out) {
		t.Fatalf("rollout history:\n%q", out)
	}
	if out := e.must(t, "rollout", "history", "deployment/nginx-deployment", "--revision=1"); !strings.Contains(out, "Image:\tbusybox\n") && !regexp.MustCompile(`Image:\s+busybox\n`).MatchString(out) {
		t.Fatalf("rollout history --revision=1:\n%s", out)
	}

	// Undo: back to the first template; its ReplicaSet is revision 3
	// and remembers revision 1.
	if out := e.must(t, "rollout", "undo", "deployment/nginx-deployment"); strings.TrimSpace(out) != "deployment.apps/nginx-deployment rolled back" {
		t.Fatalf("rollout undo: %q", out)
	}
	rolledOut(t, e, "nginx-deployment")
	rs3 := onlyRevision(t, e, "nginx-deployment", "app=nginx", "3", 3)
	if rs3.UID != rs1.UID || rs3.Annotations["deployment.kubernetes.io/revision-history"] != "1" {
		t.Fatalf("undo made %s (uid %s, annotations %v), want %s again", rs3.Name, rs3.UID, rs3.Annotations, rs1.Name)
	}
	if _, ok := deployRSs(t, e, "nginx-deployment")["2"]; !ok {
		t.Fatalf("revision 2 (%s) gone", rs2.Name)
	}

	// Pause: a template change does not roll; resume rolls it.
	if out := e.must(t, "rollout", "pause", "deployment/nginx-deployment"); strings.TrimSpace(out) != "deployment.apps/nginx-deployment paused" {
		t.Fatalf("rollout pause: %q", out)
	}
	e.must(t, "set", "env", "deployment/nginx-deployment", "STEP=paused")
	time.Sleep(time.Second)
	if rss := deployRSs(t, e, "nginx-deployment"); len(rss) != 2 {
		t.Fatalf("a paused deployment rolled: %d replica sets", len(rss))
	}
	if out, _, code := e.run(t, "", "rollout", "undo", "deployment/nginx-deployment"); code == 0 {
		t.Fatalf("rollout undo of a paused deployment succeeded: %q", out)
	}
	if out := e.must(t, "rollout", "resume", "deployment/nginx-deployment"); strings.TrimSpace(out) != "deployment.apps/nginx-deployment resumed" {
		t.Fatalf("rollout resume: %q", out)
	}
	rolledOut(t, e, "nginx-deployment")
	onlyRevision(t, e, "nginx-deployment", "app=nginx", "4", 3)

	// Restart: a new ReplicaSet whose template has restartedAt.
	if out := e.must(t, "rollout", "restart", "deployment/nginx-deployment"); strings.TrimSpace(out) != "deployment.apps/nginx-deployment restarted" {
		t.Fatalf("rollout restart: %q", out)
	}
	rolledOut(t, e, "nginx-deployment")
	rs5 := onlyRevision(t, e, "nginx-deployment", "app=nginx", "5", 3)
	if rs5.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] == "" {
		t.Fatalf("restarted template annotations %v", rs5.Spec.Template.Annotations)
	}
	d, _ = cs.AppsV1().Deployments("default").Get(ctx, "nginx-deployment", metav1.GetOptions{})
	if c := deployCondition(d, appsv1.DeploymentProgressing); c == nil || c.Reason != "NewReplicaSetAvailable" || c.Message != `ReplicaSet "`+rs5.Name+`" has successfully progressed.` {
		t.Fatalf("Progressing %+v", c)
	}
	if c := deployCondition(d, appsv1.DeploymentAvailable); c == nil || c.Status != corev1.ConditionTrue || c.Reason != "MinimumReplicasAvailable" {
		t.Fatalf("Available %+v", c)
	}

	// wasmpod rollout prints what kubectl rollout prints.
	wp := e.wasmpod
	e.same(t, "rollout", "status", "deployment/nginx-deployment")
	e.same(t, "rollout", "history", "deployment/nginx-deployment")
	e.same(t, "rollout", "history", "deployment", "nginx-deployment", "--revision=2")
	e.same(t, "rollout", "history", "deployment/nginx-deployment", "--revision=9")
	e.same(t, "rollout", "undo", "deployment/nginx-deployment", "--to-revision=5")
	e.same(t, "rollout", "undo", "deployment/nginx-deployment", "--to-revision=9")
	if out, errOut, code := wp("rollout", "pause", "deployment/nginx-deployment"); code != 0 || out != "deployment.apps/nginx-deployment paused\n" {
		t.Fatalf("wasmpod rollout pause: %d %q %q", code, out, errOut)
	}
	e.same(t, "rollout", "pause", "deployment/nginx-deployment")
	e.same(t, "rollout", "undo", "deployment/nginx-deployment")
	e.same(t, "rollout", "restart", "deployment/nginx-deployment")
	if out, errOut, code := wp("rollout", "resume", "deployment/nginx-deployment"); code != 0 || out != "deployment.apps/nginx-deployment resumed\n" {
		t.Fatalf("wasmpod rollout resume: %d %q %q", code, out, errOut)
	}
	e.same(t, "rollout", "resume", "deployment/nginx-deployment")
	if out, errOut, code := wp("rollout", "undo", "deployment/nginx-deployment", "--to-revision=2"); code != 0 || out != "deployment.apps/nginx-deployment rolled back\n" {
		t.Fatalf("wasmpod rollout undo: %d %q %q", code, out, errOut)
	}
	if out, errOut, code := wp("rollout", "status", "deployment/nginx-deployment", "--timeout=120s"); code != 0 || !strings.HasSuffix(out, "deployment \"nginx-deployment\" successfully rolled out\n") {
		t.Fatalf("wasmpod rollout status: %d %q %q", code, out, errOut)
	}
	rs6 := onlyRevision(t, e, "nginx-deployment", "app=nginx", "6", 3)
	if rs6.UID != rs2.UID {
		t.Fatalf("wasmpod rollout undo --to-revision=2 rolled to %s, want %s", rs6.Name, rs2.Name)
	}
	if out, errOut, code := wp("rollout", "restart", "deployment/nginx-deployment"); code != 0 || out != "deployment.apps/nginx-deployment restarted\n" {
		t.Fatalf("wasmpod rollout restart: %d %q %q", code, out, errOut)
	}
	if out, errOut, code := wp("rollout", "status", "deployment/nginx-deployment", "--timeout=120s"); code != 0 || !strings.HasSuffix(out, "deployment \"nginx-deployment\" successfully rolled out\n") {
		t.Fatalf("wasmpod rollout status: %d %q %q", code, out, errOut)
	}
	onlyRevision(t, e, "nginx-deployment", "app=nginx", "7", 3)

	// kubectl scale (the scale subresource) and kubectl get's columns.
	if out := e.must(t, "scale", "deployment", "nginx-deployment", "--replicas=4"); !strings.Contains(out, "deployment.apps/nginx-deployment scaled") {
		t.Fatalf("kubectl scale: %q", out)
	}
	rolledOut(t, e, "nginx-deployment")
	onlyRevision(t, e, "nginx-deployment", "app=nginx", "7", 4)
	out = e.must(t, "get", "deployment", "nginx-deployment")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !regexp.MustCompile(`^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`^nginx-deployment\s+4/4\s+4\s+4\s+\d+[smhd]\S*$`).MatchString(lines[1]) {
		t.Fatalf("kubectl get deployment:\n%s", out)
	}
}

func deployCondition(d *appsv1.Deployment, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range d.Status.Conditions {
		if d.Status.Conditions[i].Type == t {
			return &d.Status.Conditions[i]
		}
	}
	return nil
}

const recreateDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: recreate
spec:
  replicas: 2
  strategy: {type: Recreate}
  selector:
    matchLabels: {app: recreate}
  template:
    metadata:
      labels: {app: recreate}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: c
        image: busybox
        command: ["sh", "-c", "sleep 3600"]
`

// TestDeploymentRecreate: "RecreateDeployment should delete old pods and
// create new ones": no pod of the new revision exists while a pod of the
// old one is not yet gone; then "test Deployment ReplicaSet orphaning and
// adoption regarding controllerRef": kubectl delete --cascade=orphan
// leaves the ReplicaSet without a controller, and a new Deployment of the
// same template adopts it (same UID) instead of making another.
func TestDeploymentRecreate(t *testing.T) {
	t.Parallel()
	e := newToolboxEnv(t)
	cs := e.c.Client()
	ctx := context.Background()
	e.run(t, recreateDeployment, "apply", "-f", "-")
	rolledOut(t, e, "recreate")
	rs1 := onlyRevision(t, e, "recreate", "app=recreate", "1", 2)
	oldHash := rs1.Labels["pod-template-hash"]

	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	w, err := cs.CoreV1().Pods("default").Watch(wctx, metav1.ListOptions{LabelSelector: "app=recreate"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	old := map[string]bool{}
	for _, p := range livePods(t, e, "app=recreate")[oldHash] {
		old[p.Name] = true
	}
	e.must(t, "set", "env", "deployment/recreate", "V=2")
	violation := make(chan string, 1)
	go func() {
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			if p.Labels["pod-template-hash"] == oldHash {
				if ev.Type == watch.Deleted {
					delete(old, p.Name)
				}
				continue
			}
			if len(old) > 0 {
				violation <- "pod " + p.Name + " of the new revision while old pods exist"
				return
			}
		}
	}()
	rolledOut(t, e, "recreate")
	onlyRevision(t, e, "recreate", "app=recreate", "2", 2)
	select {
	case v := <-violation:
		t.Fatal(v)
	default:
	}

	// Orphaning and adoption.
	rs2 := deployRSs(t, e, "recreate")["2"]
	e.must(t, "delete", "deployment", "recreate", "--cascade=orphan")
	waitFor(t, "the replica set orphaned", 30*time.Second, func() bool {
		rs, err := cs.AppsV1().ReplicaSets("default").Get(ctx, rs2.Name, metav1.GetOptions{})
		return err == nil && metav1.GetControllerOf(rs) == nil
	})
	e.run(t, strings.Replace(recreateDeployment, "- name: c\n", "- name: c\n        env: [{name: V, value: \"2\"}]\n", 1), "apply", "-f", "-")
	rolledOut(t, e, "recreate")
	rs, err := cs.AppsV1().ReplicaSets("default").Get(ctx, rs2.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := cs.AppsV1().Deployments("default").Get(ctx, "recreate", metav1.GetOptions{})
	if ref := metav1.GetControllerOf(rs); ref == nil || ref.UID != d.UID || rs.UID != rs2.UID {
		t.Fatalf("replica set %s not adopted: %+v", rs.Name, rs.OwnerReferences)
	}
	if n := len(deployRSs(t, e, "recreate")); n != 2 {
		t.Fatalf("%d replica sets after adoption, want the 2 orphans", n)
	}

	// progressDeadlineSeconds: a Deployment whose image does not exist
	// times out; kubectl rollout status (and wasmpod's) fail with
	// kubectl's message.
	bad := strings.NewReplacer("name: recreate", "name: stuck", "{app: recreate}", "{app: stuck}", "replicas: 2", "replicas: 1\n  progressDeadlineSeconds: 2",
		"image: busybox", "image: wasmpod.local/no-such-module:v1").Replace(recreateDeployment)
	e.run(t, bad, "apply", "-f", "-")
	waitFor(t, "ProgressDeadlineExceeded", 60*time.Second, func() bool {
		d, err := cs.AppsV1().Deployments("default").Get(ctx, "stuck", metav1.GetOptions{})
		c := deployCondition(d, appsv1.DeploymentProgressing)
		return err == nil && c != nil && c.Reason == "ProgressDeadlineExceeded" && c.Status == corev1.ConditionFalse
	})
	const want = "error: deployment \"stuck\" exceeded its progress deadline\n"
	if out, errOut, code := e.run(t, "", "rollout", "status", "deployment/stuck"); code != 1 || errOut != want {
		t.Errorf("kubectl rollout status of a stuck deployment: exit %d %q %q", code, out, errOut)
	}
	var wout, werr bytes.Buffer
	if code := cli.Main([]string{"wasmpod", "--kubeconfig", e.kc, "rollout", "status", "deployment/stuck"}, &wout, &werr); code != 1 || werr.String() != want {
		t.Errorf("wasmpod rollout status of a stuck deployment: exit %d %q %q", code, wout.String(), werr.String())
	}
	d, _ = cs.AppsV1().Deployments("default").Get(ctx, "stuck", metav1.GetOptions{})
	if c := deployCondition(d, appsv1.DeploymentAvailable); c == nil || c.Status != corev1.ConditionFalse || c.Reason != "MinimumReplicasUnavailable" {
		t.Errorf("Available of a stuck deployment: %+v", c)
	}
}
