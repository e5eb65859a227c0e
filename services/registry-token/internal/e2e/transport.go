package e2e

import (
	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/services/registry-token/internal/dpopclient"
)

// ProofAlg is the algorithm of client proof keys.
const ProofAlg = dpopclient.ProofAlg

// ClientKey is a client's DPoP key pair and its RFC 7638 thumbprint (the
// cnf.jkt its OpToks are bound to); see dpopclient.Key.
type ClientKey = dpopclient.Key

// NewClientKey generates a P-256 proof key.
func NewClientKey() (*ClientKey, error) { return dpopclient.NewKey() }

// Transport is the client side of registry-token's DPoP flow; see
// dpop.Transport.
type Transport = dpop.Transport
