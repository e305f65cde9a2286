package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/wasmpod/wasmpod/wasm-examples/podnet"
)

// httpdMain is busybox's httpd: serve the files under -h HOME (default
// the working directory) over HTTP on -p [IP:]PORT (default 80) through
// the pod network, until the instance is stopped. It always runs in the
// foreground (-f is accepted): WASI has no daemons. `-p 127.0.0.1:8080`
// listens on the pod's loopback only, which the node's probes cannot
// reach, as on a real node. -S (not busybox's: its httpd has no TLS)
// serves HTTPS instead, with a self-signed ECDSA certificate generated at
// start (CN httpd, valid for a day, for clients that skip verification,
// as the kubelet's probes and httpGet hooks do).
func httpdMain(p *proc, args []string) int {
	set, rest, bad := flags(args, "fviS", "phc")
	if bad != "" || len(rest) != 0 {
		return p.usage("httpd", or(bad, "unexpected argument "+strings.Join(rest, " ")))
	}
	addr := or(set['p'], "80")
	if !strings.Contains(addr, ":") {
		addr = ":" + addr
	}
	home := p.abs(or(set['h'], "."))
	ln, err := podnet.Listen("tcp", addr)
	if err != nil {
		return p.errf("httpd", "bind: %v", err)
	}
	if _, tlsOn := set['S']; tlsOn {
		cert, err := selfSigned()
		if err != nil {
			ln.Close()
			return p.errf("httpd", "certificate: %v", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(home)), BaseContext: func(net.Listener) context.Context { return p.ctx }}
	go func() {
		<-p.ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(p.stderr, "httpd: %v\n", err)
		return 1
	}
	return 0
}

// selfSigned makes httpd -S's certificate: a fresh P-256 key, self-signed,
// for the name "httpd", valid from an hour ago for a day.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "httpd"}, DNSNames: []string{"httpd"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
