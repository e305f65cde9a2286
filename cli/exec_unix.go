//go:build unix

package cli

import (
	"os"
	"os/signal"
	"syscall"
)

// notifyResize sends on ch (without blocking) each time the terminal on fd
// changes size: on SIGWINCH, as kubectl does on Unix.
func notifyResize(fd int, ch chan<- struct{}) (stop func()) {
	sig := make(chan os.Signal, 1)
	quit := make(chan struct{})
	signal.Notify(sig, syscall.SIGWINCH)
	go func() {
		for {
			select {
			case <-sig:
				select {
				case ch <- struct{}{}:
				default:
				}
			case <-quit:
				return
			}
		}
	}()
	return func() {
		signal.Stop(sig)
		close(quit)
	}
}
