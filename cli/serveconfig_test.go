package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	ucli "github.com/urfave/cli/v2"
)

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "serve.yaml")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestServeConfigErrorsNameTheFileAndField(t *testing.T) {
	for content, want := range map[string]string{
		"nodes:\n- capacity: {cpu: \"1\"}\n":  "nodes[0].name: Required value",
		"heartbeatInterval: soon\n":           `heartbeatInterval: invalid duration "soon"`,
		"listen: 127.0.0.1:1\nbogus: true\n":  `unknown field "bogus"`,
		"nodes:\n- name: a\n  taints: nope\n": "serve.yaml",
	} {
		_, err := loadServeConfig(writeConfig(t, content))
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "serve.yaml") {
			t.Errorf("config %q: error %v, want one naming the file and %q", content, err, want)
		}
	}
}

// Settings of the file apply unless the command line sets them.
func TestServeConfigFlagsOverride(t *testing.T) {
	path := writeConfig(t, "dataDir: /from/file\nsocket: /file.sock\nhostPortAddress: 0.0.0.0\ndenyEgress: true\nallowHostPath: true\nnodes:\n- name: edge\n  labels: {zone: a}\n")
	cfg, err := loadServeConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Nodes) != 1 || cfg.Nodes[0].Name != "edge" || cfg.Nodes[0].Labels["zone"] != "a" {
		t.Fatalf("nodes: %+v", cfg.Nodes)
	}
	var got map[string]string
	app := &ucli.App{
		Flags: serveCommand().Flags,
		Action: func(c *ucli.Context) error {
			if err := applyServeConfig(c, cfg); err != nil {
				return err
			}
			got = map[string]string{}
			for _, f := range []string{"data-dir", "socket", "host-port-address", "deny-egress", "allow-host-path"} {
				got[f] = c.String(f)
			}
			return nil
		},
	}
	if err := app.Run([]string{"serve", "--socket", "/flag.sock"}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"data-dir": "/from/file", "socket": "/flag.sock", "host-port-address": "0.0.0.0", "deny-egress": "true", "allow-host-path": "true"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}
