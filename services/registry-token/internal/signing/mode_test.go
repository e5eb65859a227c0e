package signing_test

import (
	"io/fs"
	"testing"

	"github.com/stellaops/authgate/services/registry-token/internal/signing"
)

// TestKeyModeAllowed: the owner alone, or a root-owned key that the
// non-root service reads through its group (a Kubernetes Secret with
// fsGroup); every other way of sharing the key is refused.
func TestKeyModeAllowed(t *testing.T) {
	const root, service = 0, 65532
	for _, c := range []struct {
		name       string
		perm       fs.FileMode
		owner, uid int
		want       bool
	}{
		{"owner only", 0o600, service, service, true},
		{"owner read only", 0o400, service, service, true},
		{"root's own key", 0o600, root, root, true},
		{"Kubernetes Secret with fsGroup", 0o440, root, service, true},
		{"root-owned, group read", 0o640, root, service, true},
		{"group readable, owned by the service", 0o640, service, service, false},
		{"group readable, root process", 0o640, root, root, false},
		{"group writable, root-owned", 0o460, root, service, false},
		{"group executable, root-owned", 0o450, root, service, false},
		{"others read, root-owned", 0o444, root, service, false},
		{"world readable", 0o644, service, service, false},
		{"others execute", 0o601, service, service, false},
		{"owner unknown, group read", 0o440, -1, service, false},
	} {
		if got := signing.KeyModeAllowed(c.perm, c.owner, c.uid); got != c.want {
			t.Errorf("%s: KeyModeAllowed(%#o, owner %d, uid %d) = %v", c.name, c.perm, c.owner, c.uid, got)
		}
	}
}
