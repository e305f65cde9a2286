package wasmpod

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wasmpod/wasmpod/store"
	"github.com/wasmpod/wasmpod/store/etcd"
)

// EtcdConfig is the etcd store's configuration, named as kube-apiserver's
// --etcd-* flags and etcd's client take it.
type EtcdConfig struct {
	// Servers are the etcd client URLs (--etcd-servers), e.g.
	// https://10.0.0.1:2379. Setting them selects the etcd store.
	Servers []string
	// CAFile verifies the servers' certificates (--etcd-cafile); CertFile
	// and KeyFile are this client's certificate (--etcd-certfile,
	// --etcd-keyfile). PEM files; all empty for http:// servers.
	CAFile, CertFile, KeyFile string
	// Username and Password authenticate to an etcd with auth enabled.
	Username, Password string
	// Prefix is the root of the cluster's keys (--etcd-prefix, default
	// "/wasmpod"); clusters with different prefixes can share an etcd.
	Prefix string
	// History is the number of revisions kept for watches that resume
	// from an older resourceVersion (default etcd.DefaultHistory).
	History int64
	// RequestTimeout bounds each etcd request (default
	// etcd.DefaultRequestTimeout): while etcd is unreachable, API calls fail
	// with 503 after it.
	RequestTimeout time.Duration
}

// openEtcdStore connects to the etcd cluster of cfg.
func openEtcdStore(ctx context.Context, cfg EtcdConfig) (store.Store, error) {
	if len(cfg.Servers) == 0 {
		return nil, errors.New("the etcd store needs Etcd.Servers (--etcd-servers)")
	}
	o := etcd.Options{Endpoints: cfg.Servers, Username: cfg.Username, Password: cfg.Password,
		Prefix: cfg.Prefix, History: cfg.History, RequestTimeout: cfg.RequestTimeout}
	if cfg.CAFile != "" || cfg.CertFile != "" || cfg.KeyFile != "" {
		tlsCfg, err := etcd.TLSConfig(cfg.CertFile, cfg.KeyFile, cfg.CAFile)
		if err != nil {
			return nil, err
		}
		o.TLS = tlsCfg
	}
	s, err := etcd.Open(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return s, nil
}
