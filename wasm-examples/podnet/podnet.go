// Package podnet gives Go guests the pod network of wasmpod with the standard
// net and net/http types.
//
// WASI preview 1 has no way to open a socket, and Go's net package on
// GOOS=wasip1 cannot listen or dial on its own. wasmpod implements the
// WasmEdge socket extension (sock_open, sock_bind, sock_connect,
// sock_getaddrinfo, ...; see docs/wasi-sockets.md in the wasmpod repository)
// and this package puts the guest library github.com/stealthrocket/net on top
// of it, so that a program only changes how it gets its listener or dialer:
//
//	ln, err := podnet.Listen("tcp", ":8080")
//	http.Serve(ln, handler)
//
//	resp, err := podnet.HTTPClient().Get("http://web/")
//
// Contracts:
//   - Names are resolved by the pod's DNS through sock_getaddrinfo (cluster
//     names such as "web", "web.default.svc.cluster.local", pod hostnames,
//     "localhost"), without build tags. IP literals are not looked up.
//   - Dial tries every address of a name in order and returns the first
//     connection that succeeds.
//   - Connections and listeners are the net package's own *net.TCPConn and
//     TCP listener types (through net.FileConn/net.FileListener), so
//     deadlines, CloseWrite and http.Server work as usual.
//   - TCP dials call the socket functions directly (parsing the address
//     once, and taking the peer address from it): a dial is a guest's most
//     frequent network set-up, and about a quarter cheaper that way than
//     through stealthrocket/net, which still serves listeners and UDP. A
//     connect that completes later (egress) is waited for through Go's
//     poller; a context's deadline or cancellation ends the wait.
//   - Built for any other GOOS, the package is a thin wrapper over the net
//     package, so the same program also runs natively.
package podnet

import (
	"context"
	"net"
	"net/http"
	"time"
)

// Dial connects to address on the named network ("tcp", "tcp4", "tcp6",
// "udp", "udp4", "udp6").
func Dial(network, address string) (net.Conn, error) {
	return DialContext(context.Background(), network, address)
}

// DialContext is Dial with a context that bounds name resolution and the
// connection attempts.
func DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return dialContext(ctx, network, address)
}

// Listen announces on the local address ("tcp", ":8080"). A host part that
// is a name is resolved first and the first address is used.
func Listen(network, address string) (net.Listener, error) {
	return listen(network, address)
}

// ListenPacket opens a datagram socket bound to address ("udp", ":5353").
func ListenPacket(network, address string) (net.PacketConn, error) {
	return listenPacket(network, address)
}

// LookupHost returns the addresses of host as the pod's DNS resolves it.
func LookupHost(ctx context.Context, host string) ([]string, error) {
	return lookupHost(ctx, host)
}

// Transport returns a new http.Transport that dials through the pod network
// (DialContext) and resolves names through the pod's DNS. It has the
// timeouts of http.DefaultTransport and no proxy. Set DisableKeepAlives on
// it to spread requests over the endpoints of a Service: Services balance
// per connection.
func Transport() *http.Transport {
	return &http.Transport{
		DialContext:           DialContext,
		ForceAttemptHTTP2:     false,
		MaxIdleConns:          100,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
	}
}

// HTTPClient returns a new http.Client over Transport().
func HTTPClient() *http.Client {
	return &http.Client{Transport: Transport()}
}
