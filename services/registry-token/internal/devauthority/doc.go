// Package devauthority is a development and test stand-in for the Authority
// that issues OpToks to registry-token clients.
//
// DEVELOPMENT ONLY. It is never wired into a production configuration:
//
//   - its ES256 signing keys are generated at start-up and live only in
//     memory (never written to disk), so every restart invalidates every
//     token it minted;
//   - its token endpoint authenticates nobody: any caller who can reach it
//     and presents a valid DPoP proof (or a TLS client certificate) gets an
//     OpTok for whatever subject, plan and licence it asks for.
//
// It serves, as an [http.Handler]:
//
//	GET  /.well-known/openid-configuration  OIDC discovery: issuer, jwks_uri, token_endpoint
//	GET  /jwks.json                         the public keys (all published kids)
//	POST /token                             mints a sender-constrained OpTok (see [Authority.ServeHTTP])
//
// Tests mint tokens directly with [Authority.MintDPoP], [Authority.MintMTLS]
// and [Authority.Mint]; [MintOption] values override claims or headers for
// negative cases (wrong audience, expired, missing scope, unknown key).
// [Authority.Rotate] publishes a new key id, optionally dropping the old one.
//
// Over HTTP, [NewDPoPVerifier] (pkg/dpop) checks token-request proofs and
// [RequestToken] is the client side: it signs a proof with the caller's key
// and returns an OpTok bound to it.
package devauthority
