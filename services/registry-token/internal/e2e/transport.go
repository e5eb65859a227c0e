package e2e

import "github.com/stellaops/authgate/services/registry-token/internal/devstack"

// ProofAlg is the algorithm of client proof keys.
const ProofAlg = devstack.ProofAlg

// ClientKey is a client's DPoP key pair and its RFC 7638 thumbprint (the
// cnf.jkt its OpToks are bound to); see devstack.ClientKey.
type ClientKey = devstack.ClientKey

// NewClientKey generates a P-256 proof key.
func NewClientKey() (*ClientKey, error) { return devstack.NewClientKey() }

// Transport is the client side of registry-token's DPoP flow; see
// devstack.Transport.
type Transport = devstack.Transport
