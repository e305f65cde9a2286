package agentcmd

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestParseTaint(t *testing.T) {
	for in, want := range map[string]corev1.Taint{
		"a=b:NoSchedule":                            {Key: "a", Value: "b", Effect: corev1.TaintEffectNoSchedule},
		"example.com/x:NoExecute":                   {Key: "example.com/x", Effect: corev1.TaintEffectNoExecute},
		"k=:PreferNoSchedule":                       {Key: "k", Effect: corev1.TaintEffectPreferNoSchedule},
		"kubernetes.io/arch=wasm32-wasi:NoSchedule": {Key: "kubernetes.io/arch", Value: "wasm32-wasi", Effect: corev1.TaintEffectNoSchedule},
	} {
		if got, err := parseTaint(in); err != nil || got != want {
			t.Errorf("parseTaint(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", ":NoSchedule", "a=b", "a=b:Never"} {
		if _, err := parseTaint(in); err == nil {
			t.Errorf("parseTaint(%q): no error", in)
		}
	}
}
