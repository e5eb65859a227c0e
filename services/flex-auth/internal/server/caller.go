package server

import (
	"net"

	"github.com/labstack/echo/v4"
)

// callerKey holds, in the echo context, who the caller authentication
// found the caller to be.
const callerKey = "flex-auth.caller"

// SetCaller records the authenticated identity of the caller of c (the
// caller-authentication middleware calls it).
func SetCaller(c echo.Context, id string) { c.Set(callerKey, id) }

// Caller names the caller of c: its authenticated identity, else
// "addr:" and the client's address (the peer, not a forwarded header).
func Caller(c echo.Context) string {
	if id, ok := c.Get(callerKey).(string); ok && id != "" {
		return id
	}
	host, _, err := net.SplitHostPort(c.Request().RemoteAddr)
	if err != nil {
		host = c.Request().RemoteAddr
	}
	return "addr:" + host
}
