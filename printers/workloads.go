package printers

// The apps, batch, coordination and discovery kinds' columns and cells, as
// upstream's AddHandlers and print<Kind> functions
// (k8s.io/kubernetes/pkg/printers/internalversion/printers.go); the
// descriptions upstream takes from the v1beta1 types are in v1beta1docs.go.

import (
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/duration"
)

var (
	containersColumn = metav1.TableColumnDefinition{Name: "Containers", Type: "string", Priority: 1, Description: "Names of each container in the template."}
	imagesColumn     = metav1.TableColumnDefinition{Name: "Images", Type: "string", Priority: 1, Description: "Images referenced by each container in the template."}
)

func init() {
	apps := appsv1.SchemeGroupVersion
	register(apps.WithKind("Deployment"), &appsv1.DeploymentList{}, []metav1.TableColumnDefinition{
		nameColumn,
		{Name: "Ready", Type: "string", Description: "Number of the pod with ready state"},
		{Name: "Up-to-date", Type: "string", Description: appsv1.DeploymentStatus{}.SwaggerDoc()["updatedReplicas"]},
		{Name: "Available", Type: "string", Description: appsv1.DeploymentStatus{}.SwaggerDoc()["availableReplicas"]},
		ageColumn, containersColumn, imagesColumn,
		{Name: "Selector", Type: "string", Priority: 1, Description: v1beta1DeploymentSelectorDoc},
	}, func(d *appsv1.Deployment, o *options) []any {
		selector := "<invalid>"
		if sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err == nil {
			selector = sel.String()
		}
		names, images := layoutContainerCells(d.Spec.Template.Spec.Containers)
		return []any{d.Name, fmt.Sprintf("%d/%d", int64(d.Status.ReadyReplicas), int64(replicas(d.Spec.Replicas))),
			int64(d.Status.UpdatedReplicas), int64(d.Status.AvailableReplicas), translateTimestampSince(d.CreationTimestamp, o.now),
			names, images, selector}
	})

	register(apps.WithKind("ReplicaSet"), &appsv1.ReplicaSetList{}, []metav1.TableColumnDefinition{
		nameColumn,
		{Name: "Desired", Type: "integer", Description: appsv1.ReplicaSetSpec{}.SwaggerDoc()["replicas"]},
		{Name: "Current", Type: "integer", Description: appsv1.ReplicaSetStatus{}.SwaggerDoc()["replicas"]},
		{Name: "Ready", Type: "integer", Description: appsv1.ReplicaSetStatus{}.SwaggerDoc()["readyReplicas"]},
		ageColumn, containersColumn, imagesColumn,
		{Name: "Selector", Type: "string", Priority: 1, Description: v1beta1ReplicaSetSelectorDoc},
	}, func(rs *appsv1.ReplicaSet, o *options) []any {
		names, images := layoutContainerCells(rs.Spec.Template.Spec.Containers)
		return []any{rs.Name, int64(replicas(rs.Spec.Replicas)), int64(rs.Status.Replicas), int64(rs.Status.ReadyReplicas),
			translateTimestampSince(rs.CreationTimestamp, o.now), names, images, metav1.FormatLabelSelector(rs.Spec.Selector)}
	})

	register(apps.WithKind("DaemonSet"), &appsv1.DaemonSetList{}, []metav1.TableColumnDefinition{
		nameColumn,
		{Name: "Desired", Type: "integer", Description: appsv1.DaemonSetStatus{}.SwaggerDoc()["desiredNumberScheduled"]},
		{Name: "Current", Type: "integer", Description: appsv1.DaemonSetStatus{}.SwaggerDoc()["currentNumberScheduled"]},
		{Name: "Ready", Type: "integer", Description: v1beta1DaemonSetNumberReadyDoc},
		{Name: "Up-to-date", Type: "integer", Description: appsv1.DaemonSetStatus{}.SwaggerDoc()["updatedNumberScheduled"]},
		{Name: "Available", Type: "integer", Description: appsv1.DaemonSetStatus{}.SwaggerDoc()["numberAvailable"]},
		{Name: "Node Selector", Type: "string", Description: corev1.PodSpec{}.SwaggerDoc()["nodeSelector"]},
		ageColumn, containersColumn, imagesColumn,
		{Name: "Selector", Type: "string", Priority: 1, Description: v1beta1DaemonSetSelectorDoc},
	}, func(ds *appsv1.DaemonSet, o *options) []any {
		st := ds.Status
		names, images := layoutContainerCells(ds.Spec.Template.Spec.Containers)
		return []any{ds.Name, int64(st.DesiredNumberScheduled), int64(st.CurrentNumberScheduled), int64(st.NumberReady),
			int64(st.UpdatedNumberScheduled), int64(st.NumberAvailable), labels.FormatLabels(ds.Spec.Template.Spec.NodeSelector),
			translateTimestampSince(ds.CreationTimestamp, o.now), names, images, metav1.FormatLabelSelector(ds.Spec.Selector)}
	})

	register(apps.WithKind("ControllerRevision"), &appsv1.ControllerRevisionList{}, []metav1.TableColumnDefinition{
		nameColumn,
		{Name: "Controller", Type: "string", Description: "Controller of the object"},
		{Name: "Revision", Type: "string", Description: appsv1.ControllerRevision{}.SwaggerDoc()["revision"]},
		ageColumn,
	}, func(cr *appsv1.ControllerRevision, o *options) []any {
		controller := "<none>"
		if ref := metav1.GetControllerOf(cr); ref != nil {
			// upstream's formatResourceName with the kind: "daemonset.apps/NAME"
			gv, _ := schema.ParseGroupVersion(ref.APIVersion)
			controller = strings.ToLower(gv.WithKind(ref.Kind).GroupKind().String()) + "/" + ref.Name
		}
		return []any{cr.Name, controller, cr.Revision, translateTimestampSince(cr.CreationTimestamp, o.now)}
	})

	register(apps.WithKind("StatefulSet"), &appsv1.StatefulSetList{}, []metav1.TableColumnDefinition{
		nameColumn,
		{Name: "Ready", Type: "string", Description: "Number of the pod with ready state"},
		ageColumn, containersColumn, imagesColumn,
	}, func(ss *appsv1.StatefulSet, o *options) []any {
		names, images := layoutContainerCells(ss.Spec.Template.Spec.Containers)
		return []any{ss.Name, fmt.Sprintf("%d/%d", int64(ss.Status.ReadyReplicas), int64(replicas(ss.Spec.Replicas))),
			translateTimestampSince(ss.CreationTimestamp, o.now), names, images}
	})

	batch := batchv1.SchemeGroupVersion
	register(batch.WithKind("Job"), &batchv1.JobList{}, []metav1.TableColumnDefinition{
		nameColumn,
		{Name: "Status", Type: "string", Description: "Status of the job."},
		{Name: "Completions", Type: "string", Description: batchv1.JobStatus{}.SwaggerDoc()["succeeded"]},
		{Name: "Duration", Type: "string", Description: "Time required to complete the job."},
		ageColumn, containersColumn, imagesColumn,
		{Name: "Selector", Type: "string", Priority: 1, Description: batchv1.JobSpec{}.SwaggerDoc()["selector"]},
	}, printJob)

	register(batch.WithKind("CronJob"), &batchv1.CronJobList{}, []metav1.TableColumnDefinition{
		nameColumn,
		{Name: "Schedule", Type: "string", Description: batchv1.CronJobSpec{}.SwaggerDoc()["schedule"]},
		{Name: "Timezone", Type: "string", Description: batchv1.CronJobSpec{}.SwaggerDoc()["timeZone"]},
		{Name: "Suspend", Type: "boolean", Description: batchv1.CronJobSpec{}.SwaggerDoc()["suspend"]},
		{Name: "Active", Type: "integer", Description: batchv1.CronJobStatus{}.SwaggerDoc()["active"]},
		{Name: "Last Schedule", Type: "string", Description: batchv1.CronJobStatus{}.SwaggerDoc()["lastScheduleTime"]},
		ageColumn, containersColumn, imagesColumn,
		{Name: "Selector", Type: "string", Priority: 1, Description: batchv1.JobSpec{}.SwaggerDoc()["selector"]},
	}, func(cj *batchv1.CronJob, o *options) []any {
		last := "<none>"
		if cj.Status.LastScheduleTime != nil {
			last = translateTimestampSince(*cj.Status.LastScheduleTime, o.now)
		}
		tz := "<none>"
		if cj.Spec.TimeZone != nil {
			tz = *cj.Spec.TimeZone
		}
		names, images := layoutContainerCells(cj.Spec.JobTemplate.Spec.Template.Spec.Containers)
		return []any{cj.Name, cj.Spec.Schedule, tz, printBoolPtr(cj.Spec.Suspend), int64(len(cj.Status.Active)), last,
			translateTimestampSince(cj.CreationTimestamp, o.now), names, images, metav1.FormatLabelSelector(cj.Spec.JobTemplate.Spec.Selector)}
	})

	register(coordinationv1.SchemeGroupVersion.WithKind("Lease"), &coordinationv1.LeaseList{}, []metav1.TableColumnDefinition{
		nameColumn,
		{Name: "Holder", Type: "string", Description: coordinationv1.LeaseSpec{}.SwaggerDoc()["holderIdentity"]},
		ageColumn,
	}, func(l *coordinationv1.Lease, o *options) []any {
		holder := ""
		if l.Spec.HolderIdentity != nil {
			holder = *l.Spec.HolderIdentity
		}
		return []any{l.Name, holder, translateTimestampSince(l.CreationTimestamp, o.now)}
	})

	register(discoveryv1.SchemeGroupVersion.WithKind("EndpointSlice"), &discoveryv1.EndpointSliceList{}, []metav1.TableColumnDefinition{
		nameColumn,
		{Name: "AddressType", Type: "string", Description: v1beta1EndpointSliceAddressTypeDoc},
		{Name: "Ports", Type: "string", Description: v1beta1EndpointSlicePortsDoc},
		{Name: "Endpoints", Type: "string", Description: discoveryv1.EndpointSlice{}.SwaggerDoc()["endpoints"]},
		ageColumn,
	}, func(es *discoveryv1.EndpointSlice, o *options) []any {
		return []any{es.Name, string(es.AddressType), formatDiscoveryPorts(es.Ports), formatDiscoveryEndpoints(es.Endpoints),
			translateTimestampSince(es.CreationTimestamp, o.now)}
	})

}

// replicas is a v1 spec's replica count: nil is 1, the API's default
// (upstream prints the defaulted internal object).
func replicas(n *int32) int32 {
	if n == nil {
		return 1
	}
	return *n
}

func printJob(j *batchv1.Job, o *options) []any {
	var completions string
	if j.Spec.Completions != nil {
		completions = fmt.Sprintf("%d/%d", j.Status.Succeeded, *j.Spec.Completions)
	} else {
		parallelism := int32(0)
		if j.Spec.Parallelism != nil {
			parallelism = *j.Spec.Parallelism
		}
		if parallelism > 1 {
			completions = fmt.Sprintf("%d/1 of %d", j.Status.Succeeded, parallelism)
		} else {
			completions = fmt.Sprintf("%d/1", j.Status.Succeeded)
		}
	}
	var jobDuration string
	switch {
	case j.Status.StartTime == nil:
	case j.Status.CompletionTime == nil:
		jobDuration = duration.HumanDuration(o.now.Sub(j.Status.StartTime.Time))
	default:
		jobDuration = duration.HumanDuration(j.Status.CompletionTime.Sub(j.Status.StartTime.Time))
	}
	var status string
	switch {
	case hasJobCondition(j, batchv1.JobComplete):
		status = "Complete"
	case hasJobCondition(j, batchv1.JobFailed):
		status = "Failed"
	case j.DeletionTimestamp != nil:
		status = "Terminating"
	case hasJobCondition(j, batchv1.JobSuspended):
		status = "Suspended"
	case hasJobCondition(j, batchv1.JobFailureTarget):
		status = "FailureTarget"
	case hasJobCondition(j, batchv1.JobSuccessCriteriaMet):
		status = "SuccessCriteriaMet"
	default:
		status = "Running"
	}
	names, images := layoutContainerCells(j.Spec.Template.Spec.Containers)
	return []any{j.Name, status, completions, jobDuration, translateTimestampSince(j.CreationTimestamp, o.now),
		names, images, metav1.FormatLabelSelector(j.Spec.Selector)}
}

// hasJobCondition reports whether the job's first condition of type t is
// True.
func hasJobCondition(j *batchv1.Job, t batchv1.JobConditionType) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func printBoolPtr(v *bool) string {
	if v == nil {
		return "<unset>"
	}
	if *v {
		return "True"
	}
	return "False"
}

// layoutContainerCells joins the containers' names and images with ",".
func layoutContainerCells(containers []corev1.Container) (names, images string) {
	n := make([]string, len(containers))
	im := make([]string, len(containers))
	for i, c := range containers {
		n[i], im[i] = c.Name, c.Image
	}
	return strings.Join(n, ","), strings.Join(im, ",")
}

func formatDiscoveryPorts(ports []discoveryv1.EndpointPort) string {
	var list []string
	const max = 3
	more := false
	count := 0
	for _, p := range ports {
		if len(list) < max {
			num := "*"
			if p.Port != nil {
				num = strconv.Itoa(int(*p.Port))
			} else if p.Name != nil {
				num = *p.Name
			}
			list = append(list, num)
		} else if len(list) == max {
			more = true
		}
		count++
	}
	return listWithMoreString(list, more, count, max)
}

func formatDiscoveryEndpoints(endpoints []discoveryv1.Endpoint) string {
	var list []string
	const max = 3
	more := false
	count := 0
	for _, ep := range endpoints {
		for _, a := range ep.Addresses {
			if len(list) < max {
				list = append(list, a)
			} else if len(list) == max {
				more = true
			}
			count++
		}
	}
	return listWithMoreString(list, more, count, max)
}

func listWithMoreString(list []string, more bool, count, max int) string {
	ret := strings.Join(list, ",")
	if more {
		return fmt.Sprintf("%s + %d more...", ret, count-max)
	}
	if ret == "" {
		ret = "<unset>"
	}
	return ret
}
