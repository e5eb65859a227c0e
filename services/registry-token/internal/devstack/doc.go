// Package devstack is the local development stack behind
// "registry-token-dev": the development Authority, registry-token, the distribution
// registry (in-process, in-memory storage) and flex-auth (a child
// process), all on 127.0.0.1, plus the client side a newcomer needs to
// drive them: DPoP client keys in files, proofs, OpToks from the
// Authority, and a go-containerregistry transport that presents them.
//
// DEVELOPMENT ONLY. Nothing here is linked into the registry-token binary
// or reachable from a production configuration: the Authority mints tokens for anyone
// who asks, and the registry forgets everything when it stops.
//
// The registry and registry-token are addressed as "localhost:<port>"
// (listening on 127.0.0.1): go-containerregistry refuses a token realm on
// a loopback IP whose port differs from the registry's, and treats
// "localhost" registries as plain HTTP.
package devstack
