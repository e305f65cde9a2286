//go:build !unix

package cli

import (
	"time"

	"golang.org/x/term"
)

// notifyResize sends on ch (without blocking) each time the terminal on fd
// changes size. Windows has no SIGWINCH: the console's size is polled every
// 250 ms, as kubectl does there.
func notifyResize(fd int, ch chan<- struct{}) (stop func()) {
	quit := make(chan struct{})
	go func() {
		w, h, _ := term.GetSize(fd)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				nw, nh, err := term.GetSize(fd)
				if err != nil || (nw == w && nh == h) {
					continue
				}
				w, h = nw, nh
				select {
				case ch <- struct{}{}:
				default:
				}
			case <-quit:
				return
			}
		}
	}()
	return func() { close(quit) }
}
