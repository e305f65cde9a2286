package cli

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/wasmpod/wasmpod"
)

// evictionHard and systemReserved of the serve config reach wasmpod.Config;
// a bad threshold is refused naming the file and the key.
func TestServeConfigEviction(t *testing.T) {
	cfg, err := loadServeConfig(writeConfig(t, "evictionHard:\n  memory.available: 200Mi\n  nodefs.available: 5%\nsystemReserved:\n  memory: 1Gi\n"))
	if err != nil {
		t.Fatal(err)
	}
	var wcfg wasmpod.Config
	cfg.applyTo(&wcfg)
	if wcfg.EvictionHard["memory.available"] != "200Mi" || wcfg.EvictionHard["nodefs.available"] != "5%" {
		t.Errorf("evictionHard %v", wcfg.EvictionHard)
	}
	if q := wcfg.SystemReserved[corev1.ResourceMemory]; q.String() != "1Gi" {
		t.Errorf("systemReserved memory %s", q.String())
	}
	wantConfigErrors(t, map[string]string{
		"evictionHard:\n  imagefs.available: 15%\n": `evictionHard["imagefs.available"]: unsupported signal`,
		"evictionHard:\n  memory.available: lots\n": `evictionHard["memory.available"]: "lots"`,
		"evictionHard:\n  nodefs.available: 100%\n": `evictionHard["nodefs.available"]: "100%"`,
	})
}
