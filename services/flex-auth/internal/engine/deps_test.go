package engine

import (
	"os/exec"
	"strings"
	"testing"
)

// The engine speaks its own types (pkg/policy's requests in, a Decision
// out): the HTTP edge converts to and from the wire, so the engine links
// no wire, server, log or HTTP package.
func TestEngineLinksNoWireOrHTTPCode(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 || !strings.HasSuffix(deps[len(deps)-1], "/services/flex-auth/internal/engine") {
		t.Fatalf("go list -deps listed %q", deps)
	}
	const internal = "github.com/stellaops/authgate/services/flex-auth/internal/"
	forbidden := []string{
		internal + "checkapi", // the wire types of the HTTP API
		internal + "server",
		internal + "decisionlog",
		"net/http",
		"github.com/labstack/echo/v4",
	}
	for _, dep := range deps {
		for _, bad := range forbidden {
			if dep == bad || strings.HasPrefix(dep, bad+"/") {
				t.Errorf("the engine links %s", dep)
			}
		}
	}
}
