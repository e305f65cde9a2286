package apiserver

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestServiceAccounts: CRUD through client-go, name validation with
// upstream's message, and kubectl get's columns: NAME AGE, as upstream's
// printer since kubernetes/kubernetes#117160 dropped SECRETS (the field is
// no longer populated since 1.24).
func TestServiceAccounts(t *testing.T) {
	e := newTableEnv(t)
	ctx := context.Background()
	sas := e.cs.CoreV1().ServiceAccounts("default")
	sa, err := sas.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "builder"},
		Secrets: []corev1.ObjectReference{{Name: "a"}, {Name: "b"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sa.UID == "" || sa.Namespace != "default" {
		t.Fatalf("created: %+v", sa)
	}
	sa.Labels = map[string]string{"team": "ci"}
	if sa, err = sas.Update(ctx, sa, metav1.UpdateOptions{}); err != nil || sa.Labels["team"] != "ci" {
		t.Fatalf("update: %+v %v", sa, err)
	}
	_, err = sas.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "Bad_Name"}}, metav1.CreateOptions{})
	wantStatus(t, err, 422, metav1.StatusReasonInvalid,
		`ServiceAccount "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`)
	if _, err := sas.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "ci.bot"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.clock.Step(90 * time.Second)

	k := newKubectl(t, e.url)
	if got, want := k.run(t, "get", "serviceaccounts"), ""+
		"NAME      AGE\n"+
		"builder   90s\n"+
		"ci.bot    90s\n"; got != want {
		t.Errorf("kubectl get serviceaccounts:\n%s\nwant:\n%s", got, want)
	}
	if got, want := k.run(t, "get", "sa", "builder", "-o", "jsonpath={.metadata.labels.team}"), "ci"; got != want {
		t.Errorf("kubectl get sa builder: %q", got)
	}
	k.run(t, "delete", "serviceaccount", "builder")
	l, err := sas.List(ctx, metav1.ListOptions{})
	if err != nil || len(l.Items) != 1 || l.Items[0].Name != "ci.bot" {
		t.Fatalf("after delete: %+v %v", l, err)
	}
}
