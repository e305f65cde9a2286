package cli

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// probeAction prints a probe's handler as kubectl describe does
// (k8s.io/kubectl/pkg/describe: DescribeProbe), two spaces included when a
// grpc probe names no service.
func TestProbeActionMatchesKubectl(t *testing.T) {
	for _, tc := range []struct {
		probe corev1.Probe
		want  string
	}{
		{corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"cat", "/tmp/healthy"}}}}, "exec [cat /tmp/healthy]"},
		{corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}}}, "http-get http://:8080/healthz"},
		{corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("web")}}}, "tcp-socket :web"},
		{corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9000}}}, "grpc <pod>:9000 "},
		{corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9000, Service: ptr.To("db")}}}, "grpc <pod>:9000 db"},
	} {
		if got := probeAction(&tc.probe); got != tc.want {
			t.Errorf("probeAction = %q, want %q", got, tc.want)
		}
	}
}
