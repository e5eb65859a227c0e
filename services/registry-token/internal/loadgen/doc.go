// Package loadgen is the load generator for registry-token's GET /token:
// it starts the development Authority and registry-token on loopback,
// mints DPoP-bound OpToks, and drives /token from a fixed number of
// keep-alive connections, each request with a fresh DPoP proof, for a
// fixed duration (up to an hour: the soak runs ten minutes). Each caller
// reuses its OpTok, as clients do (-fresh-optoks: every request brings a
// new one). It reports tokens/s, latency percentiles, errors by status and
// reason, the server's resident memory and CPU per token, the crypto floor
// measured in the same run (two P-256 verifications and one signature, on
// one thread, before and after the load) and the ratio of the two, and
// with the Redis replay cache the costs of the redis-server it started.
//
// Run it with
//
//	go run ./services/registry-token/cmd/loadgen -duration 15s -connections 32 [-replay redis] [-fresh-optoks]
//	go tool task soak:registry-token   # 10 minutes, memory then Redis
//
// By default registry-token runs as a child process (the same binary,
// re-executed), so its RSS and CPU are measured on their own; the load
// generator shares the machine's CPUs with it, as the targets require.
package loadgen
