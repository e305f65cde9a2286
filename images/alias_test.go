package images

import "testing"

func TestAliasOf(t *testing.T) {
	for ref, want := range map[string]string{
		"busybox": "toolbox", "busybox:1.36": "toolbox", "busybox:latest": "toolbox",
		"docker.io/library/busybox:1.28": "toolbox", "docker.io/busybox": "toolbox", "library/busybox": "toolbox",
		"busybox@sha256:0123": "toolbox", "registry.k8s.io/busybox": "", "busybox2": "",
		"./busybox": "", "go://./busybox": "", "wasmpod.local/busybox": "", "": "", "nginx": "",
	} {
		if got := AliasOf(ref); got != want {
			t.Errorf("AliasOf(%q) = %q, want %q", ref, got, want)
		}
	}
}
