package cli

// Golden tests of describe and get for the workload kinds (issue 13 §9):
// real kubectl (v0.37.2, built by internal/testkubectl) and the wasmpod CLI
// read the same objects from the same API server and must print the same
// bytes (a clock tick between the two runs is retried, see same).

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// workloadTemplate is a pod template with what the describers print:
// labels, an annotation, a named port, a command, resources, a probe,
// env (a multi-line value and a fieldRef), envFrom, mounts (one with a
// subPath), volumes, a node selector and tolerations.
func workloadTemplate(lbl map[string]string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: lbl, Annotations: map[string]string{"team": "blue"}},
		Spec: corev1.PodSpec{
			ServiceAccountName: "runner",
			InitContainers:     []corev1.Container{{Name: "init", Image: "busybox", Command: []string{"sh", "-c", "true"}}},
			Containers: []corev1.Container{{
				Name: "main", Image: "hello.wasm", Command: []string{"sh", "-c"}, Args: []string{"echo a\necho b"},
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
				Resources: corev1.ResourceRequirements{
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromString("http")}},
					PeriodSeconds: 5},
				Env: []corev1.EnvVar{{Name: "GREETING", Value: "hi\nthere"},
					{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
					{Name: "KEY", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Key: "k"}}}},
				EnvFrom:      []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
				VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/z"}, {Name: "cfg", MountPath: "/etc/cfg", SubPath: "app.conf", ReadOnly: true}},
			}},
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
				{Name: "token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
					{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr.To[int64](3607)}},
					{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}}},
					{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Optional: ptr.To(true)}},
					{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "ns", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}}}}}}},
			NodeSelector: map[string]string{"zone": "a", "disk": "ssd"},
			Tolerations: []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "edge", Effect: corev1.TaintEffectNoSchedule},
				{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)}},
		},
	}
}

// seedWorkloads creates a deployment with a new and an old replica set
// (and a drained older one), pods of the new one in three phases, an orphan
// and a foreign pod the selector matches, a daemon set, an indexed job, a
// cron job and (when the server serves them) a pod disruption budget, with
// statuses and events.
func seedWorkloads(t *testing.T, e *env) {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	cs := e.cs
	d, err := cs.AppsV1().Deployments("default").Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"app": "web", "tier": "front"},
			Annotations: map[string]string{"deployment.kubernetes.io/revision": "2", corev1.LastAppliedConfigAnnotation: `{"kind":"Deployment"}`,
				"note": strings.Repeat("x", 150)}},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](3), MinReadySeconds: 5,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"},
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "env", Operator: metav1.LabelSelectorOpIn, Values: []string{"prod", "staging"}}}},
			Template: workloadTemplate(map[string]string{"app": "web", "env": "prod"})},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 4, UpdatedReplicas: 3, ReadyReplicas: 2, AvailableReplicas: 2, UnavailableReplicas: 2,
		Conditions: []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionFalse, Reason: "MinimumReplicasUnavailable", Message: "Deployment does not have minimum availability."},
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "ReplicaSetUpdated", Message: `ReplicaSet "web-7d9f" is progressing.`}}}
	if _, err := cs.AppsV1().Deployments("default").UpdateStatus(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	rsFor := func(name, hash string, replicas, current int32, tmpl corev1.PodTemplateSpec) *appsv1.ReplicaSet {
		tmpl.Labels = map[string]string{"app": "web", "env": "prod", appsv1.DefaultDeploymentUniqueLabelKey: hash}
		rs, err := cs.AppsV1().ReplicaSets("default").Create(ctx, &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: tmpl.Labels, Annotations: map[string]string{"deployment.kubernetes.io/revision": "1"},
				OwnerReferences: []metav1.OwnerReference{controllerRef("apps/v1", "Deployment", d.Name, d.UID)}},
			Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To(replicas), Selector: &metav1.LabelSelector{MatchLabels: tmpl.Labels}, Template: tmpl},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rs.Status = appsv1.ReplicaSetStatus{Replicas: current, FullyLabeledReplicas: current, ReadyReplicas: min(current, 1), AvailableReplicas: min(current, 1), ObservedGeneration: 1}
		if name == "web-old" {
			rs.Status.Conditions = []appsv1.ReplicaSetCondition{{Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue, Reason: "FailedCreate", Message: "quota"}}
		}
		rs, err = cs.AppsV1().ReplicaSets("default").UpdateStatus(ctx, rs, metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	oldTmpl := workloadTemplate(nil)
	oldTmpl.Spec.Containers[0].Image = "hello-v1.wasm"
	older := oldTmpl
	older.Spec.Containers = []corev1.Container{{Name: "main", Image: "hello-v0.wasm"}}
	rsFor("web-drained", "5c4b", 0, 0, older)
	rsFor("web-old", "6f8a", 1, 1, oldTmpl)
	newRS := rsFor("web-7d9f", "7d9f", 3, 3, workloadTemplate(nil))
	// An unrelated replica set of the same labels, not the deployment's.
	if _, err := cs.AppsV1().ReplicaSets("default").Create(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-stray"},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](2), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "env": "prod"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web", "env": "prod"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "a.wasm"}}}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := func(name string, owner []metav1.OwnerReference, lbl map[string]string, phase corev1.PodPhase) {
		p, err := cs.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbl, OwnerReferences: owner},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "hello.wasm"}}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p.Status.Phase = phase
		if _, err := cs.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	byNew := []metav1.OwnerReference{controllerRef("apps/v1", "ReplicaSet", newRS.Name, newRS.UID)}
	pod("web-7d9f-a", byNew, newRS.Spec.Template.Labels, corev1.PodRunning)
	pod("web-7d9f-b", byNew, newRS.Spec.Template.Labels, corev1.PodRunning)
	pod("web-7d9f-c", byNew, newRS.Spec.Template.Labels, corev1.PodPending)
	pod("web-7d9f-d", byNew, newRS.Spec.Template.Labels, corev1.PodFailed)
	pod("web-7d9f-orphan", nil, newRS.Spec.Template.Labels, corev1.PodRunning)

	ds, err := cs.AppsV1().DaemonSets("default").Create(ctx, &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Labels: map[string]string{"app": "agent"}},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "agent", Image: "agent.wasm"}}, NodeSelector: map[string]string{"role": "edge"},
					Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}}}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ds.Status = appsv1.DaemonSetStatus{DesiredNumberScheduled: 5, CurrentNumberScheduled: 4, NumberReady: 3, UpdatedNumberScheduled: 4, NumberAvailable: 3, NumberMisscheduled: 1}
	if ds, err = cs.AppsV1().DaemonSets("default").UpdateStatus(ctx, ds, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod("agent-x", []metav1.OwnerReference{controllerRef("apps/v1", "DaemonSet", ds.Name, ds.UID)}, map[string]string{"app": "agent"}, corev1.PodRunning)
	pod("agent-y", []metav1.OwnerReference{controllerRef("apps/v1", "DaemonSet", ds.Name, ds.UID)}, map[string]string{"app": "agent"}, corev1.PodSucceeded)

	cj, err := cs.BatchV1().CronJobs("default").Create(ctx, &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "tick", Labels: map[string]string{"app": "tick"}},
		Spec: batchv1.CronJobSpec{Schedule: "*/5 * * * *", TimeZone: ptr.To("Europe/Paris"), StartingDeadlineSeconds: ptr.To[int64](30),
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Parallelism: ptr.To[int32](2), ActiveDeadlineSeconds: ptr.To[int64](60),
				Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyOnFailure,
					Containers: []corev1.Container{{Name: "tick", Image: "busybox", Args: []string{"date"}}}}}}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	last := metav1.NewTime(now.Add(-3 * time.Minute).Truncate(time.Second))
	cj.Status = batchv1.CronJobStatus{LastScheduleTime: &last, Active: []corev1.ObjectReference{{Kind: "Job", Namespace: "default", Name: "tick-29000001"}, {Kind: "Job", Namespace: "default", Name: "tick-29000006"}}}
	if cj, err = cs.BatchV1().CronJobs("default").UpdateStatus(ctx, cj, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.BatchV1().CronJobs("default").Create(ctx, &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "bare"},
		Spec: batchv1.CronJobSpec{Schedule: "@hourly", Suspend: ptr.To(true), JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	job, err := cs.BatchV1().Jobs("default").Create(ctx, &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "tick-29000001", OwnerReferences: []metav1.OwnerReference{controllerRef("batch/v1", "CronJob", cj.Name, cj.UID)}},
		Spec: batchv1.JobSpec{Completions: ptr.To[int32](60), Parallelism: ptr.To[int32](3), CompletionMode: ptr.To(batchv1.IndexedCompletion),
			BackoffLimit: ptr.To[int32](2), TTLSecondsAfterFinished: ptr.To[int32](100), ActiveDeadlineSeconds: ptr.To[int64](600),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	start, done := metav1.NewTime(now.Add(-150*time.Second).Truncate(time.Second)), metav1.NewTime(now.Add(-10*time.Second).Truncate(time.Second))
	job.Status = batchv1.JobStatus{StartTime: &start, Active: 2, Ready: ptr.To[int32](1), Succeeded: 40, Failed: 1,
		CompletedIndexes: "0-3,5,7,9,11,13,15,17,19,21,23,25,27,29,31,33,35,37,39,41,43,45,47,49"}
	if job, err = cs.BatchV1().Jobs("default").UpdateStatus(ctx, job, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	_ = done
	job2, err := cs.BatchV1().Jobs("default").Create(ctx, &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "once"},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}}},
		metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	job2.Status = batchv1.JobStatus{StartTime: &start, CompletionTime: &done, Succeeded: 1,
		Conditions: []batchv1.JobCondition{{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue}, {Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}}
	if _, err = cs.BatchV1().Jobs("default").UpdateStatus(ctx, job2, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	if pdb, err := cs.PolicyV1().PodDisruptionBudgets("default").Create(ctx, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "web-pdb"},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr.To(intstr.FromString("50%")), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}},
		metav1.CreateOptions{}); err == nil {
		pdb.Status = policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: 1, CurrentHealthy: 3, DesiredHealthy: 2, ExpectedPods: 4, ObservedGeneration: pdb.Generation}
		if _, err := cs.PolicyV1().PodDisruptionBudgets("default").UpdateStatus(ctx, pdb, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := cs.PolicyV1().PodDisruptionBudgets("default").Create(ctx, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "agent-pdb"},
			Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: ptr.To(intstr.FromInt32(1))}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	} else {
		t.Logf("no pod disruption budgets: %v", err)
	}

	// Events, as the controllers record them (one repeated).
	for i, ev := range []struct {
		kind, apiVersion, name, reason, msg, from string
		uid                                       types.UID
		count                                     int32
	}{
		{"Deployment", "apps/v1", "web", "ScalingReplicaSet", "Scaled up replica set web-old from 0 to 3", "deployment-controller", d.UID, 1},
		{"Deployment", "apps/v1", "web", "ScalingReplicaSet", "Scaled up replica set web-7d9f from 0 to 1", "deployment-controller", d.UID, 1},
		{"ReplicaSet", "apps/v1", "web-7d9f", "SuccessfulCreate", "Created pod: web-7d9f-a", "replicaset-controller", newRS.UID, 3},
		{"DaemonSet", "apps/v1", "agent", "SuccessfulCreate", "Created pod: agent-x", "daemonset-controller", ds.UID, 1},
		{"Job", "batch/v1", "tick-29000001", "SuccessfulCreate", "Created pod: tick-29000001-0-abcde", "job-controller", job.UID, 1},
		{"CronJob", "batch/v1", "tick", "SuccessfulCreate", "Created job tick-29000001", "cronjob-controller", cj.UID, 1},
	} {
		at := metav1.NewTime(now.Add(time.Duration(i-90) * time.Second))
		first := at
		if ev.count > 1 {
			first = metav1.NewTime(at.Add(-time.Hour))
		}
		if _, err := cs.CoreV1().Events("default").Create(ctx, &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: ev.name + "." + string(rune('a'+i))},
			InvolvedObject: corev1.ObjectReference{Kind: ev.kind, Namespace: "default", Name: ev.name, UID: ev.uid, APIVersion: ev.apiVersion},
			Reason:         ev.reason, Message: ev.msg, Type: corev1.EventTypeNormal, FirstTimestamp: first, LastTimestamp: at, Count: ev.count,
			Source: corev1.EventSource{Component: ev.from}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

func controllerRef(apiVersion, kind, name string, uid types.UID) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, UID: uid, Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}
}

// TestGoldenDescribeWorkloads compares describe of each workload kind
// with real kubectl's describers (k8s.io/kubectl/pkg/describe), by name,
// by TYPE/NAME, as lists and by label selector, with and without events.
func TestGoldenDescribeWorkloads(t *testing.T) {
	g := newGoldenEnv(t)
	seedWorkloads(t, g.env)
	args := [][]string{
		{"describe", "deployment", "web"},
		{"describe", "deploy/web", "--show-events=false"},
		{"describe", "deployments"},
		{"describe", "replicaset", "web-7d9f"},
		{"describe", "rs", "web-old", "web-drained", "web-stray"},
		{"describe", "rs", "-l", "pod-template-hash in (6f8a,7d9f),app"},
		{"describe", "daemonset", "agent"},
		{"describe", "ds"},
		{"describe", "job", "tick-29000001"},
		{"describe", "jobs"},
		{"describe", "cronjob", "tick"},
		{"describe", "cj", "bare"},
		{"describe", "cronjobs", "-l", "app=tick"},
		{"describe", "deployment", "nope"},
		{"describe", "rs", "-l", "app=none"},
		{"describe", "rs", "-l", "app in (web"},
		{"describe", "deploy/web", "ds/agent", "cj/tick"},
		{"describe", "jobs", "--show-events=true"},
		{"describe", "rs", "web"}, // no such name: the replica sets whose names begin with it
		{"describe", "rs", "zzz"},
		{"describe", "rs", "web-7d9f", "nope"},
		{"describe", "deployments", "-A"},
	}
	if _, err := g.cs.PolicyV1().PodDisruptionBudgets("default").Get(context.Background(), "web-pdb", metav1.GetOptions{}); err == nil {
		args = append(args, []string{"describe", "pdb", "web-pdb"}, []string{"describe", "poddisruptionbudgets"})
	}
	for _, a := range args {
		g.same(true, a...)
	}
}

// TestGoldenGetWorkloads compares get's tables for the workload kinds
// (the server's Tables, upstream's printers columns) with real kubectl's,
// plain, -o wide, with labels, by set-based selectors and mixed.
func TestGoldenGetWorkloads(t *testing.T) {
	g := newGoldenEnv(t)
	seedWorkloads(t, g.env)
	args := [][]string{
		{"get", "deployments"}, {"get", "deploy", "-o", "wide"}, {"get", "deploy", "web", "--show-labels"},
		{"get", "replicasets"}, {"get", "rs", "-o", "wide"}, {"get", "rs", "-L", "pod-template-hash"},
		{"get", "daemonsets"}, {"get", "ds", "-o", "wide"},
		{"get", "jobs"}, {"get", "job", "-o", "wide"},
		{"get", "cronjobs"}, {"get", "cj", "-o", "wide"},
		{"get", "deploy,rs,ds,jobs,cj"}, {"get", "deploy,rs,ds,jobs,cj", "-A", "-o", "wide"},
		{"get", "rs", "-l", "pod-template-hash in (6f8a,7d9f),app,!canary"},
		{"get", "rs", "-l", "pod-template-hash notin (6f8a),app=web"},
		{"get", "rs", "-l", "!app"},
		{"get", "pods", "-l", "pod-template-hash in (7d9f),env!=dev", "-o", "name"},
		{"get", "deploy", "-l", "app in (web"},
		{"get", "rs", "-l", "a=b=c"},
		{"get", "rs", "-l", "app in (web", "-o", "name"},
		{"get", "rs", "-o", "name"},
		{"get", "deploy", "web", "-o", "jsonpath={.spec.strategy}"},
	}
	if _, err := g.cs.PolicyV1().PodDisruptionBudgets("default").Get(context.Background(), "web-pdb", metav1.GetOptions{}); err == nil {
		args = append(args, []string{"get", "pdb"}, []string{"get", "poddisruptionbudgets", "-o", "wide"})
	}
	for _, a := range args {
		g.same(true, a...)
	}
}

// TestGoldenGetWorkloadsWatch runs `get -w` of kubectl and of wasmpod side
// by side on the workload kinds while an object changes, comes and goes,
// and compares what they printed (durations may tick between the two).
func TestGoldenGetWorkloadsWatch(t *testing.T) {
	g := newGoldenEnv(t)
	ctx := context.Background()
	seedWorkloads(t, g.env)
	for _, args := range [][]string{{"get", "deploy", "-w"}, {"get", "rs", "-w", "-o", "wide"}, {"get", "jobs", "-w"}, {"get", "cj", "-w", "-o", "wide"}} {
		t.Run(strings.Join(args[1:], ""), func(t *testing.T) {
			kctx, kcancel := context.WithCancel(ctx)
			defer kcancel()
			cmd := exec.CommandContext(kctx, g.kubectl, append([]string{"--kubeconfig", g.kubeconfig, "--cache-dir", filepath.Join(g.home, "cache")}, args...)...)
			cmd.Env = append(os.Environ(), "KUBECONFIG="+g.kubeconfig, "HOME="+g.home)
			var kout, kerr, wout, werr syncBuffer
			cmd.Stdout, cmd.Stderr = &kout, &kerr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			wctx, wcancel := context.WithCancel(ctx)
			defer wcancel()
			done := make(chan int, 1)
			go func() {
				done <- runAppContext(wctx, App(&wout, &werr), append([]string{"wasmpod", args[0], "--server", g.server}, args[1:]...))
			}()
			wait := func(what string, n int) {
				t.Helper()
				deadline := time.Now().Add(20 * time.Second)
				for strings.Count(kout.String(), "\n") < n || strings.Count(wout.String(), "\n") < n {
					if time.Now().After(deadline) {
						t.Fatalf("waiting for %s:\nkubectl:\n%s\nstderr: %s\nwasmpod:\n%s\nstderr: %s", what, kout.String(), kerr.String(), wout.String(), werr.String())
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			wait("the initial list", 2)
			n := strings.Count(wout.String(), "\n")
			name := "w-" + args[1]
			switch args[1] {
			case "deploy":
				d, err := g.cs.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				d.Status.ReadyReplicas, d.Status.AvailableReplicas, d.Status.UnavailableReplicas = 3, 3, 0
				if _, err := g.cs.AppsV1().Deployments("default").UpdateStatus(ctx, d, metav1.UpdateOptions{}); err != nil {
					t.Fatal(err)
				}
				wait("web's MODIFIED", n+1)
				if _, err := g.cs.AppsV1().Deployments("default").Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name},
					Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"x": "y"}},
						Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"x": "y"}}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "a.wasm"}}}}}},
					metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
				wait(name+"'s ADDED", n+2)
				if err := g.cs.AppsV1().Deployments("default").Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
					t.Fatal(err)
				}
			case "rs":
				rs, err := g.cs.AppsV1().ReplicaSets("default").Get(ctx, "web-7d9f", metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				rs.Status.ReadyReplicas, rs.Status.AvailableReplicas = 3, 3
				if _, err := g.cs.AppsV1().ReplicaSets("default").UpdateStatus(ctx, rs, metav1.UpdateOptions{}); err != nil {
					t.Fatal(err)
				}
				wait("web-7d9f's MODIFIED", n+1)
				if err := g.cs.AppsV1().ReplicaSets("default").Delete(ctx, "web-stray", metav1.DeleteOptions{}); err != nil {
					t.Fatal(err)
				}
			case "jobs":
				j, err := g.cs.BatchV1().Jobs("default").Get(ctx, "tick-29000001", metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				j.Status.Succeeded = 41
				if _, err := g.cs.BatchV1().Jobs("default").UpdateStatus(ctx, j, metav1.UpdateOptions{}); err != nil {
					t.Fatal(err)
				}
				wait("the job's MODIFIED", n+1)
				if err := g.cs.BatchV1().Jobs("default").Delete(ctx, "once", metav1.DeleteOptions{}); err != nil {
					t.Fatal(err)
				}
			case "cj":
				cj, err := g.cs.BatchV1().CronJobs("default").Get(ctx, "bare", metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				cj.Spec.Suspend = ptr.To(false)
				if _, err := g.cs.BatchV1().CronJobs("default").Update(ctx, cj, metav1.UpdateOptions{}); err != nil {
					t.Fatal(err)
				}
				wait("bare's MODIFIED", n+1)
				if err := g.cs.BatchV1().CronJobs("default").Delete(ctx, "bare", metav1.DeleteOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			wait("the deletion", n+2+map[bool]int{true: 1}[args[1] == "deploy"])
			time.Sleep(200 * time.Millisecond)
			kcancel()
			cmd.Wait()
			wcancel()
			select {
			case code := <-done:
				if code != 0 {
					t.Errorf("wasmpod %s: exit %d: %s", strings.Join(args, " "), code, werr.String())
				}
			case <-time.After(10 * time.Second):
				t.Fatal("wasmpod get -w did not end when its context was cancelled")
			}
			k, w := kout.String(), wout.String()
			if k != w && tickless(k) != tickless(w) {
				t.Errorf("%s:\nkubectl:\n%s\nwasmpod:\n%s", strings.Join(args, " "), k, w)
			} else {
				t.Logf("%s: same output:\n%s", strings.Join(args, " "), w)
			}
		})
	}
}
