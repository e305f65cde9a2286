package wasmpod

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/images"
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

// The cluster's secrets, which every replica of an HA control plane must
// hold the same of, as kubeadm copies /etc/kubernetes/pki to each
// control-plane node: the CA that signs the serving and kubelet client
// certificates and that agents and kubeconfigs trust, the ServiceAccount
// token signing key, and the admin token. Paths under the data dir, as
// serve reads them (cli/servetls.go: pki/ca.crt, pki/ca.key, token; and
// pki/sa.key here).
var clusterSecretFiles = []struct{ field, path string }{
	{"caCert", filepath.Join("pki", "ca.crt")},
	{"caKey", filepath.Join("pki", "ca.key")},
	{"saKey", filepath.Join("pki", "sa.key")},
	{"token", "token"},
}

// clusterSecretsKey is the etcd record (store/etcd MetaKey, outside the
// API's keyspace: not readable through the API) holding them.
const clusterSecretsKey = "cluster-secrets"

// shareClusterSecrets makes the data dir's secrets the cluster's: the
// first replica to open the etcd store records its own (those in its data
// dir, or new ones) under clusterSecretsKey, atomically; every other
// replica writes the recorded ones into its data dir, where serve reads
// them, so that certificates, ServiceAccount tokens and the admin token
// of one replica are valid on every other. A data dir holding a different
// secret is refused, naming the file, rather than silently overwritten.
func shareClusterSecrets(ctx context.Context, st store.Store, dataDir string) error {
	es, ok := st.(*etcd.Store)
	if !ok {
		return nil
	}
	key := es.MetaKey(clusterSecretsKey)
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	record, found, err := es.MetaGet(rctx, clusterSecretsKey)
	if err != nil {
		return fmt.Errorf("cluster secrets in etcd (%s): %w", key, err)
	}
	var shared map[string]string
	if !found {
		mine, err := localClusterSecrets(dataDir)
		if err != nil {
			return err
		}
		b, err := json.Marshal(mine)
		if err != nil {
			return err
		}
		stored, created, err := es.MetaCreate(rctx, clusterSecretsKey, b)
		if err != nil {
			return fmt.Errorf("cluster secrets in etcd (%s): %w", key, err)
		}
		if created {
			shared = mine
		} else { // another replica recorded its own first
			record = stored
		}
	}
	if shared == nil {
		if json.Unmarshal(record, &shared) != nil {
			return fmt.Errorf("cluster secrets in etcd (%s): not a record of this version of wasmpod", key)
		}
	}
	// Check every file before writing any, so that a refused data dir
	// is left as it was.
	var missing []string
	for _, f := range clusterSecretFiles {
		want := shared[f.field]
		if want == "" {
			return fmt.Errorf("cluster secrets in etcd (%s): no %s", key, f.field)
		}
		path := filepath.Join(dataDir, f.path)
		have, err := os.ReadFile(path)
		switch {
		case err == nil && strings.TrimSpace(string(have)) == strings.TrimSpace(want):
		case err == nil:
			return fmt.Errorf("%s differs from the cluster's %s, which the control planes sharing etcd %s hold: remove it to take the cluster's", path, f.field, key)
		case errors.Is(err, fs.ErrNotExist):
			missing = append(missing, f.field)
		default:
			return err
		}
	}
	for _, f := range clusterSecretFiles {
		if slices.Contains(missing, f.field) {
			if err := writeSecretFile(filepath.Join(dataDir, f.path), []byte(shared[f.field])); err != nil {
				return err
			}
		}
	}
	return nil
}

// localClusterSecrets reads the data dir's secrets, and makes those it
// lacks: a CA as serve makes it (ECDSA P-256, ten years), a ServiceAccount
// signing key, a token of 32 random bytes.
func localClusterSecrets(dataDir string) (map[string]string, error) {
	out := map[string]string{}
	for _, f := range clusterSecretFiles {
		b, err := os.ReadFile(filepath.Join(dataDir, f.path))
		if err == nil {
			out[f.field] = string(b)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	if (out["caCert"] == "") != (out["caKey"] == "") {
		return nil, fmt.Errorf("the CA in %s is incomplete (ca.crt or ca.key is missing): remove both to create a new one", filepath.Join(dataDir, "pki"))
	}
	if out["caCert"] == "" {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		ca, err := cert.NewSelfSignedCACert(cert.Config{CommonName: fmt.Sprintf("wasmpod-ca@%d", time.Now().Unix())}, key)
		if err != nil {
			return nil, err
		}
		keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
		if err != nil {
			return nil, err
		}
		certPEM, err := cert.EncodeCertificates(ca)
		if err != nil {
			return nil, err
		}
		out["caCert"], out["caKey"] = string(certPEM), string(keyPEM)
	} else if certs, err := cert.ParseCertsPEM([]byte(out["caCert"])); err != nil || !certs[0].IsCA {
		return nil, fmt.Errorf("%s is not a CA certificate (%v)", filepath.Join(dataDir, "pki", "ca.crt"), err)
	}
	if out["saKey"] == "" {
		key, err := apiserver.GenerateServiceAccountKey()
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return nil, err
		}
		out["saKey"] = string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	}
	if strings.TrimSpace(out["token"]) == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		out["token"] = hex.EncodeToString(b) + "\n"
	}
	return out, nil
}

// writeSecretFile writes path (mode 0600, its directory 0700) through a
// temporary file renamed into place.
func writeSecretFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.Write(data)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// sharedModules is the shared backing of the module store on st, nil
// when st is not etcd.
func sharedModules(st store.Store) images.SharedKV {
	if es, ok := st.(*etcd.Store); ok {
		return etcdModules{es}
	}
	return nil
}

// etcdModules is the module store's shared backing (images.SharedKV) on
// the etcd store's records beside the API's keyspace (MetaKey), which the
// API never reaches.
type etcdModules struct{ es *etcd.Store }

func (m etcdModules) Get(ctx context.Context, key string) ([]byte, bool, error) {
	return m.es.MetaGet(ctx, key)
}

func (m etcdModules) Put(ctx context.Context, key string, value []byte) error {
	return m.es.MetaPut(ctx, key, value)
}

func (m etcdModules) Create(ctx context.Context, key string, value []byte) (bool, error) {
	_, created, err := m.es.MetaCreate(ctx, key, value)
	return created, err
}

func (m etcdModules) Update(ctx context.Context, key string, f func([]byte, bool) ([]byte, error)) error {
	return m.es.MetaUpdate(ctx, key, f)
}

func (m etcdModules) List(ctx context.Context, prefix string, limit int) (map[string][]byte, error) {
	return m.es.MetaList(ctx, prefix, limit)
}
