package cli

// wasmpod create job NAME --from=cronjob/X against the real kubectl
// v1.37.2 (internal/testkubectl) on the same API server: the same Job
// object, the same output and the same errors.

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// normalJob is a Job as JSON with what must differ between two Jobs made
// alike blanked: its name and UID (also in the generated selector and
// labels), resourceVersion, creationTimestamp and the managedFields'
// times.
func normalJob(t *testing.T, j *batchv1.Job) string {
	t.Helper()
	j = j.DeepCopy()
	j.ResourceVersion, j.CreationTimestamp = "", metav1.Time{}
	for i := range j.ManagedFields {
		j.ManagedFields[i].Time = nil
	}
	b, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), string(j.UID), "<uid>")
	return strings.ReplaceAll(s, `"`+j.Name+`"`, `"<name>"`)
}

func TestCreateJobFromCronJob(t *testing.T) {
	g := newGoldenEnv(t)
	ctx := context.Background()
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "hello"},
		Spec: batchv1.CronJobSpec{
			Schedule: "*/5 * * * *",
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "hello"}, Annotations: map[string]string{"team": "blue"}},
				Spec: batchv1.JobSpec{
					BackoffLimit: ptr.To[int32](2),
					Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
						RestartPolicy: corev1.RestartPolicyOnFailure,
						Containers:    []corev1.Container{{Name: "hello", Image: "busybox", Command: []string{"sh", "-c", "date; echo Hello"}}},
					}},
				},
			},
		},
	}
	cj, err := g.cs.BatchV1().CronJobs("default").Create(ctx, cj, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := g.kubectlRun("create", "job", "by-kubectl", "--from=cronjob/hello"); code != 0 || out != "job.batch/by-kubectl created\n" {
		t.Fatalf("kubectl create job: %d %q %q", code, out, errOut)
	}
	// Flags before or after the arguments, as kubectl takes them.
	if out := g.ok("create", "job", "by-wasmpod", "--from=cronjob/hello"); out != "job.batch/by-wasmpod created\n" {
		t.Fatalf("wasmpod create job: %q", out)
	}
	if out := g.ok("create", "--from", "cj/hello", "job", "by-wasmpod-2"); out != "job.batch/by-wasmpod-2 created\n" {
		t.Fatalf("wasmpod create --from cj/hello job: %q", out)
	}
	get := func(name string) *batchv1.Job {
		j, err := g.cs.BatchV1().Jobs("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	kj, wj := get("by-kubectl"), get("by-wasmpod")
	if a, b := normalJob(t, kj), normalJob(t, wj); a != b {
		t.Fatalf("the Jobs differ:\nkubectl: %s\nwasmpod: %s", a, b)
	}
	// What they are (so the comparison is not of two wrong Jobs).
	if wj.Annotations[instantiateAnnotation] != "manual" || wj.Annotations["team"] != "blue" || wj.Labels["app"] != "hello" {
		t.Errorf("job metadata %v %v", wj.Labels, wj.Annotations)
	}
	ref := metav1.GetControllerOf(wj)
	if ref == nil || ref.Kind != "CronJob" || ref.Name != "hello" || ref.UID != cj.UID || ref.BlockOwnerDeletion != nil {
		t.Errorf("owner reference %+v", wj.OwnerReferences)
	}
	if *wj.Spec.BackoffLimit != 2 || wj.Spec.Template.Spec.Containers[0].Command[2] != "date; echo Hello" {
		t.Errorf("job spec is not the template's: %+v", wj.Spec)
	}

	// Errors: as kubectl's, word for word (but the command's name).
	for _, tc := range []struct {
		args []string
	}{
		{[]string{"create", "job", "x", "--from=cronjob/missing"}},
		{[]string{"create", "job", "by-kubectl", "--from=cronjob/hello"}},
		{[]string{"create", "job", "x"}},
		{[]string{"create", "job", "x", "--from=cronjob/hello", "--", "date"}},
	} {
		_, kerr, kcode := g.kubectlRun(tc.args...)
		_, werr, wcode := g.run(tc.args...)
		if kcode != 1 || wcode != kcode || werr != kerr {
			t.Errorf("%v: wasmpod %d %q, kubectl %d %q", tc.args, wcode, werr, kcode, kerr)
		}
	}
	if errOut := g.fail(1, "create", "job"); !strings.HasPrefix(errOut, "error: NAME is required\n") {
		t.Errorf("no name: %q", errOut)
	}
	if errOut := g.fail(1, "create", "job", "y", "--from=hello"); !strings.Contains(errOut, "from must be an existing cronjob") {
		t.Errorf("--from=hello: %q", errOut)
	}
	if errOut := g.fail(1, "create", "job", "y", "--from=pod/hello"); !strings.Contains(errOut, "from must be an existing cronjob") {
		t.Errorf("--from=pod/hello: %q", errOut)
	}
	if errOut := g.fail(1, "create", "-f", "x.yaml", "--from=cronjob/hello"); !strings.Contains(errOut, "create job") {
		t.Errorf("--from without job: %q", errOut)
	}
	// Another namespace: -n.
	if _, err := g.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "other"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cj.Namespace, cj.ResourceVersion, cj.UID = "other", "", ""
	if _, err := g.cs.BatchV1().CronJobs("other").Create(ctx, cj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if out := g.ok("create", "job", "in-other", "--from=cronjob/hello", "-n", "other"); out != "job.batch/in-other created\n" {
		t.Fatalf("-n other: %q", out)
	}
	if _, err := g.cs.BatchV1().Jobs("other").Get(ctx, "in-other", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
}
