package apiserver

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestServiceAccountAdmission: with a root CA, pods get upstream's
// kube-api-access volume in every container that mounts nothing at the
// token path (read with the real kubectl), serviceAccountName "default",
// and honour automountServiceAccountToken (pod over service account); a
// missing service account is 403 with upstream's message; without a root
// CA pods are stored as sent.
func TestServiceAccountAdmission(t *testing.T) {
	e := newTokenEnv(t)
	ctx := context.Background()
	admin := e.kubectlAs(t, tokenEnvAdmin)
	pods := e.admin.CoreV1().Pods("default")
	mk := func(name string, mut func(*corev1.Pod)) (*corev1.Pod, error) {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init", Image: "wasmpod.local/x:1"}},
			Containers:     []corev1.Container{{Name: "a", Image: "wasmpod.local/x:1"}, {Name: "b", Image: "wasmpod.local/x:1"}}}}
		if mut != nil {
			mut(p)
		}
		return pods.Create(ctx, p, metav1.CreateOptions{})
	}
	// No root CA: nothing changes.
	p, err := mk("plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.ServiceAccountName != "" || len(p.Spec.Volumes) != 0 {
		t.Errorf("without a root CA: serviceAccountName %q, volumes %v", p.Spec.ServiceAccountName, p.Spec.Volumes)
	}

	e.s.SetRootCA([]byte("CA"))
	p, err = mk("p", func(p *corev1.Pod) {
		p.Spec.Containers[1].VolumeMounts = []corev1.VolumeMount{{Name: "own", MountPath: DefaultAPITokenMountPath}}
		p.Spec.Volumes = []corev1.Volume{{Name: "own", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.ServiceAccountName != "default" || len(p.Spec.Volumes) != 2 {
		t.Fatalf("admitted pod: serviceAccountName %q, volumes %+v", p.Spec.ServiceAccountName, p.Spec.Volumes)
	}
	v := p.Spec.Volumes[1]
	if !regexp.MustCompile(`^kube-api-access-[a-z0-9]{5}$`).MatchString(v.Name) {
		t.Errorf("volume name %q", v.Name)
	}
	want := &corev1.ProjectedVolumeSource{DefaultMode: ptr.To[int32](0o644), Sources: []corev1.VolumeProjection{
		{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr.To[int64](3607)}},
		{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}, Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
		{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
	}}
	if !reflect.DeepEqual(v.Projected, want) {
		t.Errorf("projected source:\n%+v\nwant\n%+v", v.Projected, want)
	}
	// As kubectl shows it: the init container and "a" mount it read-only,
	// "b" keeps its own mount.
	got := admin.run(t, "get", "pod", "p", "-o", `jsonpath={range .spec.initContainers[*]}{.name}:{.volumeMounts}{"\n"}{end}{range .spec.containers[*]}{.name}:{.volumeMounts}{"\n"}{end}`)
	wantMounts := "init:[{\"mountPath\":\"/var/run/secrets/kubernetes.io/serviceaccount\",\"name\":\"" + v.Name + "\",\"readOnly\":true}]\n" +
		"a:[{\"mountPath\":\"/var/run/secrets/kubernetes.io/serviceaccount\",\"name\":\"" + v.Name + "\",\"readOnly\":true}]\n" +
		"b:[{\"mountPath\":\"/var/run/secrets/kubernetes.io/serviceaccount\",\"name\":\"own\"}]\n"
	if got != wantMounts {
		t.Errorf("mounts (kubectl):\n%s\nwant:\n%s", got, wantMounts)
	}

	// automountServiceAccountToken: the pod's wins over the account's.
	if _, err := e.admin.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "quiet"},
		AutomountServiceAccountToken: ptr.To(false)}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, sa string
		pod      *bool
		volumes  int
	}{
		{"pod-off", "", ptr.To(false), 0},
		{"sa-off", "quiet", nil, 0},
		{"pod-on", "quiet", ptr.To(true), 1},
	} {
		p, err := mk(tc.name, func(p *corev1.Pod) {
			p.Spec.ServiceAccountName, p.Spec.AutomountServiceAccountToken = tc.sa, tc.pod
		})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(p.Spec.Volumes) != tc.volumes || len(p.Spec.Containers[0].VolumeMounts) != tc.volumes {
			t.Errorf("%s: volumes %v mounts %v", tc.name, p.Spec.Volumes, p.Spec.Containers[0].VolumeMounts)
		}
	}

	// A missing account, through kubectl.
	f := filepath.Join(t.TempDir(), "pod.yaml")
	if err := os.WriteFile(f, []byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: ghostly\nspec:\n  serviceAccountName: ghost\n  containers:\n  - name: c\n    image: wasmpod.local/x:1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	admin.wantFail(t, `Error from server (Forbidden): error when creating "`+f+`": pods "ghostly" is forbidden: error looking up service account default/ghost: serviceaccount "ghost" not found`, "create", "-f", f)
	if _, err := mk("ghost2", func(p *corev1.Pod) { p.Spec.ServiceAccountName = "ghost" }); !apierrors.IsForbidden(err) {
		t.Errorf("missing account: %v", err)
	}
	// A namespace without its default account yet (no controller here):
	// refused after the retries.
	if _, err := e.admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "fresh"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = e.admin.CoreV1().Pods("fresh").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "wasmpod.local/x:1"}}}}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `error looking up service account fresh/default: serviceaccount "default" not found`) {
		t.Errorf("fresh namespace: %v", err)
	}
}
