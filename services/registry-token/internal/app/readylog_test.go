package app_test

import (
	"strings"
	"testing"

	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
)

// The start-up's not-ready window (the replay epoch, about 5 s), polled
// every 20 ms by startServer as the development stack and kubelets do,
// logs one "not ready" line and one "ready" line at info, and no /readyz
// line at error level.
func TestStartupNotReadyWindowIsLoggedOnce(t *testing.T) {
	dir := t.TempDir()
	a := authoritytest.New(t)
	s := startServer(t, "--config", writeConfig(t, dir, a, writeKey(t, dir, 0o600)))
	var notReady, ready, readyzErrors, readyzLines int
	for _, line := range strings.Split(s.logs.String(), "\n") {
		switch {
		case strings.Contains(line, `"route":"/readyz"`) && strings.Contains(line, `"level":"error"`):
			readyzErrors++
		case strings.Contains(line, `"route":"/readyz"`):
			readyzLines++
		case strings.Contains(line, `"msg":"not ready: /readyz answers 503 until this changes"`):
			notReady++
			if !strings.Contains(line, `"level":"info"`) || !strings.Contains(line, `"why":"`) {
				t.Errorf("not-ready line %s", line)
			}
		case strings.Contains(line, `"msg":"ready"`):
			ready++
			if !strings.Contains(line, `"level":"info"`) || !strings.Contains(line, `"not_ready_for":`) {
				t.Errorf("ready line %s", line)
			}
		}
	}
	if readyzErrors != 0 || readyzLines != 0 || notReady != 1 || ready != 1 {
		t.Fatalf("/readyz lines: %d at error level, %d others (debug is off); %d not ready, %d ready lines, want 0, 0, 1, 1:\n%s",
			readyzErrors, readyzLines, notReady, ready, s.logs)
	}
}
