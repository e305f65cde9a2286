// Command grpchealth is a gRPC server speaking the standard health protocol
// (grpc.health.v1.Health), the target of wasmpod's grpc probes: grpc-go's
// own server and its health service (google.golang.org/grpc/health), on a
// listener of the pod network (podnet).
//
//	grpchealth [-port 9000] [-tls] [-after D] [SERVICE=STATUS ...]
//
// Every SERVICE=STATUS sets a service's status (STATUS is SERVING,
// NOT_SERVING or UNKNOWN; "=NOT_SERVING" is the server's overall status,
// the service "" that a probe without a service asks for, SERVING unless
// set). -after D turns every service NOT_SERVING D after the start. -tls
// serves TLS with a self-signed certificate made at start (for probes with
// mode: TLS). It prints "serving on :PORT" (or "serving TLS on :PORT")
// once it listens and "health: STATE" when the overall status is set; on
// TERM it stops gracefully, prints "stopped" and exits 0.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"math/big"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/wasmpod/wasmpod/wasm-examples/podnet"
	"github.com/wasmpod/wasmpod/wasm-examples/term"
)

func main() {
	port := flag.Int("port", 9000, "port to listen on")
	after := flag.Duration("after", 0, "turn every service NOT_SERVING after this long (0: never)")
	useTLS := flag.Bool("tls", false, "serve TLS with a self-signed certificate")
	flag.Parse()

	statuses := map[string]healthpb.HealthCheckResponse_ServingStatus{"": healthpb.HealthCheckResponse_SERVING}
	for _, a := range flag.Args() {
		name, st, ok := strings.Cut(a, "=")
		v, known := healthpb.HealthCheckResponse_ServingStatus_value[st]
		if !ok || !known {
			fmt.Fprintf(os.Stderr, "bad SERVICE=STATUS %q (STATUS: SERVING, NOT_SERVING, UNKNOWN)\n", a)
			os.Exit(2)
		}
		statuses[name] = healthpb.HealthCheckResponse_ServingStatus(v)
	}

	ln, err := podnet.Listen("tcp", fmt.Sprintf(":%d", *port))
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	hs := health.NewServer()
	// apply sets the statuses as given, or every one NOT_SERVING.
	apply := func(down bool) {
		for name, st := range statuses {
			if down {
				st = healthpb.HealthCheckResponse_NOT_SERVING
			}
			hs.SetServingStatus(name, st)
		}
		if down {
			fmt.Println("health: NOT_SERVING")
		} else {
			fmt.Println("health:", statuses[""])
		}
	}
	apply(false)

	var opts []grpc.ServerOption
	if *useTLS {
		cert, err := selfSigned()
		if err != nil {
			fmt.Fprintln(os.Stderr, "certificate:", err)
			os.Exit(1)
		}
		opts = append(opts, grpc.Creds(credentials.NewServerTLSFromCert(&cert)))
	}
	srv := grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(srv, hs)
	if *after > 0 {
		time.AfterFunc(*after, func() { apply(true) })
	}
	go func() {
		<-term.Notify()
		hs.Shutdown()
		srv.GracefulStop()
	}()
	if *useTLS {
		fmt.Printf("serving TLS on :%d\n", *port)
	} else {
		fmt.Printf("serving on :%d\n", *port)
	}
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
	fmt.Println("stopped")
}

// selfSigned makes a certificate for the server: probes with mode TLS do
// not verify it, as upstream's.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "grpchealth"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
