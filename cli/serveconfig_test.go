package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmpod/wasmpod/cli/internal/cmdline"
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
	path := writeConfig(t, "dataDir: /from/file\nsocket: /file.sock\nhostPortAddress: 0.0.0.0\ndenyEgress: true\nallowHostPath: true\nnodes:\n- name: edge\n  labels: {zone: a}\n"+
		"maxPods: 1000\nclusterCIDR: 10.0.0.0/8\nnodeCIDRMaskSize: 22\n")
	cfg, err := loadServeConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Nodes) != 1 || cfg.Nodes[0].Name != "edge" || cfg.Nodes[0].Labels["zone"] != "a" {
		t.Fatalf("nodes: %+v", cfg.Nodes)
	}
	var got map[string]string
	app := &cmdline.App{
		Flags: serveCommand().Flags,
		Action: func(c *cmdline.Context) error {
			if err := applyServeConfig(c, cfg); err != nil {
				return err
			}
			got = map[string]string{}
			for _, f := range []string{"data-dir", "socket", "host-port-address", "deny-egress", "allow-host-path", "max-pods", "cluster-cidr", "node-cidr-mask-size"} {
				got[f] = c.String(f)
			}
			return nil
		},
	}
	if err := app.Run([]string{"serve", "--socket", "/flag.sock", "--node-cidr-mask-size", "20"}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"data-dir": "/from/file", "socket": "/flag.sock", "host-port-address": "0.0.0.0", "deny-egress": "true", "allow-host-path": "true",
		"max-pods": "1000", "cluster-cidr": "10.0.0.0/8", "node-cidr-mask-size": "20"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

// Bad pod network settings stop serve before it starts, naming the flag.
func TestServePodNetworkFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--cluster-cidr", "10.0.0.0/33"}, `clusterCIDR (--cluster-cidr) "10.0.0.0/33": invalid CIDR address`},
		{[]string{"--cluster-cidr", "10.244.0.0/16", "--node-cidr-mask-size", "12"}, "mask size of cluster CIDR must be less than or equal to nodeCIDRMaskSize (--node-cidr-mask-size) 12"},
		{[]string{"--node-cidr-mask-size", "32"}, "nodeCIDRMaskSize (--node-cidr-mask-size) 32: a /32 pod range has no address for a pod"},
		{[]string{"--nodes", "3", "--cluster-cidr", "10.244.0.0/24", "--node-cidr-mask-size", "25"}, "too few for 3 nodes"},
		{[]string{"--max-pods", "-5"}, "maxPods (--max-pods) -5 must not be a negative number"},
	} {
		app := &cmdline.App{Flags: serveCommand().Flags, Action: serveAction}
		err := app.Run(append([]string{"serve", "--data-dir", t.TempDir()}, tc.args...))
		var ec cmdline.ExitCoder
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.As(err, &ec) || ec.ExitCode() != 2 {
			t.Errorf("serve %v: %v, want exit 2 with %q", tc.args, err, tc.want)
		}
	}
}
