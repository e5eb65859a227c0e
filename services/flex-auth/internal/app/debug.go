package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"go.uber.org/zap"
)

// checkDebugAddr refuses a debug address that is not loopback (an IP in
// 127.0.0.0/8 or ::1, or "localhost") unless allowRemote acknowledges it:
// the pprof handlers are unauthenticated and expose the process internals
// (heap contents, command line).
func checkDebugAddr(addr string, allowRemote bool) error {
	if addr == "" || allowRemote {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("server.debugAddr (--debug-addr) %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("server.debugAddr (--debug-addr) %q is not a loopback address: the pprof endpoints are unauthenticated; "+
		"bind 127.0.0.1 or [::1], or set server.debugAllowRemote (--debug-allow-remote) to accept the exposure", addr)
}

// serveDebug serves the net/http/pprof handlers on addr until ctx is done.
// It is off by default; operators bind it to loopback only, since profiles
// expose the process internals.
func serveDebug(ctx context.Context, addr string, log *zap.Logger) (stop func(), err error) {
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen debug %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("debug server", zap.Error(err))
		}
	}()
	log.Info("debug server listening", zap.String("addr", ln.Addr().String()))
	return func() {
		_ = hs.Close()
		<-done
	}, nil
}
