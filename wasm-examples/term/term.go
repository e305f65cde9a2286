// Package term lets a Go WASI guest learn that its container is being
// terminated, so it can shut down gracefully.
//
// # The TERM contract
//
// WASI preview 1 has no signals. wasmpod therefore gives every container
// stdin as a pipe and delivers TERM by closing it: the guest reads EOF. If the
// container was started with stdin data (for example by a later `exec -i`),
// the host copies that data in first and then closes the pipe, so EOF still
// means "stop". A guest that ignores TERM keeps running until its pod's
// grace period (terminationGracePeriodSeconds) ends; then it is killed and
// reports exit code 137.
//
// Go's wasip1 port puts fd 0 in non-blocking mode, so a goroutine parked on a
// stdin read waits in the netpoller (poll_oneoff) and costs no CPU while the
// rest of the program runs.
//
// # Using this package
//
// [Notify] starts a single goroutine that reads (and discards) stdin until
// EOF or a read error, and returns a channel that is closed at that moment.
// [Context] derives a context that is cancelled when TERM arrives, with
// [ErrTerminated] as its cause.
//
// Contracts:
//   - The package owns stdin once Notify or Context has been called: every
//     byte read is discarded. A guest that needs its stdin data should read
//     stdin itself and treat EOF as TERM instead of using this package.
//   - Any end of stdin counts as TERM: EOF, a read error, or a stdin that is
//     not held open by the host (for example /dev/null when the program runs
//     outside wasmpod) fires immediately.
//   - Notify and Context are safe for concurrent use. Notify is idempotent:
//     every call returns the same channel and only one reader goroutine is
//     ever started.
//   - Termination is one-way: once the channel is closed it stays closed.
//   - Cooperation is required: the guest must actually return from main (or
//     call os.Exit) after TERM. A guest that keeps running is killed at the
//     deadline whatever it is doing.
package term

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"
)

// ErrTerminated is the cause (see context.Cause) of a context returned by
// [Context] that was cancelled because TERM arrived.
var ErrTerminated = errors.New("term: container is terminating (stdin closed)")

// stdin is the TERM source; tests replace it before the first Notify call.
var stdin io.Reader = os.Stdin

// std is the process-wide notifier behind Notify and Context.
var std = &notifier{src: func() io.Reader { return stdin }}

// Notify returns a channel that is closed when TERM arrives, i.e. when stdin
// reaches EOF or fails. The first call starts the one goroutine that reads
// stdin; later calls return the same channel.
func Notify() <-chan struct{} { return std.notify() }

// Context returns a copy of parent that is cancelled when TERM arrives (with
// cause [ErrTerminated]), when parent is done, or when the returned cancel
// function is called, whichever happens first. Call cancel to release the
// watcher goroutine when the context is no longer needed.
func Context(parent context.Context) (context.Context, context.CancelFunc) {
	return std.context(parent)
}

// notifier turns the end of a reader into a closed channel, once.
type notifier struct {
	src  func() io.Reader
	once sync.Once
	done chan struct{}
}

func (n *notifier) notify() <-chan struct{} {
	n.once.Do(func() {
		n.done = make(chan struct{})
		r := n.src()
		go func() {
			defer close(n.done)
			// io.Copy stops at EOF (returning nil) or at the first read
			// error; both mean the host is done with us.
			_, _ = io.Copy(io.Discard, r)
		}()
	})
	return n.done
}

func (n *notifier) context(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	termCh := n.notify()
	go func() {
		select {
		case <-termCh:
			cancel(ErrTerminated)
		case <-ctx.Done():
		}
	}()
	return ctx, func() { cancel(context.Canceled) }
}
