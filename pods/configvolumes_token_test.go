package pods

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

// tokenAPI is a fake TokenRequest endpoint that records the requests and
// answers numbered tokens.
type tokenAPI struct {
	mu   sync.Mutex
	clk  *clocktesting.FakeClock
	reqs []string
	fail error
}

func (a *tokenAPI) create(_ context.Context, ns, name string, tr *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail != nil {
		return nil, a.fail
	}
	r := tr.Spec.BoundObjectRef
	a.reqs = append(a.reqs, fmt.Sprintf("%s/%s aud=%v exp=%d bound=%s/%s/%s/%s", ns, name, tr.Spec.Audiences, *tr.Spec.ExpirationSeconds, r.APIVersion, r.Kind, r.Name, r.UID))
	out := tr.DeepCopy()
	out.Status.Token = fmt.Sprintf("token-%d", len(a.reqs))
	out.Status.ExpirationTimestamp = metav1.NewTime(a.clk.Now().Add(time.Duration(*tr.Spec.ExpirationSeconds) * time.Second))
	return out, nil
}

func (a *tokenAPI) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.reqs)
}

// TestProjectedTokenRefresh: a projected serviceAccountToken is requested
// bound to the pod with the projection's audience and lifetime, written
// with the ConfigMap and downward files of the same volume, kept while it
// is fresh, and swapped in (new ..data) past 80% of its lifetime, or 24 h
// after it was issued; a failed refresh keeps the old token; a failed
// first fetch is the kubelet's message.
func TestProjectedTokenRefresh(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 6, 14, 0, 0, 0, time.UTC))
	api := &tokenAPI{clk: clk}
	cfg := &Config{RootDir: t.TempDir(), Clock: clk, ServiceAccountTokens: api.create,
		ConfigMaps: func(_ context.Context, ns, name string) (*corev1.ConfigMap, error) {
			return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Data: map[string]string{"ca.crt": "CA"}}, nil
		}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "uid-1"},
		Spec: corev1.PodSpec{ServiceAccountName: "builder", Containers: []corev1.Container{{Name: "c"}}}}
	vol := corev1.Volume{Name: "kube-api-access-x", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		DefaultMode: ptr.To[int32](0o644),
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr.To[int64](3607)}},
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "vault/token", Audience: "vault", ExpirationSeconds: ptr.To[int64](100000)}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}, Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
		}}}}
	pod.Spec.Volumes = []corev1.Volume{vol}
	w := NewWorker(cfg, pod)
	dir := w.volumeDir(&vol)
	read := func(f string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	sync := func() string {
		t.Helper()
		if err := w.syncConfigVolume(&vol); err != nil {
			t.Fatal(err)
		}
		l, _ := os.Readlink(filepath.Join(dir, "..data"))
		return l
	}
	data := sync()
	if read("token") != "token-1" || read("vault/token") != "token-2" || read("ca.crt") != "CA" || read("namespace") != "ns" {
		t.Fatalf("payload: %q %q %q %q", read("token"), read("vault/token"), read("ca.crt"), read("namespace"))
	}
	want := []string{"ns/builder aud=[] exp=3607 bound=v1/Pod/p/uid-1", "ns/builder aud=[vault] exp=100000 bound=v1/Pod/p/uid-1"}
	if strings.Join(api.reqs, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(api.reqs, "\n"), strings.Join(want, "\n"))
	}
	if fi, err := os.Stat(filepath.Join(dir, "token")); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("token file mode: %v %v", fi, err)
	}
	// Fresh: nothing requested, nothing rewritten.
	clk.Step(2885 * time.Second) // 3607*0.8 = 2885.6
	if d := sync(); d != data || api.count() != 2 {
		t.Errorf("fresh token: ..data %s -> %s, %d requests", data, d, api.count())
	}
	clk.Step(time.Second)
	d := sync()
	if d == data || read("token") != "token-3" || read("vault/token") != "token-2" || api.count() != 3 {
		t.Errorf("at 80%%: ..data %s -> %s, token %q, vault %q, %d requests", data, d, read("token"), read("vault/token"), api.count())
	}
	// The long-lived token is refreshed a day after it was issued.
	clk.Step(24*time.Hour - 2886*time.Second)
	sync()
	if read("vault/token") != "token-5" || read("token") != "token-4" { // the 3607 s one too, in source order
		t.Errorf("tokens after 24h: %q %q", read("token"), read("vault/token"))
	}
	// A failed refresh keeps the volume as it was.
	api.fail = errors.New(`serviceaccounts "builder" not found`)
	clk.Step(time.Hour)
	if err := w.syncConfigVolume(&vol); err == nil || err.Error() != `failed to fetch token: serviceaccounts "builder" not found` {
		t.Errorf("failed refresh: %v", err)
	}
	if read("token") != "token-4" || read("vault/token") != "token-5" {
		t.Errorf("token after a failed refresh: %q", read("token"))
	}
	// The first fetch failing is the pod's FailedMount message.
	w2 := NewWorker(cfg, pod.DeepCopy())
	w2.podDir = t.TempDir()
	if err := w2.setupConfigVolumes(); err == nil || err.Error() != `MountVolume.SetUp failed for volume "kube-api-access-x" : failed to fetch token: serviceaccounts "builder" not found` {
		t.Errorf("first fetch failing: %v", err)
	}
}

// tokenNeedsRefresh is the kubelet's rule.
func TestTokenNeedsRefresh(t *testing.T) {
	now := time.Date(2026, 12, 6, 14, 0, 0, 0, time.UTC)
	tr := func(exp int64, issued time.Time) *authenticationv1.TokenRequest {
		return &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &exp},
			Status: authenticationv1.TokenRequestStatus{ExpirationTimestamp: metav1.NewTime(issued.Add(time.Duration(exp) * time.Second))}}
	}
	for _, tc := range []struct {
		exp   int64
		age   time.Duration
		fresh bool
	}{
		{3600, 0, true}, {3600, 2879 * time.Second, true}, {3600, 2881 * time.Second, false},
		{600, 479 * time.Second, true}, {600, 481 * time.Second, false},
		{1 << 30, 23 * time.Hour, true}, {1 << 30, 24*time.Hour + time.Second, false},
	} {
		if got := !tokenNeedsRefresh(tr(tc.exp, now.Add(-tc.age)), now); got != tc.fresh {
			t.Errorf("exp %d age %v: fresh %v, want %v", tc.exp, tc.age, got, tc.fresh)
		}
	}
	if !tokenNeedsRefresh(nil, now) {
		t.Error("no token: not refreshed")
	}
}
