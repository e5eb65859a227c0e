package app

import (
	"strings"
	"testing"
)

// TestDebugAddrLoopbackOnly (finding: --debug-addr served unauthenticated
// pprof on any address): a non-loopback address is refused at start unless
// --debug-allow-remote acknowledges it. Only IP literals count as loopback:
// a host name, "localhost" included, resolves to whatever the resolver
// says when the listener opens.
func TestDebugAddrLoopbackOnly(t *testing.T) {
	base := []string{"--registry", "r.json", "--policy", "p.md", "--log", "d.jsonl"}
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"--debug-addr", "127.0.0.1:6060"}, true},
		{[]string{"--debug-addr", "127.0.0.2:0"}, true},
		{[]string{"--debug-addr", "[::1]:6060"}, true},
		{[]string{"--debug-addr", "localhost:6060"}, false},
		{[]string{"--debug-addr", "LOCALHOST:6060"}, false},
		{[]string{"--debug-addr", "localhost.:6060"}, false},
		{[]string{"--debug-addr", "127.0.0.1.nip.io:6060"}, false},
		{[]string{"--debug-addr", "localhost:6060", "--debug-allow-remote"}, true},
		{[]string{"--debug-addr", "0.0.0.0:6060"}, false},
		{[]string{"--debug-addr", ":6060"}, false},
		{[]string{"--debug-addr", "[::]:6060"}, false},
		{[]string{"--debug-addr", "10.1.2.3:6060"}, false},
		{[]string{"--debug-addr", "flex-auth.example.com:6060"}, false},
		{[]string{"--debug-addr", "127.0.0.1"}, false}, // no port
		{[]string{"--debug-addr", "0.0.0.0:6060", "--debug-allow-remote"}, true},
	} {
		_, err := LoadConfig(append(append([]string{}, base...), tc.args...), nil)
		switch {
		case tc.ok && err != nil:
			t.Errorf("%v: %v", tc.args, err)
		case !tc.ok && (err == nil || !strings.Contains(err.Error(), "server.debugAddr")):
			t.Errorf("%v: err = %v, want server.debugAddr refused", tc.args, err)
		}
	}
	if _, err := LoadConfig(base, []string{"FLEX_AUTH_SERVER__DEBUGADDR=0.0.0.0:6060", "FLEX_AUTH_SERVER__DEBUGALLOWREMOTE=true"}); err != nil {
		t.Errorf("environment acknowledgement: %v", err)
	}
}
