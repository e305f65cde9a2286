package cli

import (
	"testing"
	"time"

	"github.com/wasmpod/wasmpod"
)

// clusterSigningDuration of the serve config (kube-controller-manager's
// --cluster-signing-duration) reaches wasmpod.Config; absent is the
// default (0: a year); a bad or too short duration is refused naming the
// key.
func TestServeConfigClusterSigningDuration(t *testing.T) {
	for content, want := range map[string]time.Duration{
		"clusterSigningDuration: 720h\n": 720 * time.Hour,
		"dataDir: /tmp/x\n":              0,
	} {
		cfg, err := loadServeConfig(writeConfig(t, content))
		if err != nil {
			t.Fatal(err)
		}
		var wcfg wasmpod.Config
		cfg.applyTo(&wcfg)
		if wcfg.ClusterSigningDuration != want {
			t.Errorf("%q: ClusterSigningDuration %s, want %s", content, wcfg.ClusterSigningDuration, want)
		}
	}
	wantConfigErrors(t, map[string]string{
		"clusterSigningDuration: a while\n": "clusterSigningDuration",
		"clusterSigningDuration: 1m\n":      "at least 10m",
	})
}
