// Package proctest runs the services of this module as real child
// processes for fault-injection and load tests.
//
//	bin := proctest.Build(t, "./services/flex-auth")  // once per test binary
//	p := proctest.Start(t, bin, proctest.Options{
//		Name: "flex-auth",
//		Args: []string{"serve", "--addr", proctest.AddrArg, ...},
//		ReadyPath: "/readyz",
//	})
//	p.Signal(syscall.SIGHUP)
//	p.Kill()      // SIGKILL, waits for the exit
//	p.Restart(t)  // same port, same arguments, logs appended
//	m, _ := p.Metrics(ctx)
//	m.Value("go_goroutines")
//
// Binaries are built with "go build" from the module root (found with
// "go env GOMOD") into a temporary directory that [Main] removes when the
// test binary ends. Children listen on a free 127.0.0.1 port, write their
// stdout and stderr to files (printed when the test fails) and are killed
// if the test binary dies first.
//
// [Figures] is the one-line summary every fault scenario prints:
//
//	FAULTS scenario=N sent=.. allowed=.. denied=.. lost=.. longest_disruption=..
package proctest
