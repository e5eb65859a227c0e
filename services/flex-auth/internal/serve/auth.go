package serve

import (
	"context"
	"errors"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"
)

var errAuthUnavailable = errors.New("auth: caller authentication is configured but not available in this build")

// newGuard returns the caller-authentication middleware, or nil when auth
// is not configured.
func newGuard(_ context.Context, cfg AuthConfig, _ *zap.Logger, _ func() time.Time) (echo.MiddlewareFunc, error) {
	if !cfg.Enabled() {
		return nil, nil
	}
	return nil, errAuthUnavailable
}
