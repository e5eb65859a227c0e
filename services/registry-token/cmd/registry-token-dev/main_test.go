package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/stellaops/authgate/services/registry-token/internal/app"
	"github.com/stellaops/authgate/services/registry-token/internal/devstack"
	"github.com/stellaops/authgate/services/registry-token/internal/dpopclient"
)

// TestToken runs "registry-token-dev token" against a development
// Authority: the printed OpTok carries the plan, licence and subject and
// is bound to the key file (created 0600), which dpop-proof shares.
func TestToken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a, err := devstack.StartAuthority(context.Background(), ln)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	keyFile := filepath.Join(t.TempDir(), "client.jwk")
	var out, errOut bytes.Buffer
	err = run(context.Background(),
		[]string{"token", "--authority", a.URL, "--key", keyFile, "--plan", "enterprise", "--license", "lic-1", "--sub", "alice"},
		env{Stdout: &out, Stderr: &errOut})
	if err != nil {
		t.Fatalf("token: %v (%s)", err, errOut.String())
	}
	if !strings.Contains(errOut.String(), "created DPoP client key") {
		t.Errorf("no creation notice: %q", errOut.String())
	}
	key, created, err := dpopclient.LoadOrCreateKey(keyFile)
	if err != nil || created {
		t.Fatalf("key file not kept: %v, created again %v", err, created)
	}
	tok, err := jwt.ParseString(strings.TrimSpace(out.String()), jwt.WithVerify(false))
	if err != nil {
		t.Fatalf("token printed %q: %v", out.String(), err)
	}
	claims, _ := json.Marshal(tok.PrivateClaims())
	for _, want := range []string{`"stellaops:plan":"enterprise"`, `"stellaops:license":"lic-1"`, `"jkt":"` + key.JKT + `"`} {
		if !strings.Contains(string(claims), want) {
			t.Errorf("claims %s lack %s", claims, want)
		}
	}
	if tok.Subject() != "alice" {
		t.Errorf("sub %q", tok.Subject())
	}
}

// TestUsage: no command, an unknown command, stray arguments and a push
// without its repository are
// usage errors (exit 2); help prints the commands.
func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"serve"}, {"up", "extra"}, {"token", "--no-such-flag"}, {"push"}, {"push", "--no-such-flag"}} {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), args, env{Stdout: &out, Stderr: &errOut}); !errors.Is(err, app.ErrUsage) {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"help"}, env{Stdout: &out, Stderr: &out}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"up ", "token ", "demo ", "push ", "DEVELOPMENT ONLY"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}
}

// TestAuthorityFlags: the https listener's flags go together, and a
// wrong one is a usage error before anything listens.
func TestAuthorityFlags(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"certificate without listener", []string{"--tls-cert", "c.pem", "--tls-key", "k.pem"}, "need --tls-listen"},
		{"client CA without listener", []string{"--client-ca", "ca.pem"}, "need --tls-listen"},
		{"listener without key", []string{"--tls-listen", "127.0.0.1:0", "--tls-cert", "c.pem"}, "needs --tls-cert and --tls-key"},
		{"missing certificate file", []string{"--tls-listen", "127.0.0.1:0", "--tls-cert", filepath.Join(dir, "c.pem"), "--tls-key", filepath.Join(dir, "k.pem")}, "no such file"},
		{"argument", []string{"extra"}, "unexpected argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), append([]string{"authority", "--listen", "127.0.0.1:0"}, tc.args...), env{Stdout: &out, Stderr: &errOut})
			if !errors.Is(err, app.ErrUsage) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want a usage error containing %q", err, tc.want)
			}
			if out.Len() > 0 {
				t.Errorf("printed %q before refusing", out.String())
			}
		})
	}
}
