package cli

import (
	"testing"

	"github.com/wasmpod/wasmpod"
)

// terminatedPodGCThreshold of the serve config (kube-controller-manager's
// --terminated-pod-gc-threshold) reaches wasmpod.Config: a number as is,
// 0 or less as "off" (-1: upstream's <= 0), absent as the default (0);
// a value that is not a number is refused naming the file and the key.
func TestServeConfigTerminatedPodGCThreshold(t *testing.T) {
	for content, want := range map[string]int{
		"terminatedPodGCThreshold: 3\n":  3,
		"terminatedPodGCThreshold: 0\n":  -1,
		"terminatedPodGCThreshold: -7\n": -1,
		"dataDir: /tmp/x\n":              0,
	} {
		cfg, err := loadServeConfig(writeConfig(t, content))
		if err != nil {
			t.Fatal(err)
		}
		var wcfg wasmpod.Config
		cfg.applyTo(&wcfg)
		if wcfg.TerminatedPodGCThreshold != want {
			t.Errorf("%q: TerminatedPodGCThreshold %d, want %d", content, wcfg.TerminatedPodGCThreshold, want)
		}
	}
	wantConfigErrors(t, map[string]string{"terminatedPodGCThreshold: lots\n": "terminatedPodGCThreshold"})
}
