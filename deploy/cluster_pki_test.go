package deploy_test

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stellaops/authgate/deploy/internal/cluster"
)

// pullPKI is the test's CA and certificates: registry-token's and the
// Authority's serving certificates and the node's client certificate.
type pullPKI struct {
	dir string
	ca  *cluster.CA
}

func newPullPKI(t *testing.T) *pullPKI {
	t.Helper()
	ca, err := cluster.NewCA("authgate-e2e-ca")
	if err != nil {
		t.Fatal(err)
	}
	p := &pullPKI{dir: t.TempDir(), ca: ca}
	if err := os.WriteFile(p.file("ca.crt"), ca.PEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, cn string
		dns      []string
		ips      []net.IP
	}{
		{"registry-token-tls", "registry-token", []string{"registry-token.registry-token.svc", "registry-token.registry-token.svc.cluster.local"}, nil},
		{"authority-tls", "authority", []string{authorityDNS}, nil},
		{"node", cluster.NodeName, nil, nil},
	} {
		if err := ca.Issue(p.dir, c.name, c.cn, nil, c.dns, c.ips); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func (p *pullPKI) file(name string) string { return filepath.Join(p.dir, name) }
