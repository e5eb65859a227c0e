// Package process is the process plumbing both services share while they
// serve: the signals they act on (SIGHUP reloads, and flex-auth's SIGUSR1
// reopens its decision log) and the garbage collector settings.
package process

import (
	"context"
	"os"
	"os/signal"
)

// Subscribe returns injected when it is not nil (tests hand in their own
// signals), else a channel that receives the process signals sigs; stop
// ends the subscription. Subscribe before anything slow starts: a signal
// subscribed to does not take its default action (SIGHUP would end the
// process), and one that arrives early waits in the channel.
func Subscribe(injected <-chan os.Signal, sigs ...os.Signal) (ch <-chan os.Signal, stop func()) {
	if injected != nil {
		return injected, func() {}
	}
	c := make(chan os.Signal, 4)
	signal.Notify(c, sigs...)
	return c, func() { signal.Stop(c) }
}

// HandleSignals runs the handler of each signal received on sigs, one at
// a time, until ctx is done or sigs is closed. Signals without a handler
// are ignored.
func HandleSignals(ctx context.Context, sigs <-chan os.Signal, handlers map[os.Signal]func()) {
	for {
		select {
		case <-ctx.Done():
			return
		case s, ok := <-sigs:
			if !ok {
				return
			}
			if h := handlers[s]; h != nil {
				h()
			}
		}
	}
}
