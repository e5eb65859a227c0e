package token

import (
	"sync/atomic"

	"github.com/labstack/echo/v4"
)

// Live serves /token with the handler of the configuration in force. A
// configuration reload builds a new Handler and stores it; each request
// runs entirely on the handler it started with, so every token reflects
// one configuration.
type Live struct{ cur atomic.Pointer[Handler] }

// NewLive serves h until the next Store.
func NewLive(h *Handler) *Live {
	l := &Live{}
	l.cur.Store(h)
	return l
}

// Store makes h serve the requests that start from now on.
func (l *Live) Store(h *Handler) { l.cur.Store(h) }

// Register adds GET and POST /token to e, served by the current handler.
func (l *Live) Register(e *echo.Echo) {
	e.GET("/token", func(c echo.Context) error { return l.cur.Load().getToken(c) })
	e.POST("/token", func(c echo.Context) error { return l.cur.Load().postToken(c) })
}
