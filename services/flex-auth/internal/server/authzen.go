package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/stellaops/authgate/services/flex-auth/internal/checkapi"
)

// authzen answers the OpenID AuthZEN 1.0 Access Evaluation endpoint with
// the same engine and decision log as /v1/check (mapping in
// checkapi.DecodeEvaluation).
func (s *Server) authzen(c echo.Context) error {
	buf := s.getBuf()
	defer s.putBuf(buf)
	if err := checkapi.ReadBody(c.Request().Body, buf); err != nil {
		return err
	}
	req, err := checkapi.DecodeEvaluation(buf.Bytes())
	if err != nil {
		return err
	}
	d, err := s.decide(c.Request().Context(), &req, RouteAuthZEN)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, checkapi.NewEvaluationResponse(&d))
}
