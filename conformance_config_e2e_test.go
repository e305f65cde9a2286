package wasmpod_test

// Conformance: upstream test/e2e/common/node configmap.go, secrets.go and
// downwardapi.go, and test/e2e/common/storage configmap_volume.go,
// secrets_volume.go, projected_configmap.go, projected_secret.go,
// projected_downwardapi.go and downwardapi_volume.go (docs/conformance.md).
// One cluster, parallel subtests; each names the upstream test it follows.
//
// Upstream reads volumes with agnhost mounttest (--file_content,
// --file_mode); here busybox cats the file. WASI preview 1 has no
// permission bits (a guest's stat says 0600 for every file), so a file's
// mode is checked where the node wrote it, under the data directory.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestConformanceConfig(t *testing.T) {
	t.Parallel()
	cc := newConformanceCluster(t)
	g := newGroup(t)
	defer g.Wait()
	ctx := context.Background()
	cms := cc.cs.CoreV1().ConfigMaps("default")
	secrets := cc.cs.CoreV1().Secrets("default")
	pods := cc.cs.CoreV1().Pods("default")
	data3 := map[string]string{"data-1": "value-1", "data-2": "value-2", "data-3": "value-3"}
	newCM := func(t *testing.T, name string) {
		t.Helper()
		if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: data3}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// upstream's secretForTest: values with a newline.
	newSecret := func(t *testing.T, ns, name string) {
		t.Helper()
		if _, err := cc.cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name},
			Data: map[string][]byte{"data-1": []byte("value-1\n"), "data-2": []byte("value-2\n"), "data-3": []byte("value-3\n")}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	envPod := func(name string) *corev1.Pod { return busyboxPod(name, "sh", "-c", "env") }

	// [sig-node] ConfigMap should be consumable via environment variable
	// [NodeConformance] [Conformance]
	g.Run("configmap env var", func(t *testing.T) {
		newCM(t, "configmap-test-env")
		p := envPod("pod-configmaps-env")
		p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "CONFIG_DATA_1", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "configmap-test-env"}, Key: "data-1"}}}}
		cc.wantOutput(t, p, "CONFIG_DATA_1=value-1")
	})

	// [sig-node] ConfigMap should be consumable via the environment
	// [NodeConformance] [Conformance]
	g.Run("configmap envFrom", func(t *testing.T) {
		newCM(t, "configmap-test-envfrom")
		p := envPod("pod-configmaps-envfrom")
		ref := &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "configmap-test-envfrom"}}
		p.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: ref}, {Prefix: "p-", ConfigMapRef: ref}}
		cc.wantOutput(t, p, "data-1=value-1", "data-2=value-2", "data-3=value-3", "p-data-1=value-1", "p-data-2=value-2", "p-data-3=value-3")
	})

	// [sig-node] ConfigMap should fail to create ConfigMap with empty key
	// [Conformance]; [sig-node] Secrets should fail to create secret due
	// to empty secret key [Conformance]
	g.Run("empty key", func(t *testing.T) {
		_, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "configmap-test-emptykey"}, Data: map[string]string{"": "value-1"}}, metav1.CreateOptions{})
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "data[]") {
			t.Errorf("ConfigMap with an empty key: %v", err)
		}
		_, err = secrets.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "secret-emptykey-test"}, Data: map[string][]byte{"": []byte("value-1\n")}}, metav1.CreateOptions{})
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "data[]") {
			t.Errorf("Secret with an empty key: %v", err)
		}
	})

	// [sig-node] ConfigMap should run through a ConfigMap lifecycle [Conformance]
	g.Run("configmap lifecycle", func(t *testing.T) {
		name := "test-configmap-lifecycle"
		if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"test-configmap-static": "true"}},
			Data: map[string]string{"valueName": "value"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		got, err := cms.Get(ctx, name, metav1.GetOptions{})
		if err != nil || got.Data["valueName"] != "value" || got.Labels["test-configmap-static"] != "true" {
			t.Fatalf("get: %v %v", got, err)
		}
		patch, _ := json.Marshal(corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"test-configmap": "patched"}}, Data: map[string]string{"valueName": "value1"}})
		if _, err := cms.Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		l, err := cc.cs.CoreV1().ConfigMaps("").List(ctx, metav1.ListOptions{LabelSelector: "test-configmap=patched"})
		if err != nil || len(l.Items) != 1 || l.Items[0].Data["valueName"] != "value1" || l.Items[0].Labels["test-configmap-static"] != "true" {
			t.Fatalf("list in all namespaces by the patched label: %v %v", l, err)
		}
		if err := cms.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "test-configmap-static=true"}); err != nil {
			t.Fatal(err)
		}
		if l, err := cms.List(ctx, metav1.ListOptions{LabelSelector: "test-configmap-static=true"}); err != nil || len(l.Items) != 0 {
			t.Errorf("after DeleteCollection: %v %v", l, err)
		}
	})

	// [sig-node] Secrets should be consumable from pods in env vars
	// [NodeConformance] [Conformance]
	g.Run("secret env var", func(t *testing.T) {
		newSecret(t, "default", "secret-test-env")
		p := envPod("pod-secrets-env")
		p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "SECRET_DATA", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "secret-test-env"}, Key: "data-1"}}}}
		cc.wantOutput(t, p, "SECRET_DATA=value-1")
	})

	// [sig-node] Secrets should be consumable via the environment
	// [NodeConformance] [Conformance]
	g.Run("secret envFrom", func(t *testing.T) {
		newSecret(t, "default", "secret-test-envfrom")
		p := envPod("pod-secrets-envfrom")
		ref := &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "secret-test-envfrom"}}
		p.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{SecretRef: ref}, {Prefix: "p-", SecretRef: ref}}
		cc.wantOutput(t, p, "data-1=value-1", "data-2=value-2", "data-3=value-3", "p-data-1=value-1", "p-data-2=value-2", "p-data-3=value-3")
	})

	// [sig-node] Secrets should patch a secret [Conformance]
	g.Run("secret patch", func(t *testing.T) {
		name := "test-secret-patch"
		if _, err := secrets.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"testsecret-constant": "true"}},
			Data: map[string][]byte{"key": []byte("value")}, Type: "Opaque"}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		l, err := cc.cs.CoreV1().Secrets("").List(ctx, metav1.ListOptions{LabelSelector: "testsecret-constant=true"})
		if err != nil || len(l.Items) == 0 {
			t.Fatalf("list: %v %v", l, err)
		}
		patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]string{"testsecret": "true"}},
			"data": map[string][]byte{"key": []byte(base64.StdEncoding.EncodeToString([]byte("value1")))}})
		if _, err := secrets.Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		got, err := secrets.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if dec, err := base64.StdEncoding.DecodeString(string(got.Data["key"])); err != nil || string(dec) != "value1" {
			t.Errorf("patched data %q (%v)", got.Data["key"], err)
		}
		if err := secrets.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "testsecret=true"}); err != nil {
			t.Fatal(err)
		}
		l, _ = cc.cs.CoreV1().Secrets("").List(ctx, metav1.ListOptions{LabelSelector: "testsecret-constant=true"})
		for _, s := range l.Items {
			if s.Name == name {
				t.Errorf("secret %s not deleted", name)
			}
		}
	})

	dapiPod := func(name string, env ...corev1.EnvVar) *corev1.Pod {
		p := envPod(name)
		p.Spec.Containers[0].Env = env
		p.Spec.Containers[0].Resources = corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1250m"), corev1.ResourceMemory: resource.MustParse("64Mi")}}
		return p
	}
	field := func(name, path string) corev1.EnvVar {
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: path}}}
	}
	resourceEnv := func(name, res string) corev1.EnvVar {
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: res}}}
	}
	wantRegexp := func(t *testing.T, out string, res ...string) {
		t.Helper()
		for _, r := range res {
			if !regexp.MustCompile(r).MatchString(out) {
				t.Errorf("output lacks %s:\n%s", r, out)
			}
		}
	}

	// [sig-node] Downward API should provide pod name, namespace and IP
	// address as env vars [NodeConformance] [Conformance]
	g.Run("downward env name namespace ip", func(t *testing.T) {
		out := cc.output(t, dapiPod("downward-api-env-name", field("POD_NAME", "metadata.name"), field("POD_NAMESPACE", "metadata.namespace"), field("POD_IP", "status.podIP")))
		wantRegexp(t, out, `(?m)^POD_NAME=downward-api-env-name$`, `(?m)^POD_NAMESPACE=default$`, `(?m)^POD_IP=\d+\.\d+\.\d+\.\d+$`)
	})

	// [sig-node] Downward API should provide host IP as an env var
	// [NodeConformance] [Conformance]
	g.Run("downward env host ip", func(t *testing.T) {
		wantRegexp(t, cc.output(t, dapiPod("downward-api-env-hostip", field("HOST_IP", "status.hostIP"))), `(?m)^HOST_IP=\d+\.\d+\.\d+\.\d+$`)
	})

	// [sig-node] Downward API should provide container's
	// limits.cpu/memory and requests.cpu/memory as env vars
	// [NodeConformance] [Conformance]
	g.Run("downward env resources", func(t *testing.T) {
		p := dapiPod("downward-api-env-resources", resourceEnv("CPU_LIMIT", "limits.cpu"), resourceEnv("MEMORY_LIMIT", "limits.memory"),
			resourceEnv("CPU_REQUEST", "requests.cpu"), resourceEnv("MEMORY_REQUEST", "requests.memory"))
		cc.wantOutput(t, p, "CPU_LIMIT=2", "MEMORY_LIMIT=67108864", "CPU_REQUEST=1", "MEMORY_REQUEST=33554432")
	})

	// [sig-node] Downward API should provide default limits.cpu/memory
	// from node allocatable [NodeConformance] [Conformance]
	g.Run("downward env default limits", func(t *testing.T) {
		p := envPod("downward-api-env-default")
		p.Spec.Containers[0].Env = []corev1.EnvVar{resourceEnv("CPU_LIMIT", "limits.cpu"), resourceEnv("MEMORY_LIMIT", "limits.memory")}
		wantRegexp(t, cc.output(t, p), `(?m)^CPU_LIMIT=[1-9]`, `(?m)^MEMORY_LIMIT=[1-9]`)
	})

	// [sig-node] Downward API should provide pod UID as env vars
	// [NodeConformance] [Conformance]
	g.Run("downward env uid", func(t *testing.T) {
		wantRegexp(t, cc.output(t, dapiPod("downward-api-env-uid", field("POD_UID", "metadata.uid"))), `(?m)^POD_UID=[a-z0-9]{8}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{12}$`)
	})

	// Volumes of ConfigMaps and Secrets, plain and projected.
	type kind struct {
		name, mount string // test name prefix, upstream's mount directory
		secret      bool
		projected   bool
	}
	kinds := []kind{
		{"configmap volume", "/etc/configmap-volume", false, false},
		{"secret volume", "/etc/secret-volume", true, false},
		{"projected configmap", "/etc/projected-configmap-volume", false, true},
		{"projected secret", "/etc/projected-secret-volume", true, true},
	}
	// volume is a volume of the kind naming object obj.
	volume := func(k kind, vol, obj string, items []corev1.KeyToPath, defaultMode *int32, optional *bool) corev1.Volume {
		v := corev1.Volume{Name: vol}
		switch {
		case k.projected && k.secret:
			v.Projected = &corev1.ProjectedVolumeSource{DefaultMode: defaultMode, Sources: []corev1.VolumeProjection{{Secret: &corev1.SecretProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: obj}, Items: items, Optional: optional}}}}
		case k.projected:
			v.Projected = &corev1.ProjectedVolumeSource{DefaultMode: defaultMode, Sources: []corev1.VolumeProjection{{ConfigMap: &corev1.ConfigMapProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: obj}, Items: items, Optional: optional}}}}
		case k.secret:
			v.Secret = &corev1.SecretVolumeSource{SecretName: obj, Items: items, DefaultMode: defaultMode, Optional: optional}
		default:
			v.ConfigMap = &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: obj}, Items: items, DefaultMode: defaultMode, Optional: optional}
		}
		return v
	}
	newObj := func(t *testing.T, k kind, name string) {
		t.Helper()
		if k.secret {
			newSecret(t, "default", name)
		} else {
			newCM(t, name)
		}
	}
	updateObj := func(t *testing.T, k kind, name, key, value string) {
		t.Helper()
		var err error
		if k.secret {
			_, err = secrets.Patch(ctx, name, types.MergePatchType, fmt.Appendf(nil, `{"data":{%q:%q}}`, key, base64.StdEncoding.EncodeToString([]byte(value))), metav1.PatchOptions{})
		} else {
			_, err = cms.Patch(ctx, name, types.MergePatchType, fmt.Appendf(nil, `{"data":{%q:%q}}`, key, value), metav1.PatchOptions{})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// value is what cat prints for data-N of the object.
	value := func(k kind, n int) string {
		if k.secret {
			return fmt.Sprintf("value-%d\n", n)
		}
		return fmt.Sprintf("value-%d", n)
	}
	// volPod mounts vols at their directories and cats files.
	volPod := func(name string, vols []corev1.Volume, mounts []corev1.VolumeMount, files ...string) *corev1.Pod {
		cmd := ""
		for _, f := range files {
			cmd += "cat " + f + "; echo; "
		}
		p := busyboxPod(name, "sh", "-c", cmd)
		p.Spec.Volumes = vols
		p.Spec.Containers[0].VolumeMounts = mounts
		return p
	}
	// hostMode is the permission bits of a volume's file as the node wrote it.
	hostMode := func(t *testing.T, pod, vol, file string) os.FileMode {
		t.Helper()
		m, _ := filepath.Glob(filepath.Join(cc.dataDir, "nodes", "*", "pods", "default_"+pod+"_*", "volumes", vol, file))
		if len(m) != 1 {
			t.Fatalf("%s of volume %s of pod %s on the host: %v", file, vol, pod, m)
		}
		fi, err := os.Stat(m[0])
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	uid, gid := int64(1000), int64(1001)
	nonRoot := func(p *corev1.Pod, fsGroup bool) {
		p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: &uid}
		if fsGroup {
			p.Spec.SecurityContext.FSGroup = &gid
		}
	}
	mode := func(m int32) *int32 { return &m }
	yes := true

	for _, k := range kinds {
		k := k
		slug := strings.ReplaceAll(k.name, " ", "-")
		// consume mounts the object at k.mount and checks data-1 (or the
		// mapped path), then the file's mode on the host.
		consume := func(t *testing.T, name string, items []corev1.KeyToPath, defaultMode *int32, file string, wantMode os.FileMode, edit func(*corev1.Pod)) {
			t.Helper()
			newObj(t, k, name)
			p := volPod(name, []corev1.Volume{volume(k, "vol", name, items, defaultMode, nil)},
				[]corev1.VolumeMount{{Name: "vol", MountPath: k.mount}}, k.mount+"/"+file)
			if edit != nil {
				edit(p)
			}
			// Running on after the cat, for the mode check on the host.
			p.Spec.Containers[0].Args = []string{p.Spec.Containers[0].Command[2] + "sleep 3600"}
			p.Spec.Containers[0].Command = p.Spec.Containers[0].Command[:2]
			cc.create(t, p)
			want := value(k, 1) + "\n"
			for end := time.Now().Add(time.Minute); cc.tryLogs(name, "c") != want; time.Sleep(100 * time.Millisecond) {
				if time.Now().After(end) {
					t.Fatalf("%s: %q, want %q", file, cc.tryLogs(name, "c"), want)
				}
			}
			if got := hostMode(t, name, "vol", file); got != wantMode {
				t.Errorf("mode of %s: %#o, want %#o", file, got, wantMode)
			}
			cc.deleteAndWait(t, name, metav1.DeleteOptions{})
		}
		mapping := []corev1.KeyToPath{{Key: "data-1", Path: "path/to/data-2"}}

		// [sig-storage] ConfigMap|Secrets|Projected configMap|Projected
		// secret should be consumable from pods in volume [NodeConformance]
		// [Conformance]
		g.Run(k.name+" plain", func(t *testing.T) {
			consume(t, slug+"-plain", nil, nil, "data-1", 0o644, nil)
		})
		// ... should be consumable from pods in volume with defaultMode set
		// [LinuxOnly] [NodeConformance] [Conformance]
		g.Run(k.name+" defaultMode", func(t *testing.T) {
			consume(t, slug+"-defaultmode", nil, mode(0o400), "data-1", 0o400, nil)
		})
		// ConfigMap, Projected configMap: ... should be consumable from
		// pods in volume as non-root [NodeConformance] [Conformance];
		// Secrets, Projected secret: ... as non-root with defaultMode and
		// fsGroup set [LinuxOnly] [NodeConformance] [Conformance]. A wasm
		// guest has no uid; the pod must run and read the file. The fsGroup
		// makes the node write the file group-readable (0440).
		g.Run(k.name+" non-root", func(t *testing.T) {
			if k.secret {
				consume(t, slug+"-nonroot", nil, mode(0o440), "data-1", 0o440, func(p *corev1.Pod) { nonRoot(p, true) })
			} else {
				consume(t, slug+"-nonroot", nil, nil, "data-1", 0o644, func(p *corev1.Pod) { nonRoot(p, false) })
			}
		})
		// ... should be consumable from pods in volume with mappings
		// [NodeConformance] [Conformance]
		g.Run(k.name+" mappings", func(t *testing.T) {
			consume(t, slug+"-map", mapping, nil, "path/to/data-2", 0o644, nil)
		})
		// ... should be consumable from pods in volume with mappings and
		// Item mode set [LinuxOnly] [NodeConformance] [Conformance]
		g.Run(k.name+" mappings item mode", func(t *testing.T) {
			consume(t, slug+"-map-mode", []corev1.KeyToPath{{Key: "data-1", Path: "path/to/data-2", Mode: mode(0o400)}}, nil, "path/to/data-2", 0o400, nil)
		})
		if !k.secret {
			// ConfigMap, Projected configMap: ... should be consumable from
			// pods in volume with mappings as non-root [NodeConformance] [Conformance]
			g.Run(k.name+" mappings non-root", func(t *testing.T) {
				consume(t, slug+"-map-nonroot", mapping, nil, "path/to/data-2", 0o644, func(p *corev1.Pod) { nonRoot(p, false) })
			})
		}
		// ... should be consumable in multiple volumes in the same pod
		// [NodeConformance] [Conformance]
		g.Run(k.name+" multiple volumes", func(t *testing.T) {
			name := slug + "-multi"
			newObj(t, k, name)
			p := volPod(name, []corev1.Volume{volume(k, "vol-1", name, nil, nil, nil), volume(k, "vol-2", name, nil, nil, nil)},
				[]corev1.VolumeMount{{Name: "vol-1", MountPath: k.mount}, {Name: "vol-2", MountPath: k.mount + "-2"}},
				k.mount+"/data-1", k.mount+"-2/data-1")
			if out, want := cc.output(t, p), value(k, 1)+"\n"+value(k, 1)+"\n"; out != want {
				t.Errorf("output %q, want %q", out, want)
			}
		})
		if !k.secret {
			// ConfigMap, Projected configMap: updates should be reflected in
			// volume [NodeConformance] [Conformance]
			g.Run(k.name+" updates", func(t *testing.T) {
				name := slug + "-upd"
				newObj(t, k, name)
				p := busyboxPod(name, "sh", "-c", "while true; do cat "+k.mount+"/data-1; echo; sleep 1; done")
				p.Spec.Volumes = []corev1.Volume{volume(k, "vol", name, nil, nil, nil)}
				p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "vol", MountPath: k.mount}}
				cc.create(t, p)
				waitFor(t, "value-1", time.Minute, func() bool { return strings.Contains(cc.tryLogs(name, "c"), "value-1") })
				updateObj(t, k, name, "data-1", "value-2")
				waitFor(t, "value-2 after the update", time.Minute, func() bool { return strings.Contains(cc.tryLogs(name, "c"), "value-2") })
			})
		}
		// ... optional updates should be reflected in volume
		// [NodeConformance] [Conformance]: of three optional objects, one
		// deleted, one updated and one created after the pod, each change
		// reaches the running container.
		g.Run(k.name+" optional updates", func(t *testing.T) {
			del, upd, create := slug+"-opt-del", slug+"-opt-upd", slug+"-opt-create"
			newObj(t, k, del)
			newObj(t, k, upd)
			loop := fmt.Sprintf("while true; do echo del=$(cat %[1]s-del/data-1) upd=$(cat %[1]s-upd/data-3) create=$(cat %[1]s-create/data-1); sleep 1; done", k.mount)
			p := busyboxPod(slug+"-opt", "sh", "-c", loop)
			p.Spec.Volumes = []corev1.Volume{volume(k, "del", del, nil, nil, &yes), volume(k, "upd", upd, nil, nil, &yes), volume(k, "create", create, nil, nil, &yes)}
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "del", MountPath: k.mount + "-del"}, {Name: "upd", MountPath: k.mount + "-upd"}, {Name: "create", MountPath: k.mount + "-create"}}
			cc.create(t, p)
			lastLine := func() string {
				lines := strings.Split(strings.TrimSpace(cc.tryLogs(p.Name, "c")), "\n")
				return lines[len(lines)-1]
			}
			waitFor(t, "the first contents", time.Minute, func() bool { return lastLine() == "del=value-1 upd=value-3 create=" })
			var err error
			if k.secret {
				err = secrets.Delete(ctx, del, metav1.DeleteOptions{})
			} else {
				err = cms.Delete(ctx, del, metav1.DeleteOptions{})
			}
			if err != nil {
				t.Fatal(err)
			}
			updateObj(t, k, upd, "data-3", "value-3-updated")
			newObj(t, k, create)
			for end := time.Now().Add(time.Minute); lastLine() != "del= upd=value-3-updated create=value-1"; time.Sleep(200 * time.Millisecond) {
				if time.Now().After(end) {
					t.Fatalf("after the changes: %q", lastLine())
				}
			}
		})
	}

	// [sig-storage] ConfigMap binary data should be reflected in volume
	// [NodeConformance] [Conformance]
	g.Run("configmap volume binary data", func(t *testing.T) {
		bin := []byte{0xde, 0xca, 0xfe, 0xba, 0xd0, 0xfe, 0xca, 0xfe, 0xba, 0xd0, 0x00, 0xff}
		if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "configmap-test-binary"}, Data: map[string]string{"data-1": "value-1"},
			BinaryData: map[string][]byte{"dump.bin": bin}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		p := volPod("configmap-volume-binary", []corev1.Volume{volume(kinds[0], "vol", "configmap-test-binary", nil, nil, nil)},
			[]corev1.VolumeMount{{Name: "vol", MountPath: "/etc/configmap-volume"}}, "/etc/configmap-volume/data-1", "/etc/configmap-volume/dump.bin")
		if out, want := cc.output(t, p), "value-1\n"+string(bin)+"\n"; out != want {
			t.Errorf("output %q, want %q", out, want)
		}
	})

	// [sig-storage] ConfigMap should be immutable if `immutable` field is
	// set [Conformance]; [sig-storage] Secrets should be immutable if
	// `immutable` field is set [Conformance]
	g.Run("immutable", func(t *testing.T) {
		if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "immutable-cm"}, Data: data3}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := cms.Patch(ctx, "immutable-cm", types.MergePatchType, []byte(`{"immutable":true,"data":{"data-4":"value-4"}}`), metav1.PatchOptions{}); err != nil {
			t.Fatalf("making it immutable with a data change: %v", err)
		}
		for what, patch := range map[string]string{"data": `{"data":{"data-5":"value-5"}}`, "immutable": `{"immutable":false}`} {
			_, err := cms.Patch(ctx, "immutable-cm", types.MergePatchType, []byte(patch), metav1.PatchOptions{})
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), what+": Forbidden: field is immutable when `immutable` is set") {
				t.Errorf("changing %s of an immutable ConfigMap: %v", what, err)
			}
		}
		if err := cms.Delete(ctx, "immutable-cm", metav1.DeleteOptions{}); err != nil {
			t.Errorf("delete: %v", err)
		}
		if _, err := secrets.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "immutable-secret"}, Data: map[string][]byte{"data-1": []byte("value-1\n")}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := secrets.Patch(ctx, "immutable-secret", types.MergePatchType, []byte(`{"immutable":true,"data":{"data-4":"dmFsdWUtNAo="}}`), metav1.PatchOptions{}); err != nil {
			t.Fatalf("making it immutable with a data change: %v", err)
		}
		for what, patch := range map[string]string{"data": `{"data":{"data-5":"dmFsdWUtNQo="}}`, "immutable": `{"immutable":false}`} {
			_, err := secrets.Patch(ctx, "immutable-secret", types.MergePatchType, []byte(patch), metav1.PatchOptions{})
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), what+": Forbidden: field is immutable when `immutable` is set") {
				t.Errorf("changing %s of an immutable Secret: %v", what, err)
			}
		}
		if err := secrets.Delete(ctx, "immutable-secret", metav1.DeleteOptions{}); err != nil {
			t.Errorf("delete: %v", err)
		}
	})

	// [sig-storage] Secrets should be able to mount in a volume regardless
	// of a different secret existing with same name in different namespace
	// [NodeConformance] [Conformance]
	g.Run("secret volume other namespace", func(t *testing.T) {
		if _, err := cc.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "secret-namespace-2"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := cc.cs.CoreV1().Secrets("secret-namespace-2").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "secret-test-samename"},
			Data: map[string][]byte{"data-1": []byte("other namespace\n")}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		newSecret(t, "default", "secret-test-samename")
		p := volPod("secret-volume-samename", []corev1.Volume{volume(kinds[1], "vol", "secret-test-samename", nil, nil, nil)},
			[]corev1.VolumeMount{{Name: "vol", MountPath: "/etc/secret-volume"}}, "/etc/secret-volume/data-1")
		if out := cc.output(t, p); out != "value-1\n\n" {
			t.Errorf("output %q, want this namespace's value-1", out)
		}
	})

	// Downward API volumes, plain and projected (upstream's
	// downwardAPIVolumeBasePod: labels, annotations, podname and the
	// container's resources as files of /etc/podinfo).
	dapiVolume := func(projected bool, defaultMode, itemMode *int32) corev1.Volume {
		items := []corev1.DownwardAPIVolumeFile{
			{Path: "podname", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}, Mode: itemMode},
			{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.labels"}},
			{Path: "annotations", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.annotations"}},
			{Path: "cpu_limit", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "c", Resource: "limits.cpu"}},
			{Path: "cpu_request", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "c", Resource: "requests.cpu"}},
			{Path: "memory_limit", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "c", Resource: "limits.memory"}},
			{Path: "memory_request", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "c", Resource: "requests.memory"}},
		}
		if projected {
			return corev1.Volume{Name: "podinfo", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{DefaultMode: defaultMode,
				Sources: []corev1.VolumeProjection{{DownwardAPI: &corev1.DownwardAPIProjection{Items: items}}}}}}
		}
		return corev1.Volume{Name: "podinfo", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{DefaultMode: defaultMode, Items: items}}}
	}
	for _, projected := range []bool{false, true} {
		projected := projected
		prefix, slug := "downward volume", "downwardapi-volume"
		if projected {
			prefix, slug = "projected downward", "projected-downwardapi"
		}
		dpod := func(name string, cmd string, resources bool, defaultMode, itemMode *int32) *corev1.Pod {
			p := busyboxPod(name, "sh", "-c", cmd)
			p.Spec.Volumes = []corev1.Volume{dapiVolume(projected, defaultMode, itemMode)}
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "podinfo", MountPath: "/etc/podinfo"}}
			if resources {
				p.Spec.Containers[0].Resources = corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1250m"), corev1.ResourceMemory: resource.MustParse("64Mi")}}
			}
			return p
		}

		// [sig-storage] Downward API volume | Projected downwardAPI should
		// provide podname only [NodeConformance] [Conformance]
		g.Run(prefix+" podname", func(t *testing.T) {
			name := slug + "-podname"
			if out := cc.output(t, dpod(name, "cat /etc/podinfo/podname; echo", false, nil, nil)); out != name+"\n" {
				t.Errorf("podname %q", out)
			}
		})
		// ... should set DefaultMode on files [LinuxOnly] [NodeConformance]
		// [Conformance]; ... should set mode on item file [LinuxOnly]
		// [NodeConformance] [Conformance]
		for what, modes := range map[string][2]*int32{"defaultmode": {mode(0o400), nil}, "itemmode": {nil, mode(0o400)}} {
			g.Run(prefix+" "+what, func(t *testing.T) {
				name := slug + "-" + what
				cc.create(t, dpod(name, "cat /etc/podinfo/podname; echo; sleep 3600", false, modes[0], modes[1]))
				waitFor(t, "the podname", time.Minute, func() bool { return cc.tryLogs(name, "c") == name+"\n" })
				if got := hostMode(t, name, "podinfo", "podname"); got != 0o400 {
					t.Errorf("mode of podname %#o, want 0400", got)
				}
				cc.deleteAndWait(t, name, metav1.DeleteOptions{})
			})
		}
		// ... should update labels on modification [NodeConformance]
		// [Conformance]; ... should update annotations on modification
		// [NodeConformance] [Conformance]
		for _, what := range []string{"labels", "annotations"} {
			g.Run(prefix+" update "+what, func(t *testing.T) {
				name := slug + "-update-" + what
				p := dpod(name, "while true; do cat /etc/podinfo/"+what+"; echo; sleep 1; done", false, nil, nil)
				first, patch, want := `key1="value1"`, `{"metadata":{"labels":{"key3":"value3"}}}`, `key3="value3"`
				p.Labels = map[string]string{"key1": "value1", "key2": "value2"}
				if what == "annotations" {
					p.Annotations = map[string]string{"builder": "bar"}
					first, patch, want = `builder="bar"`, `{"metadata":{"annotations":{"builder":"foo"}}}`, `builder="foo"`
				}
				cc.create(t, p)
				waitFor(t, first, time.Minute, func() bool { return strings.Contains(cc.tryLogs(name, "c"), first+"\n") })
				if _, err := pods.Patch(ctx, name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
					t.Fatal(err)
				}
				waitFor(t, want, time.Minute, func() bool { return strings.Contains(cc.tryLogs(name, "c"), want+"\n") })
			})
		}
		// ... should provide container's cpu limit | memory limit | cpu
		// request | memory request [NodeConformance] [Conformance]
		for file, want := range map[string]string{"cpu_limit": "2", "memory_limit": "67108864", "cpu_request": "1", "memory_request": "33554432"} {
			g.Run(prefix+" "+file, func(t *testing.T) {
				name := slug + "-" + strings.ReplaceAll(file, "_", "-")
				if out := cc.output(t, dpod(name, "cat /etc/podinfo/"+file+"; echo", true, nil, nil)); out != want+"\n" {
					t.Errorf("%s %q, want %q", file, out, want)
				}
			})
		}
		// ... should provide node allocatable (cpu) as default cpu limit if
		// the limit is not set [NodeConformance] [Conformance]; ... (memory)
		// as default memory limit ...
		for _, file := range []string{"cpu_limit", "memory_limit"} {
			g.Run(prefix+" default "+file, func(t *testing.T) {
				name := slug + "-default-" + strings.ReplaceAll(file, "_", "-")
				if out := cc.output(t, dpod(name, "cat /etc/podinfo/"+file+"; echo", false, nil, nil)); !regexp.MustCompile(`^[1-9][0-9]*\n$`).MatchString(out) {
					t.Errorf("%s %q, want the node's allocatable", file, out)
				}
			})
		}
	}
}
