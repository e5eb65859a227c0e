// Package loadgen is the bounded load generator for registry-token's
// GET /token: it starts the development Authority and registry-token on
// loopback, mints DPoP-bound OpToks, and drives /token from a fixed number
// of keep-alive connections, each request with a fresh DPoP proof, for a
// fixed duration. It reports tokens/s, latency percentiles, errors and the
// server's resident memory.
//
// Run it with
//
//	go run ./services/registry-token/internal/loadgen/cmd -duration 15s -connections 32
//
// By default registry-token runs as a child process (the same binary,
// re-executed), so its RSS is measured on its own; the load generator
// shares the machine's CPUs with it, as the targets require.
package loadgen
