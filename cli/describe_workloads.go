package cli

// describe for the workload kinds (replicasets, deployments, daemonsets,
// jobs, cronjobs, poddisruptionbudgets), in the words and layout of
// kubectl's describers (k8s.io/kubectl/pkg/describe: ReplicaSetDescriber,
// DeploymentDescriber, DaemonSetDescriber, JobDescriber, CronJobDescriber,
// PodDisruptionBudgetDescriber). kubectl's package itself is not imported:
// linking it costs the wasmpod binary about 31 MB (102.7 -> 134.0 MB
// measured), for a few hundred lines of printing. The Pod Template part
// shares the pod describer's container and volume code (describe.go).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/utils/ptr"
)

// describable tells the kinds describe knows.
func describable(gk schema.GroupKind) bool {
	switch gk {
	case schema.GroupKind{Kind: "Pod"}, schema.GroupKind{Kind: "Node"},
		schema.GroupKind{Group: "apps", Kind: "ReplicaSet"}, schema.GroupKind{Group: "apps", Kind: "Deployment"},
		schema.GroupKind{Group: "apps", Kind: "DaemonSet"}, schema.GroupKind{Group: "batch", Kind: "Job"},
		schema.GroupKind{Group: "batch", Kind: "CronJob"}, schema.GroupKind{Group: "policy", Kind: "PodDisruptionBudget"},
		schema.GroupKind{Group: "autoscaling", Kind: "HorizontalPodAutoscaler"}:
		return true
	}
	return false
}

// describeWorkload gets the object of kind ns/name and prints it as
// kubectl describe does, with its events when events is set.
func (k *conn) describeWorkload(ctx context.Context, w io.Writer, kind, ns, name string, events bool) error {
	now := time.Now()
	evs := func(uid types.UID) []corev1.Event {
		if !events {
			return nil
		}
		return k.eventsFor(ctx, ns, name, string(uid), kind)
	}
	p := newPrefixWriter(w)
	defer p.flush()
	switch kind {
	case "ReplicaSet":
		rs, err := k.cs.AppsV1().ReplicaSets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
		if err != nil {
			return err
		}
		counts, podErr := k.podStatusForController(ctx, ns, sel, rs.UID)
		describeReplicaSet(p, rs, counts, podErr)
		describeEventsIf(p, events, evs(rs.UID), now)
	case "Deployment":
		d, err := k.cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil {
			return err
		}
		ev := evs(d.UID)
		oldRSs, newRS, rsErr := k.deploymentReplicaSets(ctx, d, sel)
		describeDeployment(p, d, sel, oldRSs, newRS, rsErr == nil)
		describeEventsIf(p, events, ev, now)
	case "DaemonSet":
		ds, err := k.cs.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
		if err != nil {
			return err
		}
		counts, err := k.podStatusForController(ctx, ns, sel, ds.UID)
		if err != nil {
			return err
		}
		describeDaemonSet(p, ds, sel, counts)
		describeEventsIf(p, events, evs(ds.UID), now)
	case "Job":
		job, err := k.cs.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		describeJob(p, job)
		describeEventsIf(p, events, evs(job.UID), now)
	case "CronJob":
		cj, err := k.cs.BatchV1().CronJobs(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		describeCronJob(p, cj)
		describeEventsIf(p, events, evs(cj.UID), now)
	case "PodDisruptionBudget":
		pdb, err := k.cs.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		describePDB(p, pdb)
		describeEventsIf(p, events, evs(pdb.UID), now)
	case "HorizontalPodAutoscaler":
		h, err := k.cs.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		describeHPA(p, h) // describe_hpa.go
		describeEventsIf(p, events, evs(h.UID), now)
	default:
		return errorf("describe does not support %q", kind)
	}
	return nil
}

func describeEventsIf(p prefixWriter, show bool, evs []corev1.Event, now time.Time) {
	if show {
		describeEvents(p, evs, now)
	}
}

// podCounts are a controller's pods by phase (kubectl's "Pods Status").
type podCounts struct{ running, waiting, succeeded, failed int }

func (c podCounts) String() string {
	return fmt.Sprintf("%d Running / %d Waiting / %d Succeeded / %d Failed", c.running, c.waiting, c.succeeded, c.failed)
}

// podStatusForController counts the pods that sel matches and whose
// controller is uid, by phase (kubectl's getPodStatusForController).
func (k *conn) podStatusForController(ctx context.Context, ns string, sel labels.Selector, uid types.UID) (podCounts, error) {
	var c podCounts
	opts := metav1.ListOptions{LabelSelector: sel.String(), Limit: 500}
	for {
		l, err := k.cs.CoreV1().Pods(ns).List(ctx, opts)
		if err != nil {
			return c, err
		}
		for i := range l.Items {
			pod := &l.Items[i]
			if ref := metav1.GetControllerOf(pod); ref == nil || ref.UID != uid {
				continue
			}
			switch pod.Status.Phase {
			case corev1.PodRunning:
				c.running++
			case corev1.PodPending:
				c.waiting++
			case corev1.PodSucceeded:
				c.succeeded++
			case corev1.PodFailed:
				c.failed++
			}
		}
		if l.Continue == "" {
			return c, nil
		}
		opts.Continue = l.Continue
	}
}

// deploymentReplicaSets finds a deployment's replica sets as kubectl's
// deploymentutil.GetAllReplicaSetsInChunks: those its selector matches and
// it controls; the new one is the oldest whose template equals the
// deployment's but for the pod-template-hash label; the old ones are the
// others that still want replicas.
func (k *conn) deploymentReplicaSets(ctx context.Context, d *appsv1.Deployment, sel labels.Selector) (old []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, err error) {
	var owned []*appsv1.ReplicaSet
	opts := metav1.ListOptions{LabelSelector: sel.String(), Limit: 500}
	for {
		l, err := k.cs.AppsV1().ReplicaSets(d.Namespace).List(ctx, opts)
		if err != nil {
			return nil, nil, err
		}
		for i := range l.Items {
			if metav1.IsControlledBy(&l.Items[i], d) {
				owned = append(owned, &l.Items[i])
			}
		}
		if l.Continue == "" {
			break
		}
		opts.Continue = l.Continue
	}
	sort.SliceStable(owned, func(i, j int) bool {
		a, b := owned[i], owned[j]
		if a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.Name < b.Name
		}
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	})
	for _, rs := range owned {
		if equalIgnoreHash(&rs.Spec.Template, &d.Spec.Template) {
			newRS = rs
			break
		}
	}
	for _, rs := range owned {
		if rs != newRS { // all of them: kubectl describes allOldRSs
			old = append(old, rs)
		}
	}
	return old, newRS, nil
}

func equalIgnoreHash(a, b *corev1.PodTemplateSpec) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	delete(a.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	delete(b.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	return equality.Semantic.DeepEqual(a, b)
}

// controlledBy is "Kind/name" of obj's controller, "" without one.
func controlledBy(obj metav1.Object) string {
	if ref := metav1.GetControllerOf(obj); ref != nil {
		return ref.Kind + "/" + ref.Name
	}
	return ""
}

func describeReplicaSet(p prefixWriter, rs *appsv1.ReplicaSet, counts podCounts, podErr error) {
	p.write(0, "Name:\t%s\n", rs.Name)
	p.write(0, "Namespace:\t%s\n", rs.Namespace)
	p.write(0, "Selector:\t%s\n", metav1.FormatLabelSelector(rs.Spec.Selector))
	printLabels(p, "Labels", rs.Labels)
	printAnnotations(p, "Annotations", rs.Annotations)
	if c := controlledBy(rs); c != "" {
		p.write(0, "Controlled By:\t%s\n", c)
	}
	p.write(0, "Replicas:\t%d current / %d desired\n", rs.Status.Replicas, ptr.Deref(rs.Spec.Replicas, 0))
	if podErr != nil {
		p.write(0, "Pods Status:\terror in fetching pods: %s\n", podErr)
	} else {
		p.write(0, "Pods Status:\t%s\n", counts)
	}
	describePodTemplate(p, &rs.Spec.Template)
	if len(rs.Status.Conditions) > 0 {
		p.write(0, "Conditions:\n  Type\tStatus\tReason\n")
		p.write(1, "----\t------\t------\n")
		for _, c := range rs.Status.Conditions {
			p.write(1, "%v \t%v\t%v\n", c.Type, c.Status, c.Reason)
		}
	}
}

func describeDeployment(p prefixWriter, d *appsv1.Deployment, sel labels.Selector, oldRSs []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, haveRSs bool) {
	p.write(0, "Name:\t%s\n", d.Name)
	p.write(0, "Namespace:\t%s\n", d.Namespace)
	p.write(0, "CreationTimestamp:\t%s\n", rfc1123(d.CreationTimestamp))
	printLabels(p, "Labels", d.Labels)
	printAnnotations(p, "Annotations", d.Annotations)
	p.write(0, "Selector:\t%s\n", sel)
	st := d.Status
	p.write(0, "Replicas:\t%d desired | %d updated | %d total | %d available | %d unavailable\n",
		ptr.Deref(d.Spec.Replicas, 0), st.UpdatedReplicas, st.Replicas, st.AvailableReplicas, st.UnavailableReplicas)
	p.write(0, "StrategyType:\t%s\n", d.Spec.Strategy.Type)
	p.write(0, "MinReadySeconds:\t%d\n", d.Spec.MinReadySeconds)
	if ru := d.Spec.Strategy.RollingUpdate; ru != nil {
		p.write(0, "RollingUpdateStrategy:\t%s max unavailable, %s max surge\n", ru.MaxUnavailable.String(), ru.MaxSurge.String())
	}
	describePodTemplate(p, &d.Spec.Template)
	if len(st.Conditions) > 0 {
		p.write(0, "Conditions:\n  Type\tStatus\tReason\n")
		p.write(1, "----\t------\t------\n")
		for _, c := range st.Conditions {
			p.write(1, "%v \t%v\t%v\n", c.Type, c.Status, c.Reason)
		}
	}
	var newRSs []*appsv1.ReplicaSet
	if newRS != nil {
		newRSs = append(newRSs, newRS)
	}
	if haveRSs && (len(oldRSs) > 0 || len(newRSs) > 0) {
		p.write(0, "OldReplicaSets:\t%s\n", replicaSetsCreated(oldRSs))
		p.write(0, "NewReplicaSet:\t%s\n", replicaSetsCreated(newRSs))
	}
}

// replicaSetsCreated is kubectl's printReplicaSetsByLabels: "name (2/3
// replicas created), ...", or <none>.
func replicaSetsCreated(rss []*appsv1.ReplicaSet) string {
	var s []string
	for _, rs := range rss {
		s = append(s, fmt.Sprintf("%s (%d/%d replicas created)", rs.Name, rs.Status.Replicas, ptr.Deref(rs.Spec.Replicas, 0)))
	}
	if len(s) == 0 {
		return "<none>"
	}
	return strings.Join(s, ", ")
}

func describeDaemonSet(p prefixWriter, ds *appsv1.DaemonSet, sel labels.Selector, counts podCounts) {
	p.write(0, "Name:\t%s\n", ds.Name)
	p.write(0, "Namespace:\t%s\n", ds.Namespace)
	p.write(0, "Selector:\t%s\n", sel)
	p.write(0, "Node-Selector:\t%s\n", labels.FormatLabels(ds.Spec.Template.Spec.NodeSelector))
	printLabels(p, "Labels", ds.Labels)
	printAnnotations(p, "Annotations", ds.Annotations)
	st := ds.Status
	p.write(0, "Desired Number of Nodes Scheduled: %d\n", st.DesiredNumberScheduled)
	p.write(0, "Current Number of Nodes Scheduled: %d\n", st.CurrentNumberScheduled)
	p.write(0, "Number of Nodes Scheduled with Up-to-date Pods: %d\n", st.UpdatedNumberScheduled)
	p.write(0, "Number of Nodes Scheduled with Available Pods: %d\n", st.NumberAvailable)
	p.write(0, "Number of Nodes Misscheduled: %d\n", st.NumberMisscheduled)
	p.write(0, "Pods Status:\t%s\n", counts)
	describePodTemplate(p, &ds.Spec.Template)
}

func describeJob(p prefixWriter, job *batchv1.Job) {
	p.write(0, "Name:\t%s\n", job.Name)
	p.write(0, "Namespace:\t%s\n", job.Namespace)
	if sel, err := metav1.LabelSelectorAsSelector(job.Spec.Selector); err == nil {
		p.write(0, "Selector:\t%s\n", sel)
	} else {
		p.write(0, "Selector:\tFailed to get selector: %s\n", err)
	}
	printLabels(p, "Labels", job.Labels)
	printAnnotations(p, "Annotations", job.Annotations)
	if c := controlledBy(job); c != "" {
		p.write(0, "Controlled By:\t%s\n", c)
	}
	s, st := job.Spec, job.Status
	if s.Parallelism != nil {
		p.write(0, "Parallelism:\t%d\n", *s.Parallelism)
	}
	if s.Completions != nil {
		p.write(0, "Completions:\t%d\n", *s.Completions)
	} else {
		p.write(0, "Completions:\t<unset>\n")
	}
	if s.CompletionMode != nil {
		p.write(0, "Completion Mode:\t%s\n", *s.CompletionMode)
	}
	if s.Suspend != nil {
		p.write(0, "Suspend:\t%v\n", *s.Suspend)
	}
	if s.BackoffLimit != nil {
		p.write(0, "Backoff Limit:\t%v\n", *s.BackoffLimit)
	}
	if s.TTLSecondsAfterFinished != nil {
		p.write(0, "TTL Seconds After Finished:\t%v\n", *s.TTLSecondsAfterFinished)
	}
	if st.StartTime != nil {
		p.write(0, "Start Time:\t%s\n", rfc1123(*st.StartTime))
	}
	if st.CompletionTime != nil {
		p.write(0, "Completed At:\t%s\n", rfc1123(*st.CompletionTime))
	}
	if st.StartTime != nil && st.CompletionTime != nil {
		p.write(0, "Duration:\t%s\n", duration.HumanDuration(st.CompletionTime.Sub(st.StartTime.Time)))
	}
	if s.ActiveDeadlineSeconds != nil {
		p.write(0, "Active Deadline Seconds:\t%ds\n", *s.ActiveDeadlineSeconds)
	}
	if st.Ready == nil {
		p.write(0, "Pods Statuses:\t%d Active / %d Succeeded / %d Failed\n", st.Active, st.Succeeded, st.Failed)
	} else {
		p.write(0, "Pods Statuses:\t%d Active (%d Ready) / %d Succeeded / %d Failed\n", st.Active, *st.Ready, st.Succeeded, st.Failed)
	}
	if s.CompletionMode != nil && *s.CompletionMode == batchv1.IndexedCompletion {
		p.write(0, "Completed Indexes:\t%s\n", capIndexes(st.CompletedIndexes, 50))
	}
	describePodTemplate(p, &s.Template)
}

// capIndexes cuts a completed-indexes list after the first comma at or
// past limit characters, with "...", or is <none> (kubectl's
// capIndexesListOrNone).
func capIndexes(indexes string, limit int) string {
	if indexes == "" {
		return "<none>"
	}
	i := limit
	for ; i < len(indexes); i++ {
		if indexes[i] == ',' {
			break
		}
	}
	if i >= len(indexes) {
		return indexes
	}
	return indexes[:i+1] + "..."
}

func describeCronJob(p prefixWriter, cj *batchv1.CronJob) {
	p.write(0, "Name:\t%s\n", cj.Name)
	p.write(0, "Namespace:\t%s\n", cj.Namespace)
	printLabels(p, "Labels", cj.Labels)
	printAnnotations(p, "Annotations", cj.Annotations)
	s := cj.Spec
	p.write(0, "Schedule:\t%s\n", s.Schedule)
	p.write(0, "Concurrency Policy:\t%s\n", s.ConcurrencyPolicy)
	p.write(0, "Suspend:\t%s\n", boolPtr(s.Suspend))
	p.write(0, "Time Zone:\t%s\n", unsetOr(s.TimeZone, "%s"))
	p.write(0, "Successful Job History Limit:\t%s\n", unsetOr(s.SuccessfulJobsHistoryLimit, "%d"))
	p.write(0, "Failed Job History Limit:\t%s\n", unsetOr(s.FailedJobsHistoryLimit, "%d"))
	p.write(0, "Starting Deadline Seconds:\t%s\n", unsetOr(s.StartingDeadlineSeconds, "%ds"))
	jt := s.JobTemplate.Spec
	if jt.Selector != nil {
		if sel, err := metav1.LabelSelectorAsSelector(jt.Selector); err == nil {
			p.write(0, "Selector:\t%s\n", sel)
		} else {
			p.write(0, "Selector:\tFailed to get selector: %s\n", err)
		}
	} else {
		p.write(0, "Selector:\t<unset>\n")
	}
	p.write(0, "Parallelism:\t%s\n", unsetOr(jt.Parallelism, "%d"))
	p.write(0, "Completions:\t%s\n", unsetOr(jt.Completions, "%d"))
	if jt.ActiveDeadlineSeconds != nil {
		p.write(0, "Active Deadline Seconds:\t%ds\n", *jt.ActiveDeadlineSeconds)
	}
	describePodTemplate(p, &jt.Template)
	if t := cj.Status.LastScheduleTime; t != nil {
		p.write(0, "Last Schedule Time:\t%s\n", rfc1123(*t))
	} else {
		p.write(0, "Last Schedule Time:\t<unset>\n")
	}
	p.write(0, "Active Jobs:\t")
	if len(cj.Status.Active) == 0 {
		p.write(0, "<none>\n")
	} else {
		names := make([]string, len(cj.Status.Active))
		for i, j := range cj.Status.Active {
			names[i] = j.Name
		}
		p.write(0, "%s\n", strings.Join(names, ", "))
	}
}

func unsetOr[T any](v *T, format string) string {
	if v == nil {
		return "<unset>"
	}
	return fmt.Sprintf(format, *v)
}

func boolPtr(b *bool) string {
	if b == nil {
		return "<unset>"
	}
	return printBool(*b)
}

func describePDB(p prefixWriter, pdb *policyv1.PodDisruptionBudget) {
	p.write(0, "Name:\t%s\n", pdb.Name)
	p.write(0, "Namespace:\t%s\n", pdb.Namespace)
	if pdb.Spec.MinAvailable != nil {
		p.write(0, "Min available:\t%s\n", pdb.Spec.MinAvailable.String())
	} else if pdb.Spec.MaxUnavailable != nil {
		p.write(0, "Max unavailable:\t%s\n", pdb.Spec.MaxUnavailable.String())
	}
	if pdb.Spec.Selector != nil {
		p.write(0, "Selector:\t%s\n", metav1.FormatLabelSelector(pdb.Spec.Selector))
	} else {
		p.write(0, "Selector:\t<unset>\n")
	}
	st := pdb.Status
	p.write(0, "Status:\n")
	p.write(2, "Allowed disruptions:\t%d\n", st.DisruptionsAllowed)
	p.write(2, "Current:\t%d\n", st.CurrentHealthy)
	p.write(2, "Desired:\t%d\n", st.DesiredHealthy)
	p.write(2, "Total:\t%d\n", st.ExpectedPods)
}

// describePodTemplate is kubectl's DescribePodTemplate: the template's
// labels, annotations, containers (with the pod describer's code, at the
// template's indent), volumes, node selectors and tolerations.
func describePodTemplate(p prefixWriter, t *corev1.PodTemplateSpec) {
	p.write(0, "Pod Template:\n")
	printLabels(p, "  Labels", t.Labels)
	if len(t.Annotations) > 0 {
		printAnnotations(p, "  Annotations", t.Annotations)
	}
	spec := &t.Spec
	if spec.ServiceAccountName != "" {
		p.write(1, "Service Account:\t%s\n", spec.ServiceAccountName)
	}
	if len(spec.InitContainers) > 0 {
		describeContainersIn(p, "  ", "Init Containers", spec.InitContainers, nil)
	}
	describeContainersIn(p, "  ", "Containers", spec.Containers, nil)
	describeVolumesIn(p, "  ", spec.Volumes)
	describeSpreadConstraints(p, "  ", spec.TopologySpreadConstraints)
	if spec.PriorityClassName != "" {
		p.write(1, "Priority Class Name:\t%s\n", spec.PriorityClassName)
	}
	printLabels(p, "  Node-Selectors", spec.NodeSelector)
	printTolerations(p, "  Tolerations", spec.Tolerations)
}

func describeSpreadConstraints(p prefixWriter, space string, tscs []corev1.TopologySpreadConstraint) {
	if len(tscs) == 0 {
		return
	}
	tscs = append([]corev1.TopologySpreadConstraint(nil), tscs...)
	sort.Slice(tscs, func(i, j int) bool { return tscs[i].TopologyKey < tscs[j].TopologyKey })
	p.write(0, "%sTopology Spread Constraints:\t", space)
	for i, c := range tscs {
		if i != 0 {
			p.write(0, "%s\t", space)
		}
		p.write(0, "%s:%v when max skew %d is exceeded", c.TopologyKey, c.WhenUnsatisfiable, c.MaxSkew)
		if c.LabelSelector != nil {
			p.write(0, " for selector %s", metav1.FormatLabelSelector(c.LabelSelector))
		}
		p.write(0, "\n")
	}
}

// printLabels is kubectl's printLabelsMultiline: "title:\tk=v" and the
// other labels under it, sorted; <none> when empty.
func printLabels(p prefixWriter, title string, m map[string]string) {
	p.write(0, "%s:\t", title)
	if len(m) == 0 {
		p.write(0, "<none>\n")
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i != 0 {
			p.write(0, "\t")
		}
		p.write(0, "%s=%s\n", k, m[k])
	}
}

// maxAnnotationLen is where kubectl describe cuts a long annotation.
const maxAnnotationLen = 140

// printAnnotations is kubectl's printAnnotationsMultiline: sorted, without
// kubectl.kubernetes.io/last-applied-configuration, a long or multi-line
// value on lines of its own, each cut at maxAnnotationLen.
func printAnnotations(p prefixWriter, title string, m map[string]string) {
	p.write(0, "%s:\t", title)
	keys := make([]string, 0, len(m))
	for k := range m {
		if k != corev1.LastAppliedConfigAnnotation {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		p.write(0, "<none>\n")
		return
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i != 0 {
			p.write(0, "\t")
		}
		v := strings.TrimSuffix(m[k], "\n")
		if len(v)+len(k)+2 > maxAnnotationLen || strings.Contains(v, "\n") {
			p.write(0, "%s:\n", k)
			for _, s := range strings.Split(v, "\n") {
				if len(s) > maxAnnotationLen-2 {
					s = s[:maxAnnotationLen-2] + "..."
				}
				p.write(0, "\t  %s\n", s)
			}
		} else {
			p.write(0, "%s: %s\n", k, v)
		}
	}
}

// printTolerations is kubectl's printPodTolerationsMultiline.
func printTolerations(p prefixWriter, title string, ts []corev1.Toleration) {
	p.write(0, "%s:\t", title)
	if len(ts) == 0 {
		p.write(0, "<none>\n")
		return
	}
	ts = append([]corev1.Toleration(nil), ts...)
	sort.Slice(ts, func(i, j int) bool { return ts[i].Key < ts[j].Key })
	for i, t := range ts {
		if i != 0 {
			p.write(0, "\t")
		}
		s := t.Key
		if t.Value != "" {
			s += "=" + t.Value
		}
		if t.Effect != "" {
			s += ":" + string(t.Effect)
		}
		if t.Operator == corev1.TolerationOpExists && t.Value == "" {
			if t.Key != "" || t.Effect != "" {
				s += " op=Exists"
			} else {
				s += "op=Exists"
			}
		}
		if t.TolerationSeconds != nil {
			s += fmt.Sprintf(" for %ds", *t.TolerationSeconds)
		}
		p.write(0, "%s\n", s)
	}
}

// enhanceListError words a list's BadRequest or NotFound as kubectl's
// builder does (cli-runtime's resource.EnhanceListError, whose package
// would pull kustomize into the binary): `Unable to find "apps/v1,
// Resource=replicasets" that match label selector "...", field selector
// "...": why`, or `Unable to list "...": why` without selectors.
func enhanceListError(err error, opts metav1.ListOptions, subj string) error {
	var se *apierrors.StatusError
	if !(apierrors.IsBadRequest(err) || apierrors.IsNotFound(err)) || !errors.As(err, &se) {
		return err
	}
	st := se.ErrStatus
	if opts.LabelSelector == "" && opts.FieldSelector == "" {
		st.Message = fmt.Sprintf("Unable to list %q: %v", subj, st.Message)
	} else {
		st.Message = fmt.Sprintf("Unable to find %q that match label selector %q, field selector %q: %v", subj, opts.LabelSelector, opts.FieldSelector, st.Message)
	}
	return &apierrors.StatusError{ErrStatus: st}
}
