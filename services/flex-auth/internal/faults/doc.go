// Package faults runs the real flex-auth binary as a child process and
// breaks things on purpose: kill -9 under load, an unwritable or full
// decision log, a storm of reloads with broken files, hostile HTTP input,
// start-up errors, and a soak. Every scenario counts the requests sent,
// allowed, denied and lost (always 0) and the longest disruption, and
// prints them on one line:
//
//	FAULTS scenario=N sent=.. allowed=.. denied=.. lost=.. longest_disruption=..
//
// The package holds only tests. "go test" runs the short scale (CI); the
// full run is
//
//	go test -count=1 -timeout 30m ./services/flex-auth/internal/faults -args -faults.scale=full
package faults
