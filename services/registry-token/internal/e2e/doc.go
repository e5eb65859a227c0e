// Package e2e proves registry-token against real peers: the distribution
// registry v3 run in-process, go-containerregistry as the client, and the
// development Authority (package devauthority) as the OpTok issuer.
//
// The non-test files hold the harness that the load generator reuses:
// [StartStack] brings up the Authority and registry-token (through its real
// entry point app.Run, with a generated config file and signing key), and
// [Transport] is the client side of the DPoP flow: it adds the OpTok and a
// fresh DPoP proof to every request sent to the token realm.
//
// Everything listens on 127.0.0.1 only. The token service is addressed as
// "localhost:<port>" because go-containerregistry refuses a realm on a
// loopback IP whose port differs from the registry's.
package e2e
