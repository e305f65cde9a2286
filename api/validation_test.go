package api

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// validPod is a defaulted Pod that passes validation; cases break one thing.
func validPod() *corev1.Pod {
	pod := &corev1.Pod{}
	pod.Name = "web"
	pod.Labels = map[string]string{"app": "web"}
	pod.Spec.Containers = []corev1.Container{{
		Name:         "main",
		Image:        "web.wasm",
		Ports:        []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
		Env:          []corev1.EnvVar{{Name: "MODE", Value: "prod"}},
		VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
	}}
	pod.Spec.Volumes = []corev1.Volume{{Name: "data"}}
	SetDefaultsPod(pod)
	return pod
}

func TestValidatePod(t *testing.T) {
	tests := []struct {
		name   string
		opts   Options
		mutate func(p *corev1.Pod)
		want   []string
	}{
		{name: "valid", mutate: func(p *corev1.Pod) {}},
		{name: "valid with everything supported", opts: Options{AllowHostPath: true}, mutate: func(p *corev1.Pod) {
			c := &p.Spec.Containers[0]
			c.Env = append(c.Env,
				corev1.EnvVar{Name: "my.env-name", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.labels['app.kubernetes.io/name']"}}},
				corev1.EnvVar{Name: "IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "status.podIP"}}},
				corev1.EnvVar{Name: "MEM", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "side", Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}}})
			c.Resources.Limits = corev1.ResourceList{"cpu": resource.MustParse("1"), "memory": resource.MustParse("64Mi")}
			c.Resources.Requests = corev1.ResourceList{"cpu": resource.MustParse("1"), "memory": resource.MustParse("32Mi")}
			c.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromString("http")}}}
			c.SecurityContext = &corev1.SecurityContext{Privileged: ptr.To(false), AllowPrivilegeEscalation: ptr.To(false), RunAsUser: ptr.To[int64](1000)}
			p.Spec.InitContainers = []corev1.Container{
				{Name: "side", Image: "side.wasm", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways), ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"ok"}}}}},
				{Name: "setup", Image: "setup.wasm"},
			}
			p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/srv/www"}}})
			p.Spec.ActiveDeadlineSeconds = ptr.To[int64](60)
			p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](0)
			SetDefaultsPod(p)
		}},
		{name: "metadata", mutate: func(p *corev1.Pod) {
			p.Name = "Web_1"
			p.Namespace = ""
			p.Labels = map[string]string{"bad key!": "v"}
			p.Annotations = map[string]string{"": "v"}
		}, want: []string{
			`metadata.name: Invalid value: "Web_1": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
		}},
		{name: "no name", mutate: func(p *corev1.Pod) { p.Name = "" }, want: []string{"metadata.name: Required value: name or generateName is required"}},
		{name: "no containers", mutate: func(p *corev1.Pod) { p.Spec.Containers = nil }, want: []string{"spec.containers: Required value: must contain at least one container"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := validPod()
			tt.mutate(pod)
			errs := ValidatePod(pod, tt.opts)
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if g, w := strings.Join(got, "\n"), strings.Join(tt.want, "\n"); g != w {
				t.Errorf("errors:\n got: %s\nwant: %s", g, w)
			}
		})
	}
}
