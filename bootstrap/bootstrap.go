// Package bootstrap joins node agents to a wasmpod control plane with
// bootstrap tokens, the kubeadm model (issue 15 §1): CreateToken issues a
// token and signs the cluster's discovery information with it; Bootstrap,
// on the joining machine, learns the cluster CA without trusting the
// network (the token's JWS signature of the kube-public/cluster-info
// ConfigMap, and/or a pinned hash of the CA's public key), then trades the
// token for the node's own client certificate (CN system:node:<name>, O
// system:nodes), signed by the cluster CA. The API server's side is
// apiserver/bootstrap.go and apiserver/node_authz.go.
package bootstrap

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"
	bootstrapsecretutil "k8s.io/cluster-bootstrap/util/secrets"

	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/nodeagent/certstore"
)

// The API server's side of the join (apiserver/bootstrap.go), named here so
// that the agent, which imports this package, links no part of the API
// server; TestBootstrapPathsMatchAPIServer holds them equal.
const (
	// clusterInfoPath is the kube-public/cluster-info ConfigMap, readable
	// without credentials.
	clusterInfoPath = "/api/v1/namespaces/kube-public/configmaps/" + bootstrapapi.ConfigMapClusterInfo
	// nodeCredentialPath is where a bootstrapping node posts its CSR.
	nodeCredentialPath = "/wasmpod/bootstrap/node-credential"
	// groupNodes and nodeUserPrefix name a node's user:
	// system:node:<name> in system:nodes.
	groupNodes     = "system:nodes"
	nodeUserPrefix = "system:node:"
)

// DefaultTTL is a token's life when TokenOptions.TTL is 0 (kubeadm's).
const DefaultTTL = 24 * time.Hour

// ExtraGroup is the group CreateToken's tokens add to
// system:bootstrappers (kubeadm's system:bootstrappers:kubeadm:default-node-token).
const ExtraGroup = "system:bootstrappers:wasmpod:default-node-token"

// TokenOptions configures CreateToken.
type TokenOptions struct {
	// TTL is how long the token authenticates (DefaultTTL when 0).
	TTL time.Duration
	// Description is stored in the token's Secret.
	Description string
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// CreateToken issues a bootstrap token through admin, the API server's
// admin client configuration (its Host and CA are what cluster-info
// publishes): a Secret kube-system/bootstrap-token-<id> of type
// bootstrap.kubernetes.io/token with its expiration, usable for
// authentication and signing, and the kube-public/cluster-info ConfigMap
// (created when missing) holding the cluster's kubeconfig (server and CA,
// no credential) signed with every valid signing token, as kubeadm's
// bootstrap-signer controller keeps it; signatures of deleted or expired
// tokens are removed. It returns the token "<id>.<secret>".
func CreateToken(ctx context.Context, admin *rest.Config, opts TokenOptions) (string, error) {
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	ttl := opts.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	if ttl < 0 {
		return "", fmt.Errorf("--ttl %v: must be positive", ttl)
	}
	caPEM, err := caOf(admin)
	if err != nil {
		return "", err
	}
	cs, err := kubernetes.NewForConfig(admin)
	if err != nil {
		return "", err
	}
	tok, err := bootstraputil.GenerateBootstrapToken()
	if err != nil {
		return "", err
	}
	id, secret, _ := strings.Cut(tok, ".")
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: bootstraputil.BootstrapTokenSecretName(id), Namespace: metav1.NamespaceSystem},
		Type:       bootstrapapi.SecretTypeBootstrapToken,
		StringData: map[string]string{
			bootstrapapi.BootstrapTokenIDKey:               id,
			bootstrapapi.BootstrapTokenSecretKey:           secret,
			bootstrapapi.BootstrapTokenExpirationKey:       now().Add(ttl).UTC().Format(time.RFC3339),
			bootstrapapi.BootstrapTokenUsageAuthentication: "true",
			bootstrapapi.BootstrapTokenUsageSigningKey:     "true",
			bootstrapapi.BootstrapTokenExtraGroupsKey:      ExtraGroup,
		},
	}
	if opts.Description != "" {
		sec.StringData[bootstrapapi.BootstrapTokenDescriptionKey] = opts.Description
	}
	if _, err := cs.CoreV1().Secrets(metav1.NamespaceSystem).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
		return "", fmt.Errorf("the token's Secret: %w", err)
	}
	if err := signClusterInfo(ctx, cs, admin.Host, caPEM, now()); err != nil {
		return "", fmt.Errorf("cluster-info: %w", err)
	}
	return tok, nil
}

// caOf is the CA (PEM) of a client configuration.
func caOf(cfg *rest.Config) ([]byte, error) {
	if err := rest.LoadTLSFiles(cfg); err != nil {
		return nil, err
	}
	if len(cfg.CAData) == 0 {
		return nil, errors.New("the API server's configuration has no CA (certificate-authority): joining agents need one to pin")
	}
	return cfg.CAData, nil
}

// signClusterInfo writes cluster-info's kubeconfig and its signatures.
func signClusterInfo(ctx context.Context, cs kubernetes.Interface, server string, caPEM []byte, now time.Time) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters[""] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	b, err := clientcmd.Write(*kc)
	if err != nil {
		return err
	}
	data := map[string]string{bootstrapapi.KubeConfigKey: string(b)}
	secrets, err := cs.CoreV1().Secrets(metav1.NamespaceSystem).List(ctx, metav1.ListOptions{}) // (no "type" field selector here yet)
	if err != nil {
		return err
	}
	for i := range secrets.Items {
		s := &secrets.Items[i]
		id := bootstrapsecretutil.GetData(s, bootstrapapi.BootstrapTokenIDKey)
		secret := bootstrapsecretutil.GetData(s, bootstrapapi.BootstrapTokenSecretKey)
		if s.Type != bootstrapapi.SecretTypeBootstrapToken || !bootstraputil.IsValidBootstrapToken(id+"."+secret) ||
			bootstrapsecretutil.HasExpired(s, now) || bootstrapsecretutil.GetData(s, bootstrapapi.BootstrapTokenUsageSigningKey) != "true" {
			continue
		}
		data[bootstrapapi.JWSSignatureKeyPrefix+id] = detachedSignature(string(b), id, secret)
	}
	cms := cs.CoreV1().ConfigMaps(metav1.NamespacePublic)
	cm, err := cms.Get(ctx, bootstrapapi.ConfigMapClusterInfo, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: bootstrapapi.ConfigMapClusterInfo, Namespace: metav1.NamespacePublic}, Data: data}, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	cm.Data = data
	_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
	return err
}

// Options configures Bootstrap.
type Options struct {
	// Server is the API server's URL (--join).
	Server string
	// Token is the bootstrap token (--token).
	Token string
	// NodeName is the node the credential is for.
	NodeName string
	// CACertHashes pin the cluster CA: "sha256:<hex>" of its public key
	// (SubjectPublicKeyInfo), kubeadm's --discovery-token-ca-cert-hash. With
	// none, the CA is trusted because cluster-info is signed with the token.
	CACertHashes []string
	// Timeout bounds each request (30 s when 0).
	Timeout time.Duration
	// CertDir is where LoadOrBootstrap keeps the node's client
	// certificate, as kubelet-client-current.pem (the kubelet's
	// --cert-dir; <the kubeconfig's directory>/pki when empty).
	CertDir string
	// Now is the clock the credential's validity is checked on (time.Now
	// when nil).
	Now func() time.Time
	// Logf receives LoadOrBootstrap's notes (nil: none).
	Logf func(format string, args ...any)
}

// Credential is a node's credential, with the pinned cluster CA.
type Credential struct {
	Server                 string
	CAPEM, CertPEM, KeyPEM []byte
}

// RESTConfig is the client configuration of the credential.
func (c *Credential) RESTConfig() *rest.Config {
	return &rest.Config{Host: c.Server, TLSClientConfig: rest.TLSClientConfig{CAData: c.CAPEM, CertData: c.CertPEM, KeyData: c.KeyPEM}}
}

// Kubeconfig is the credential as a kubeconfig (the kubelet's
// kubelet.conf), for the agent to keep, with the client certificate and
// key embedded.
func (c *Credential) Kubeconfig(node string) ([]byte, error) {
	return c.kubeconfig(node, &clientcmdapi.AuthInfo{ClientCertificateData: c.CertPEM, ClientKeyData: c.KeyPEM})
}

// KubeconfigFor is the credential as a kubeconfig whose client certificate
// and key are read from pairFile (both in one file), as the kubelet's
// bootstrap writes kubelet.conf naming
// <cert-dir>/kubelet-client-current.pem: a renewed certificate put there
// is the kubeconfig's.
func (c *Credential) KubeconfigFor(node, pairFile string) ([]byte, error) {
	return c.kubeconfig(node, &clientcmdapi.AuthInfo{ClientCertificate: pairFile, ClientKey: pairFile})
}

func (c *Credential) kubeconfig(node string, user *clientcmdapi.AuthInfo) ([]byte, error) {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["wasmpod"] = &clientcmdapi.Cluster{Server: c.Server, CertificateAuthorityData: c.CAPEM}
	kc.AuthInfos[nodeUserPrefix+node] = user
	kc.Contexts["default"] = &clientcmdapi.Context{Cluster: "wasmpod", AuthInfo: nodeUserPrefix + node}
	kc.CurrentContext = "default"
	return clientcmd.Write(*kc)
}

// CACertHash is the pin of a CA certificate (PEM): "sha256:" and the hex
// SHA-256 of its SubjectPublicKeyInfo, as kubeadm prints it.
func CACertHash(caPEM []byte) (string, error) {
	certs, err := cert.ParseCertsPEM(caPEM)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(certs[0].RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// Bootstrap joins: it reads cluster-info without trusting the connection,
// accepts its CA only when the token's signature of it is valid and it
// matches one of the pinned hashes (if any), then, over TLS verified by that
// CA and authenticated by the token, has the node's key signed. Errors say
// which step failed: a malformed, unknown, wrong or expired token, a CA
// that matches no pin, an unreachable server.
func Bootstrap(ctx context.Context, o Options) (*Credential, error) {
	if !bootstraputil.IsValidBootstrapToken(o.Token) {
		return nil, errors.New("--token: not a bootstrap token (the format is [a-z0-9]{6}.[a-z0-9]{16}, as `wasmpod token create` prints)")
	}
	if o.NodeName == "" {
		return nil, errors.New("--node-name is required")
	}
	u, err := url.Parse(o.Server)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("--join %q: the API server's https:// URL is required", o.Server)
	}
	for _, h := range o.CACertHashes {
		if b, ok := strings.CutPrefix(h, "sha256:"); !ok || len(b) != 64 || strings.Trim(strings.ToLower(b), "0123456789abcdef") != "" {
			return nil, fmt.Errorf("--discovery-token-ca-cert-hash %q: the format is sha256:<64 hex digits>", h)
		}
	}
	timeout := o.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	id, secret, _ := strings.Cut(o.Token, ".")
	server := strings.TrimSuffix(o.Server, "/")

	// 1. Discovery, over a connection not yet trusted.
	insecure := &http.Client{Timeout: timeout, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // #nosec: verified by the JWS and pins below
	defer insecure.CloseIdleConnections()
	cm := &corev1.ConfigMap{}
	if err := getJSON(ctx, insecure, server+clusterInfoPath, cm); err != nil {
		return nil, fmt.Errorf("reading the cluster's discovery information (kube-public/cluster-info) from %s: %w", o.Server, err)
	}
	kubeconfig, ok := cm.Data[bootstrapapi.KubeConfigKey]
	if !ok {
		return nil, fmt.Errorf("kube-public/cluster-info at %s has no %q", o.Server, bootstrapapi.KubeConfigKey)
	}
	sig, ok := cm.Data[bootstrapapi.JWSSignatureKeyPrefix+id]
	if !ok {
		return nil, fmt.Errorf("--token: the cluster at %s does not know token ID %q (no signature in cluster-info): the token is wrong, expired or deleted", o.Server, id)
	}
	if !detachedSignatureValid(sig, kubeconfig, id, secret) {
		return nil, fmt.Errorf("--token: cluster-info's signature for token ID %q does not match the token's secret: a wrong token, or a server that is not the cluster's", id)
	}
	kc, err := clientcmd.Load([]byte(kubeconfig))
	if err != nil {
		return nil, fmt.Errorf("cluster-info's kubeconfig: %w", err)
	}
	var caPEM []byte
	for _, c := range kc.Clusters {
		caPEM = c.CertificateAuthorityData
	}
	if len(kc.Clusters) != 1 || len(caPEM) == 0 {
		return nil, errors.New("cluster-info's kubeconfig must hold one cluster with its CA")
	}
	hash, err := CACertHash(caPEM)
	if err != nil {
		return nil, fmt.Errorf("cluster-info's CA: %w", err)
	}
	if len(o.CACertHashes) > 0 && !slices.ContainsFunc(o.CACertHashes, func(h string) bool { return strings.EqualFold(h, hash) }) {
		return nil, fmt.Errorf("--discovery-token-ca-cert-hash: the cluster CA's hash is %s, which matches none of %s: refusing to trust it", hash, strings.Join(o.CACertHashes, ", "))
	}

	// 2. The node credential, over TLS verified by the pinned CA.
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("cluster-info's CA is not a PEM certificate")
	}
	pinned := &http.Client{Timeout: timeout, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: u.Hostname()}}}
	defer pinned.CloseIdleConnections()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: nodeUserPrefix + o.NodeName, Organization: []string{groupNodes}}}, key)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, server+nodeCredentialPath,
		bytes.NewReader(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER})))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+o.Token)
	req.Header.Set("Content-Type", "application/x-pem-file")
	resp, err := pinned.Do(req)
	if err != nil {
		return nil, fmt.Errorf("requesting the node credential from %s: %w", o.Server, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, err
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return nil, fmt.Errorf("--token: the API server at %s refused the token (401): it is wrong, expired or deleted", o.Server)
	case resp.StatusCode != http.StatusCreated:
		return nil, fmt.Errorf("requesting the node credential: %s: %s", resp.Status, statusMessage(body))
	}
	certs, err := cert.ParseCertsPEM(body)
	if err != nil {
		return nil, fmt.Errorf("the node credential: %w", err)
	}
	vo := x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if o.Now != nil {
		vo.CurrentTime = o.Now()
	}
	if _, err := certs[0].Verify(vo); err != nil {
		return nil, fmt.Errorf("the node credential is not signed by the cluster CA: %w", err)
	}
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return nil, err
	}
	return &Credential{Server: o.Server, CAPEM: caPEM, CertPEM: body, KeyPEM: keyPEM}, nil
}

// getJSON GETs u into out; a non-200 answer is an error with its message.
func getJSON(ctx context.Context, c *http.Client, u string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		if resp.StatusCode == http.StatusNotFound {
			return fmt.Errorf("not found: no token was created yet (`wasmpod token create`)")
		}
		return fmt.Errorf("%s: %s", resp.Status, statusMessage(b))
	}
	return json.Unmarshal(b, out)
}

// statusMessage is an API Status's message, else the body.
func statusMessage(b []byte) string {
	var st metav1.Status
	if json.Unmarshal(b, &st) == nil && st.Message != "" {
		return st.Message
	}
	return strings.TrimSpace(string(b))
}

// LoadOrBootstrap is the agent's credential kept at path (a kubeconfig,
// the kubelet's --kubeconfig beside --bootstrap-kubeconfig): read from
// there when the file exists and its client certificate has not expired,
// else obtained with Bootstrap. The new pair goes to o.CertDir as
// kubelet-client-current.pem (certstore) and the kubeconfig written to
// path (0600) names that file, as the kubelet's bootstrap writes it: the
// certificate the agent renews there is the kubeconfig's, also after a
// restart without rotation. A kubeconfig with the certificate embedded (as
// agents wrote it before) still works; when its certificate expired and
// the cert dir holds a valid one of the node (renewed), it is rewritten to
// name that one. An expired (or missing) certificate is replaced by
// joining again when o has a token, as the kubelet bootstraps again with
// --bootstrap-kubeconfig; without one the error names the file and the
// expiry. A certificate file that cannot be read as one (garbage, not a
// regular file, a cert dir link leading outside it) is an error naming it.
func LoadOrBootstrap(ctx context.Context, path string, o Options) (*rest.Config, error) {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	certDir := o.CertDir
	if certDir == "" {
		certDir = filepath.Join(filepath.Dir(path), "pki")
	}
	certDir, err := filepath.Abs(certDir)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); err == nil {
		cfg, err := loadCredential(path, certDir, o.NodeName, now())
		if err == nil {
			return cfg, nil
		}
		var exp *certstore.Expired
		if !errors.As(err, &exp) && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if o.Token == "" {
			return nil, fmt.Errorf("%w: join again with a bootstrap token (--token, from 'wasmpod token create')", err)
		}
		logf("%v: joining again with the bootstrap token", err)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	cred, err := Bootstrap(ctx, o)
	if err != nil {
		return nil, err
	}
	pair, err := certstore.StorePEM(certDir, certstore.ClientPrefix, append(append([]byte{}, cred.CertPEM...), cred.KeyPEM...), now())
	if err != nil {
		return nil, fmt.Errorf("keeping the node credential in %s: %w", certDir, err)
	}
	if err := writeKubeconfig(path, cred, o.NodeName, pair); err != nil {
		return nil, err
	}
	return &rest.Config{Host: cred.Server, TLSClientConfig: rest.TLSClientConfig{CAData: cred.CAPEM, CertFile: pair, KeyFile: pair}}, nil
}

// writeKubeconfig writes cred's kubeconfig naming pair to path (0600),
// atomically.
func writeKubeconfig(path string, cred *Credential, node, pair string) error {
	kc, err := cred.KubeconfigFor(node, pair)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*") // 0600, O_EXCL
	if err != nil {
		return err
	}
	_, err = f.Write(kc)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// loadCredential reads the kubeconfig at path and checks its client
// certificate: readable, a certificate with its key, not expired at now
// (*certstore.Expired), the file present (fs.ErrNotExist otherwise). A
// cert dir link leading outside the cert dir is refused. An embedded
// certificate that expired is replaced by certDir's current one when that
// is the node's and valid (the kubeconfig is rewritten to name it).
func loadCredential(path, certDir, node string, now time.Time) (*rest.Config, error) {
	kc, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("the node credential in %s: %w", path, err)
	}
	if err := clientcmd.ResolveLocalPaths(kc); err != nil {
		return nil, fmt.Errorf("the node credential in %s: %w", path, err)
	}
	var user *clientcmdapi.AuthInfo
	var cluster *clientcmdapi.Cluster
	if ctx := kc.Contexts[kc.CurrentContext]; ctx != nil {
		user, cluster = kc.AuthInfos[ctx.AuthInfo], kc.Clusters[ctx.Cluster]
	}
	build := func() (*rest.Config, error) {
		cfg, err := clientcmd.NewDefaultClientConfig(*kc, &clientcmd.ConfigOverrides{}).ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("the node credential in %s: %w", path, err)
		}
		return cfg, nil
	}
	if user == nil || cluster == nil {
		return build()
	}
	var pair *tls.Certificate
	file := ""
	switch {
	case len(user.ClientCertificateData) > 0:
		c, err := tls.X509KeyPair(user.ClientCertificateData, user.ClientKeyData)
		if err != nil {
			return nil, fmt.Errorf("the node credential in %s: client-certificate-data: %w", path, err)
		}
		pair = &c
	case user.ClientCertificate != "":
		file = user.ClientCertificate
		if filepath.Base(file) == certstore.ClientPrefix+"-current.pem" {
			if err := certstore.CheckLink(file); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("the node credential in %s: %w", path, err)
			}
		}
		key := user.ClientKey
		if key == "" {
			key = file
		}
		if pair, err = certstore.LoadPair(file, key); err != nil {
			return nil, fmt.Errorf("the node credential in %s: its client certificate: %w", path, err)
		}
	default:
		return build() // not a certificate: the agent's business
	}
	err = certstore.CheckValid(pair, file, now)
	var exp *certstore.Expired
	if err == nil {
		return build()
	}
	if !errors.As(err, &exp) || file != "" {
		return nil, fmt.Errorf("the node credential in %s: %w", path, err)
	}
	// An embedded certificate that expired: the cert dir's renewed one?
	stored, serr := certstore.LoadCurrent(certDir, certstore.ClientPrefix)
	if serr != nil || stored.Leaf.Subject.CommonName != nodeUserPrefix+node || certstore.CheckValid(stored, "", now) != nil {
		return nil, fmt.Errorf("the node credential in %s: %w", path, err)
	}
	cred := &Credential{Server: cluster.Server, CAPEM: cluster.CertificateAuthorityData}
	if len(cred.CAPEM) == 0 && cluster.CertificateAuthority != "" {
		if cred.CAPEM, err = certstore.ReadFile(cluster.CertificateAuthority); err != nil {
			return nil, fmt.Errorf("the node credential in %s: its CA: %w", path, err)
		}
	}
	if err := writeKubeconfig(path, cred, node, certstore.CurrentPath(certDir, certstore.ClientPrefix)); err != nil {
		return nil, err
	}
	return loadCredential(path, certDir, node, now)
}
