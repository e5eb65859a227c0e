package server

import "github.com/stellaops/authgate/pkg/httpx"

// authProblem maps caller-authentication errors; nil for anything else.
func authProblem(error) *httpx.Problem { return nil }
