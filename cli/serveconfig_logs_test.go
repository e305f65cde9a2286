package cli

import (
	"strings"
	"testing"

	"github.com/wasmpod/wasmpod"
)

// containerLogMaxSize and containerLogMaxFiles of the serve config reach
// wasmpod.Config; bad values are refused naming the file and the field.
func TestServeConfigContainerLogLimits(t *testing.T) {
	cfg, err := loadServeConfig(writeConfig(t, "containerLogMaxSize: 2Mi\ncontainerLogMaxFiles: 3\n"))
	if err != nil {
		t.Fatal(err)
	}
	var wcfg wasmpod.Config
	cfg.applyTo(&wcfg)
	if wcfg.ContainerLogMaxSize != 2<<20 || wcfg.ContainerLogMaxFiles != 3 {
		t.Fatalf("applied %d bytes, %d files", wcfg.ContainerLogMaxSize, wcfg.ContainerLogMaxFiles)
	}
	wantConfigErrors(t, map[string]string{
		"containerLogMaxSize: lots\n":   "containerLogMaxSize: invalid size",
		"containerLogMaxSize: \"-1\"\n": "containerLogMaxSize: invalid size",
		"containerLogMaxSize: \"0\"\n":  "containerLogMaxSize: invalid size",
		"containerLogMaxFiles: 1\n":     "containerLogMaxFiles: Invalid value: 1",
	})
}

// wantConfigErrors checks that each serve config content (key) is refused
// with an error naming the file and containing the value.
func wantConfigErrors(t *testing.T, cases map[string]string) {
	t.Helper()
	for content, want := range cases {
		_, err := loadServeConfig(writeConfig(t, content))
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "serve.yaml") {
			t.Errorf("config %q: error %v, want one naming the file and %q", content, err, want)
		}
	}
}
