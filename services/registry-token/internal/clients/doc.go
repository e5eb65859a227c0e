// Package clients holds the tests of registry-token with the registry
// clients people already use, run as real processes: skopeo and podman
// (Debian packages), helm, oras, regctl and crane (pinned, installed into
// the tools cache by deploy/tools/install-*.sh).
//
// The stack: the distribution registry over TLS with auth.token,
// registry-token with a TLS listener that verifies client certificates,
// and the development Authority minting certificate-bound and DPoP-bound
// OpToks. Each client pushes with a certificate-bound OpTok as its
// password and the client certificate configured its own way, pulls back
// and compares digests; crane, oras and helm also push with a DPoP-bound
// OpTok through registry-token-helper's Docker config.
//
// A missing client skips its test locally and fails it under CI (CI set).
package clients
