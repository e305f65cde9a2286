package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/wasmpod/wasmpod/store/etcd"
	"github.com/wasmpod/wasmpod/store/etcd/etcdtest"
)

// TestServeOnEtcd: `serve --etcd-servers` with --etcd-cafile/--etcd-certfile
// /--etcd-keyfile keeps the cluster in an etcd that requires client
// certificates: what the API serves (its Node, a ConfigMap created with the
// CLI) is under --etcd-prefix in etcd, not in the data dir, and a second
// serve on the same etcd sees it.
func TestServeOnEtcd(t *testing.T) {
	home := isolate(t)
	files := etcdtest.WriteTLS(t, t.TempDir())
	srv := etcdtest.Start(t, t.TempDir(), etcdtest.Options{TLS: files.ServerTLS()})
	etcdFlags := []string{"--etcd-servers", strings.Join(srv.Endpoints(), ","), "--etcd-cafile", files.CA,
		"--etcd-certfile", files.ClientCert, "--etcd-keyfile", files.ClientKey, "--etcd-prefix", "/cluster-a"}

	serve := func(data string) (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		var serveErr syncBuffer
		done := make(chan int, 1)
		go func() {
			done <- runAppContext(ctx, App(&bytes.Buffer{}, &serveErr), append([]string{"wasmpod", "serve", "--data-dir", data,
				"--cache-dir", filepath.Join(home, "cache")}, etcdFlags...))
		}()
		record := filepath.Join(home, "run", "wasmpod", "servers", fmt.Sprintf("serve-%d.json", os.Getpid()))
		deadline := time.Now().Add(2 * time.Minute)
		for {
			if _, err := os.Stat(record); err == nil {
				break
			}
			select {
			case code := <-done:
				cancel()
				t.Fatalf("serve exited %d: %s", code, serveErr.String())
			default:
			}
			if time.Now().After(deadline) {
				cancel()
				t.Fatalf("serve did not start; stderr: %s", serveErr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		return func() {
			cancel()
			select {
			case code := <-done:
				if code != 0 {
					t.Fatalf("serve exit %d: %s", code, serveErr.String())
				}
			case <-time.After(time.Minute):
				t.Fatal("serve did not stop")
			}
		}
	}

	stop := serve(filepath.Join(home, "data-1"))
	manifest := filepath.Join(home, "cm.yaml")
	if err := os.WriteFile(manifest, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kept}\ndata: {k: v}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := runMain("apply", "-f", manifest); code != 0 {
		t.Fatalf("apply configmap: exit %d, %q %q", code, out, errOut)
	}
	stop()
	if _, err := os.Stat(filepath.Join(home, "data-1", "wasmpod.db")); !os.IsNotExist(err) {
		t.Errorf("serve --etcd-servers made a bbolt store in its data dir: %v", err)
	}

	// The objects are in etcd, under the prefix.
	tlsCfg, err := etcd.TLSConfig(files.ClientCert, files.ClientKey, files.CA)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := clientv3.New(clientv3.Config{Endpoints: srv.Endpoints(), TLS: tlsCfg, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	resp, err := ec.Get(context.Background(), "/cluster-a/kv/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, kv := range resp.Kvs {
		keys = append(keys, string(kv.Key))
	}
	all := strings.Join(keys, "\n")
	if !strings.Contains(all, "kept") || !strings.Contains(all, "node-1") {
		t.Fatalf("etcd keys under /cluster-a/kv/ hold no ConfigMap kept and no node-1:\n%s", all)
	}

	// A second serve, with a fresh data dir, on the same etcd sees it.
	stop = serve(filepath.Join(home, "data-2"))
	defer stop()
	out, errOut, code := runMain("get", "configmap", "kept", "-o", "jsonpath={.data.k}")
	if code != 0 || out != "v" {
		t.Fatalf("second serve: get configmap kept: exit %d, %q %q", code, out, errOut)
	}
}

// TestServeEtcdFlagErrors: etcd flags that cannot work are refused before
// anything starts, naming the flag.
func TestServeEtcdFlagErrors(t *testing.T) {
	isolate(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--etcd-cafile", "ca.pem"}, "--etcd-cafile needs --etcd-servers"},
		{[]string{"--etcd-servers", "https://127.0.0.1:1", "--etcd-certfile", "c.pem"}, "--etcd-certfile and --etcd-keyfile"},
	} {
		var stderr bytes.Buffer
		code := runServe(t, append([]string{"wasmpod", "serve", "--data-dir", t.TempDir()}, tc.args...), &stderr)
		if code != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr.String(), tc.want)
		}
	}
	// An etcd that does not answer: serve fails with an error naming it.
	var stderr bytes.Buffer
	code := runServe(t, []string{"wasmpod", "serve", "--data-dir", t.TempDir(), "--etcd-servers", "http://127.0.0.1:1"}, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "http://127.0.0.1:1") {
		t.Errorf("unreachable etcd: exit %d, stderr %q", code, stderr.String())
	}
}
