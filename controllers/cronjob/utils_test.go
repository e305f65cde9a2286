package cronjob

// The schedule arithmetic (upstream's utils_test.go cases, written here)
// and the bad-input paths of syncCronJob, which the API's validation keeps
// away from a real server: they must end in a warning event, never a
// panic or a Job.

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

func TestMostRecentScheduleTime(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		name, schedule, created, last, now string
		deadline                           *int64
		want                               string // "" for nil
		missed                             missed
		wantErr                            bool
	}{
		{name: "before the first time", schedule: "0 * * * *", created: "2026-03-02T10:00:30Z", now: "2026-03-02T10:59:59Z"},
		{name: "one due", schedule: "0 * * * *", created: "2026-03-02T10:00:30Z", now: "2026-03-02T11:00:00Z", want: "2026-03-02T11:00:00Z"},
		{name: "from lastScheduleTime", schedule: "@hourly", created: "2026-03-01T00:00:00Z", last: "2026-03-02T10:00:00Z", now: "2026-03-02T10:30:00Z"},
		{name: "few missed", schedule: "*/10 * * * *", created: "2026-03-02T10:00:30Z", now: "2026-03-02T10:45:00Z", want: "2026-03-02T10:40:00Z", missed: fewMissed},
		{name: "many missed", schedule: "* * * * *", created: "2026-03-02T06:00:00Z", now: "2026-03-02T10:00:30Z", want: "2026-03-02T10:00:00Z", missed: manyMissed},
		{name: "irregular", schedule: "30 6-16/4 * * 1-5", created: "2026-02-27T00:00:00Z" /* Friday */, now: "2026-03-02T15:00:00Z" /* Monday */, want: "2026-03-02T14:30:00Z", missed: fewMissed},
		{name: "every", schedule: "@every 90s", created: "2026-03-02T10:00:00Z", now: "2026-03-02T10:10:00Z", want: "2026-03-02T10:09:00Z", missed: fewMissed},
		{name: "deadline raises earliest", schedule: "*/1 * * * *", created: "2026-03-02T10:00:30Z", now: "2026-03-02T10:01:20Z", deadline: ptr.To[int64](10)},
		{name: "never fires", schedule: "59 23 31 2 *", created: "2026-03-02T10:00:30Z", now: "2026-03-02T10:01:20Z", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(at(tc.created))}}
			if tc.last != "" {
				cj.Status.LastScheduleTime = &metav1.Time{Time: at(tc.last)}
			}
			cj.Spec.StartingDeadlineSeconds = tc.deadline
			sched, err := parseSchedule(tc.schedule)
			if err != nil {
				t.Fatal(err)
			}
			_, got, m, err := mostRecentScheduleTime(cj, at(tc.now), sched, true)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v", err)
			}
			gs := ""
			if got != nil {
				gs = got.UTC().Format(time.RFC3339)
			}
			if gs != tc.want || m != tc.missed {
				t.Fatalf("got %q %v, want %q %v", gs, m, tc.want, tc.missed)
			}
		})
	}
}

func TestNextScheduleTimeDuration(t *testing.T) {
	created := time.Date(2026, 3, 2, 10, 0, 30, 0, time.UTC)
	cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(created)}}
	s, err := parseSchedule("*/1 * * * *")
	if err != nil {
		t.Fatal(err)
	}
	if d := nextScheduleTimeDuration(cj, created, s); d != 30*time.Second+nextScheduleDelta {
		t.Fatalf("next in %v", d)
	}
	// Missed ones (none run): from now.
	now := created.Add(5*time.Minute + 10*time.Second)
	if d := nextScheduleTimeDuration(cj, now, s); d != 20*time.Second+nextScheduleDelta {
		t.Fatalf("next in %v after missed", d)
	}
}

// TestBadInputNeverPanics: schedules and time zones the API refuses
// (stored by some other way) make a warning event and no Job.
func TestBadInputNeverPanics(t *testing.T) {
	for _, tc := range []struct {
		name, schedule string
		tz             *string
		want           string
	}{
		{"tz alone", "TZ=UTC", nil, "Warning UnparseableSchedule unparseable schedule: \"TZ=UTC\" : "},
		{"crontz bad zone", "CRON_TZ=Mars/Olympus * * * * *", nil, "Warning UnparseableSchedule"},
		{"garbage", "61 * * * *", nil, "Warning UnparseableSchedule unparseable schedule: \"61 * * * *\" : end of range (61) above maximum (59): 61"},
		{"unknown zone", "* * * * *", ptr.To("Mars/Olympus_Mons"), "Warning UnknownTimeZone invalid timeZone: \"Mars/Olympus_Mons\": unknown time zone Mars/Olympus_Mons"},
		{"never fires", "59 23 31 2 *", nil, "Warning InvalidSchedule invalid schedule: 59 23 31 2 * : time difference between two schedules is less than 1 second"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Date(2026, 3, 2, 10, 5, 0, 0, time.UTC)
			cs := apiClient(t, clocktesting.NewFakeClock(now))
			rec := record.NewFakeRecorder(10)
			c := &Controller{client: cs, clk: clocktesting.NewFakeClock(now), rec: rec}
			cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "bad", Namespace: "default", CreationTimestamp: metav1.NewTime(now.Add(-time.Hour))},
				Spec: batchv1.CronJobSpec{Schedule: tc.schedule, TimeZone: tc.tz}}
			after, _, err := c.syncCronJob(context.Background(), cj, nil, now)
			if after != nil || err != nil {
				t.Fatalf("requeue %v err %v", after, err)
			}
			var evs []string
			for len(rec.Events) > 0 {
				evs = append(evs, <-rec.Events)
			}
			found := false
			for _, ev := range evs {
				found = found || strings.HasPrefix(ev, tc.want)
			}
			if !found {
				t.Fatalf("events %q, want one starting %q", evs, tc.want)
			}
			if l, _ := cs.BatchV1().Jobs("default").List(context.Background(), metav1.ListOptions{}); len(l.Items) != 0 {
				t.Fatalf("a job was made: %v", l.Items)
			}
		})
	}
}

// TestStaleCacheAfterOwnWrite: while the informer still shows the version
// our last status write replaced, a sync does nothing (no second Job for
// a time already run, e.g. after that Job was deleted) and is retried.
func TestStaleCacheAfterOwnWrite(t *testing.T) {
	now := time.Date(2026, 3, 2, 10, 1, 5, 0, time.UTC)
	cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "default", UID: "u1", ResourceVersion: "7",
		CreationTimestamp: metav1.NewTime(now.Add(-time.Minute))},
		Spec: batchv1.CronJobSpec{Schedule: "* * * * *", ConcurrencyPolicy: batchv1.AllowConcurrent,
			JobTemplate: newCronJob("c", "* * * * *", batchv1.AllowConcurrent, nil, nil).Spec.JobTemplate}}
	cs := apiClient(t, clocktesting.NewFakeClock(now))
	cj.UID, cj.ResourceVersion = "", ""
	cj, err := cs.BatchV1().CronJobs("default").Create(context.Background(), cj, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cj.CreationTimestamp = metav1.NewTime(now.Add(-time.Minute))
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	if err := idx.Add(cj); err != nil {
		t.Fatal(err)
	}
	c := &Controller{client: cs, clk: clocktesting.NewFakeClock(now), rec: record.NewFakeRecorder(10),
		cronJobs: batchlisters.NewCronJobLister(idx),
		jobs:     batchlisters.NewJobLister(cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}))}
	c.writtenFrom.Store("default/c", cj.ResourceVersion)
	if _, err := c.sync(context.Background(), "default/c"); !errors.Is(err, errStaleCache) {
		t.Fatalf("sync on a stale cache: %v", err)
	}
	if l, _ := cs.BatchV1().Jobs("default").List(context.Background(), metav1.ListOptions{}); len(l.Items) != 0 {
		t.Fatalf("a job was made from a stale cache: %v", l.Items[0].Name)
	}
	// Once the cache moves on, the sync acts.
	c.writtenFrom.Store("default/c", "an older version")
	at, err := c.sync(context.Background(), "default/c")
	if err != nil || !at.Equal(time.Date(2026, 3, 2, 10, 2, 0, 0, time.UTC).Add(nextScheduleDelta)) {
		t.Fatalf("sync: next %v err %v", at, err)
	}
	if l, _ := cs.BatchV1().Jobs("default").List(context.Background(), metav1.ListOptions{}); len(l.Items) != 1 || l.Items[0].Name != "c-"+minute(time.Date(2026, 3, 2, 10, 1, 0, 0, time.UTC)) {
		t.Fatalf("jobs %v", l.Items)
	}
}
