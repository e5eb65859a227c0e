package httpx

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// Limits bound what one client can make the server hold.
type Limits struct {
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
	ShutdownTimeout   time.Duration
	// MaxConnectionAge: a request on a connection older than this (from
	// its first request) is answered with Connection: close, so the
	// client opens a new connection and a new TLS handshake (a rotated
	// client CA takes effect). 0: no limit.
	MaxConnectionAge time.Duration
	// Now is the clock of MaxConnectionAge and of the client certificate
	// validity check (default time.Now).
	Now func() time.Time
}

// DefaultLimits suit small JSON APIs: slow-header clients are cut after 5 s,
// headers are capped at 16 KiB.
var DefaultLimits = Limits{
	ReadHeaderTimeout: 5 * time.Second,
	ReadTimeout:       10 * time.Second,
	WriteTimeout:      15 * time.Second,
	IdleTimeout:       60 * time.Second,
	MaxHeaderBytes:    16 << 10,
	ShutdownTimeout:   15 * time.Second,
	MaxConnectionAge:  DefaultMaxConnectionAge,
}

// DefaultMaxConnectionAge is the default Limits.MaxConnectionAge.
const DefaultMaxConnectionAge = 10 * time.Minute

// NewServer wraps h in an http.Server with the given limits and the
// per-request connection checks (see connChecks).
func NewServer(h http.Handler, l Limits) *http.Server {
	if l.Now == nil {
		l.Now = time.Now
	}
	return &http.Server{
		Handler: connChecks(h, l.MaxConnectionAge, l.Now),
		ConnContext: func(ctx context.Context, _ net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, new(connState))
		},
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
	}
}

// Serve serves on ln until ctx is done, then calls beforeShutdown (mark the
// service not ready), and drains in-flight requests for at most timeout.
// TLS is used when srv.TLSConfig is set.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, timeout time.Duration, beforeShutdown func()) error {
	errc := make(chan error, 1)
	go func() {
		var err error
		if srv.TLSConfig != nil {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		errc <- err
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	if beforeShutdown != nil {
		beforeShutdown()
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
