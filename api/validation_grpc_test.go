package api

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestValidateGRPCProbe: a grpc probe's port and mode, with upstream's
// messages (mode as with the GRPCContainerProbeTLS gate on: Plaintext or
// TLS, anything else NotSupported).
func TestValidateGRPCProbe(t *testing.T) {
	mode := func(m string) *corev1.GRPCProbeMode { v := corev1.GRPCProbeMode(m); return &v }
	for _, tc := range []struct {
		name string
		g    corev1.GRPCAction
		want string
	}{
		{"plain", corev1.GRPCAction{Port: 9000}, ""},
		{"plaintext", corev1.GRPCAction{Port: 9000, Mode: mode("Plaintext")}, ""},
		{"tls", corev1.GRPCAction{Port: 9000, Mode: mode("TLS")}, ""},
		{"bad mode", corev1.GRPCAction{Port: 9000, Mode: mode("Verify")},
			`spec.containers[0].livenessProbe.grpc.mode: Unsupported value: "Verify": supported values: "Plaintext", "TLS"`},
		{"bad port", corev1.GRPCAction{Port: 0},
			`spec.containers[0].livenessProbe.grpc.port: Invalid value: 0: must be between 1 and 65535, inclusive`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := validPod()
			g := tc.g
			p.Spec.Containers[0].LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &g}}
			SetDefaultsPod(p)
			var got []string
			for _, e := range ValidatePod(p, Options{}) {
				got = append(got, e.Error())
			}
			if tc.want == "" && len(got) != 0 || tc.want != "" && (len(got) != 1 || got[0] != tc.want) {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), tc.want)
			}
		})
	}
}
