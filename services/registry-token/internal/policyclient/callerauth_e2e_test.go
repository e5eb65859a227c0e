package policyclient_test

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
	"github.com/stellaops/authgate/pkg/testkit/certtest"
	"github.com/stellaops/authgate/pkg/testkit/proctest"
)

// testAuthenticatedCaller runs registry-token against a real flex-auth
// that requires its callers to authenticate (certificate-only callers:
// auth.clientCertificates, with server.tls.clientCaFile). registry-token
// presents policy.certFile/keyFile and gets decisions; without them every
// check is refused and issuance fails closed.
func testAuthenticatedCaller(t *testing.T, bin, root string) {
	dir := t.TempDir()
	server := certtest.SelfSigned(t, "flex-auth", 10) // for 127.0.0.1, its own CA
	client := certtest.SelfSigned(t, "registry-token", 11)
	intruder := certtest.SelfSigned(t, "intruder", 12)
	files := func(name string, c *certtest.Cert) (string, string) {
		crt, key := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
		c.WriteFiles(t, crt, key)
		return crt, key
	}
	serverCrt, serverKey := files("server", server)
	clientCrt, clientKey := files("client", client)
	intruderCrt, intruderKey := files("intruder", intruder)
	clientCA := filepath.Join(dir, "client-ca.pem")
	if err := os.WriteFile(clientCA, append(append([]byte{}, client.CertPEM...), intruder.CertPEM...), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "flex-auth.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`server:
  tls: {certFile: %q, keyFile: %q, clientCaFile: %q}
auth:
  clientCertificates: ["CN=registry-token"]
`, serverCrt, serverKey, clientCA)), 0o600); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(dir, "decisions.jsonl")
	fa := proctest.Start(t, bin, proctest.Options{Name: "flex-auth-mtls", Dir: dir,
		TLS: &tls.Config{RootCAs: server.Pool(), MinVersion: tls.VersionTLS12},
		Args: []string{"serve", "--config", cfg, "--addr", proctest.AddrArg,
			"--registry", filepath.Join(root, "configs", "registry-policy", "registry_snapshot.json"),
			"--policy", filepath.Join(root, "configs", "registry-policy", "policy_package.md"),
			"--log", logFile}})
	serverCA := filepath.Join(dir, "server-ca.pem")
	if err := os.WriteFile(serverCA, server.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	policy := func(extra string) string {
		return fmt.Sprintf("{url: %q, timeout: 2s, failClosed: true, caFile: %q%s}", fa.URL, serverCA, extra)
	}
	a := authoritytest.New(t)
	const pull = "scope=repository:stella-ops/public/base:pull"

	// With its certificate: decisions come back, the token is issued.
	rt := startRegistryTokenPolicy(t, a, policy(fmt.Sprintf(", certFile: %q, keyFile: %q", clientCrt, clientKey)))
	if status, body, _ := newCaller(t, a, rt.URL).token("customer-42", "community", pull); status != http.StatusOK {
		t.Fatalf("registry-token with its client certificate: status %d: %s\n%s", status, body, rt.Logs.String())
	}
	if b, err := os.ReadFile(logFile); err != nil || !strings.Contains(string(b), `"effect":"allow"`) {
		t.Fatalf("flex-auth logged no allow decision: %v\n%s", err, b)
	}

	// Without a certificate, or with one not on the allow-list: flex-auth
	// answers 401 and registry-token refuses to issue (fail closed).
	for name, extra := range map[string]string{
		"no client certificate":             "",
		"certificate not on the allow-list": fmt.Sprintf(", certFile: %q, keyFile: %q", intruderCrt, intruderKey),
	} {
		rt := startRegistryTokenPolicy(t, a, policy(extra))
		status, body, _ := newCaller(t, a, rt.URL).token("customer-42", "community", pull)
		if status != http.StatusServiceUnavailable || !strings.Contains(body, `"reason":"policy_`) {
			t.Fatalf("%s: status %d: %s", name, status, body)
		}
	}
}
