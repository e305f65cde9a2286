package cronjob

// Schedule arithmetic and the Job made from a CronJob: upstream's
// pkg/controller/cronjob/utils.go (written here, not copied).

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
)

// missed says how many schedules passed unmet (upstream's
// missedSchedulesType).
type missed int

const (
	noneMissed missed = iota
	fewMissed
	manyMissed // more than tooManyMissed
)

// tooManyMissed is upstream's bound on the missed schedules it reports
// without a TooManyMissedTimes warning.
const tooManyMissed = 100

// nextScheduleDelta pads a requeue at the next schedule time, as upstream
// (for NTP skew).
const nextScheduleDelta = 100 * time.Millisecond

// parseSchedule is cron.ParseStandard that never panics (robfig/cron
// v3.0.1 slices out of range on "TZ=X" with nothing after it).
func parseSchedule(s string) (sched cron.Schedule, err error) {
	defer func() {
		if r := recover(); r != nil {
			sched, err = nil, fmt.Errorf("invalid schedule: %v", r)
		}
	}()
	return cron.ParseStandard(s)
}

// formatSchedule is upstream's formatSchedule: a schedule carrying TZ or
// CRON_TZ is used as is (with an UnsupportedSchedule warning when a
// recorder is given); otherwise a valid spec.timeZone is prefixed as
// TZ=<zone>.
func formatSchedule(cj *batchv1.CronJob, rec record.EventRecorder) string {
	if strings.Contains(cj.Spec.Schedule, "TZ") {
		if rec != nil {
			rec.Eventf(cj, corev1.EventTypeWarning, "UnsupportedSchedule", "CRON_TZ or TZ used in schedule %q is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details", cj.Spec.Schedule)
		}
		return cj.Spec.Schedule
	}
	if cj.Spec.TimeZone != nil {
		if _, err := time.LoadLocation(*cj.Spec.TimeZone); err != nil {
			return cj.Spec.Schedule
		}
		return fmt.Sprintf("TZ=%s %s", *cj.Spec.TimeZone, cj.Spec.Schedule)
	}
	return cj.Spec.Schedule
}

// mostRecentScheduleTime is upstream's: it returns the time counted from
// (status.lastScheduleTime, else creationTimestamp, raised to
// now-startingDeadlineSeconds when withDeadline), the most recent
// schedule time in (that, now] or nil, how many were missed, and an error
// for a schedule that parses but never (or twice at once) fires, such as
// "59 23 31 2 *".
func mostRecentScheduleTime(cj *batchv1.CronJob, now time.Time, sched cron.Schedule, withDeadline bool) (time.Time, *time.Time, missed, error) {
	earliest := cj.CreationTimestamp.Time
	if cj.Status.LastScheduleTime != nil {
		earliest = cj.Status.LastScheduleTime.Time
	}
	if withDeadline && cj.Spec.StartingDeadlineSeconds != nil {
		if d := now.Add(-time.Duration(*cj.Spec.StartingDeadlineSeconds) * time.Second); d.After(earliest) {
			earliest = d
		}
	}
	t1 := sched.Next(earliest)
	t2 := sched.Next(t1)
	if now.Before(t1) {
		return earliest, nil, noneMissed, nil
	}
	if now.Before(t2) {
		return earliest, &t1, noneMissed, nil
	}
	between := int64(t2.Sub(t1).Round(time.Second).Seconds())
	if between < 1 {
		return earliest, nil, noneMissed, fmt.Errorf("time difference between two schedules is less than 1 second")
	}
	// Upstream's approximation: the number of intervals between t1 and
	// now; the scan starts one interval before the estimated last one, so
	// that irregular schedules (30 6-16/4 * * 1-5) land right.
	n := int64(now.Sub(t1).Seconds())/between + 1
	var recent time.Time
	for t := sched.Next(t1.Add(time.Duration((n-2)*between) * time.Second)); !t.IsZero() && !t.After(now); t = sched.Next(t) {
		recent = t
	}
	m := noneMissed
	switch {
	case n > tooManyMissed:
		m = manyMissed
	case n > 0:
		m = fewMissed
	}
	if recent.IsZero() {
		return earliest, nil, m, nil
	}
	return earliest, &recent, m, nil
}

// nextScheduleTimeDuration is upstream's: how long until the schedule
// after the most recent one (ignoring startingDeadlineSeconds), plus
// nextScheduleDelta.
func nextScheduleTimeDuration(cj *batchv1.CronJob, now time.Time, sched cron.Schedule) time.Duration {
	earliest, recent, m, err := mostRecentScheduleTime(cj, now, sched, false)
	switch {
	case err != nil:
		recent = &now
	case recent == nil && m == noneMissed:
		recent = &earliest
	case recent == nil:
		recent = &now
	}
	return sched.Next(*recent).Add(nextScheduleDelta).Sub(now)
}

// nextScheduleTime is upstream's: the most recent unmet schedule time, or
// nil; with more than 100 missed it warns TooManyMissedTimes.
func nextScheduleTime(cj *batchv1.CronJob, now time.Time, sched cron.Schedule, rec record.EventRecorder) (*time.Time, error) {
	_, recent, m, err := mostRecentScheduleTime(cj, now, sched, true)
	if recent == nil || recent.After(now) {
		return nil, err
	}
	if m == manyMissed {
		rec.Eventf(cj, corev1.EventTypeWarning, "TooManyMissedTimes", "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew")
	}
	return recent, err
}

// jobName is <cronjob>-<scheduled time in minutes since the epoch>
// (getJobName): the same scheduled time always names the same Job.
func jobName(cj *batchv1.CronJob, scheduled time.Time) string {
	return fmt.Sprintf("%s-%d", cj.Name, scheduled.Unix()/60)
}

// jobFromTemplate is upstream's getJobFromTemplate2: the jobTemplate's
// labels, annotations and spec, the name from the scheduled time, the
// batch.kubernetes.io/cronjob-scheduled-timestamp annotation (the
// scheduled time in the CronJob's time zone, RFC 3339; the
// CronJobsScheduledAnnotation gate is on by default) and a controller
// reference to the CronJob.
func jobFromTemplate(cj *batchv1.CronJob, scheduled time.Time) (*batchv1.Job, error) {
	loc, err := time.LoadLocation(ptr.Deref(cj.Spec.TimeZone, ""))
	if err != nil {
		return nil, err
	}
	labels := map[string]string{}
	for k, v := range cj.Spec.JobTemplate.Labels {
		labels[k] = v
	}
	annotations := map[string]string{}
	for k, v := range cj.Spec.JobTemplate.Annotations {
		annotations[k] = v
	}
	annotations[batchv1.CronJobScheduledTimestampAnnotation] = scheduled.In(loc).Format(time.RFC3339)
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name:              jobName(cj, scheduled),
			Labels:            labels,
			Annotations:       annotations,
			CreationTimestamp: metav1.Time{Time: scheduled},
			OwnerReferences:   []metav1.OwnerReference{*metav1.NewControllerRef(cj, controllerKind)},
		},
	}
	cj.Spec.JobTemplate.Spec.DeepCopyInto(&job.Spec)
	return job, nil
}

func inActiveList(cj *batchv1.CronJob, uid types.UID) bool {
	for _, r := range cj.Status.Active {
		if r.UID == uid {
			return true
		}
	}
	return false
}

func inActiveListByName(cj *batchv1.CronJob, ns, name string) bool {
	for _, r := range cj.Status.Active {
		if r.Name == name && r.Namespace == ns {
			return true
		}
	}
	return false
}

func deleteFromActiveList(cj *batchv1.CronJob, uid types.UID) {
	keep := []corev1.ObjectReference{}
	for _, r := range cj.Status.Active {
		if r.UID != uid {
			keep = append(keep, r)
		}
	}
	cj.Status.Active = keep
}

// finishedCondition returns Complete or Failed when the Job has that
// condition True (upstream's jobutil.FinishedCondition), else "".
func finishedCondition(j *batchv1.Job) batchv1.JobConditionType {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c.Type
		}
	}
	return ""
}

// byStartTime orders Jobs by status.startTime (unset last), then name
// (upstream's byJobStartTime).
type byStartTime []*batchv1.Job

func (o byStartTime) Len() int      { return len(o) }
func (o byStartTime) Swap(i, j int) { o[i], o[j] = o[j], o[i] }
func (o byStartTime) Less(i, j int) bool {
	a, b := o[i].Status.StartTime, o[j].Status.StartTime
	switch {
	case a == nil && b != nil:
		return false
	case a != nil && b == nil:
		return true
	case a.Equal(b):
		return o[i].Name < o[j].Name
	}
	return a.Before(b)
}
