// Package faults runs the real registry-token binary as child processes,
// next to a real Redis, the development Authority (hosted in the test
// process on a listener that can be closed and reopened on the same port)
// and, for the policy call, the real flex-auth binary; then it breaks
// things on purpose: Redis stopped under load behind two replicas,
// Authority key rotation, an unreachable Authority, flex-auth down, slow
// or answering garbage, hostile HTTP input, start-up errors, and a soak.
// Every scenario counts the requests sent, allowed, denied and lost
// (always 0) and the longest disruption, and prints them on one line:
//
//	FAULTS scenario=N sent=.. allowed=.. denied=.. lost=.. longest_disruption=..
//
// The package holds only tests. "go test" runs the short scale (CI); the
// full run is
//
//	go test -count=1 -timeout 30m ./services/registry-token/internal/faults -args -faults.scale=full
package faults
