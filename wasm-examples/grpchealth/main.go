// Command grpchealth is a gRPC server speaking the standard health protocol
// (grpc.health.v1.Health), the target of wasmpod's grpc probes: grpc-go's
// own server and its health service (google.golang.org/grpc/health), on a
// listener of the pod network (podnet).
//
//	grpchealth [-port 9000] [-after D] [-file PATH] [SERVICE=STATUS ...]
//
// Every SERVICE=STATUS sets a service's status (STATUS is SERVING,
// NOT_SERVING or UNKNOWN; "=NOT_SERVING" is the server's overall status,
// the service "" that a probe without a service asks for, SERVING unless
// set). -after D turns every service NOT_SERVING D after the start (as the
// health server's Shutdown); while -file PATH exists every service answers
// NOT_SERVING (checked every 100 ms). It prints "serving on :PORT" once it
// listens, "health: STATE" on every change of the overall status, and on
// TERM stops gracefully, prints "stopped" and exits 0.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/wasmpod/wasmpod/wasm-examples/podnet"
	"github.com/wasmpod/wasmpod/wasm-examples/term"
)

func main() {
	port := flag.Int("port", 9000, "port to listen on")
	after := flag.Duration("after", 0, "turn every service NOT_SERVING after this long (0: never)")
	file := flag.String("file", "", "every service is NOT_SERVING while this file exists")
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
	var mu sync.Mutex
	var timedOut, fileSeen bool
	down, first := false, true
	// update applies the statuses: every service NOT_SERVING once -after
	// has passed or while -file exists, else as given.
	update := func(f func()) {
		mu.Lock()
		defer mu.Unlock()
		f()
		d := timedOut || fileSeen
		if d == down && !first {
			return
		}
		down, first = d, false
		for name, st := range statuses {
			if d {
				st = healthpb.HealthCheckResponse_NOT_SERVING
			}
			hs.SetServingStatus(name, st)
		}
		if d {
			fmt.Println("health: NOT_SERVING")
		} else {
			fmt.Println("health:", statuses[""])
		}
	}
	update(func() {})

	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	if *after > 0 {
		time.AfterFunc(*after, func() { update(func() { timedOut = true }) })
	}
	if *file != "" {
		go func() {
			for {
				_, err := os.Stat(*file)
				update(func() { fileSeen = err == nil })
				time.Sleep(100 * time.Millisecond)
			}
		}()
	}
	go func() {
		<-term.Notify()
		hs.Shutdown()
		srv.GracefulStop()
	}()
	fmt.Printf("serving on :%d\n", *port)
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
	fmt.Println("stopped")
}
