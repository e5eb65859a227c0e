// Command dpop-proof prints a DPoP proof (RFC 9449) for one HTTP request,
// signed with a client key kept in a file, for curl and scripts:
//
//	OPTOK=$(registry-token-dev token --plan community)
//	curl -H "Authorization: Bearer $OPTOK" \
//	     -H "DPoP: $(dpop-proof --url http://localhost:8085/token --access-token "$OPTOK")" \
//	     "http://localhost:8085/token?service=registry.localhost&scope=repository:stella-ops/public/base:pull"
//
// The key file (--key, a private JWK or PEM) is created with mode 0600
// when it does not exist; "registry-token-dev token" uses the same default
// file, so its OpToks are bound to this key.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/stellaops/authgate/services/registry-token/internal/dpopclient"
)

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "dpop-proof:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "dpop-proof:", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage error")

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dpop-proof", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keyFile := fs.String("key", dpopclient.DefaultKeyFile, "client key: private JWK or PEM (created with mode 0600 when absent)")
	method := fs.String("method", "GET", "HTTP method of the request (htm)")
	url := fs.String("url", "", "request URL (htu; query and fragment are dropped)")
	token := fs.String("access-token", "", "access token sent with the request (ath); empty for a token request")
	nonce := fs.String("nonce", "", "server-provided DPoP-Nonce")
	jkt := fs.Bool("jkt", false, "print the key's RFC 7638 thumbprint (cnf.jkt) instead of a proof")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if *url == "" && !*jkt {
		return fmt.Errorf("%w: --url is required", errUsage)
	}
	key, created, err := dpopclient.LoadOrCreateKey(*keyFile)
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(stderr, "dpop-proof: created client key %s (mode 0600)\n", *keyFile)
	}
	if *jkt {
		_, err = fmt.Fprintln(stdout, key.JKT)
		return err
	}
	proof, err := key.ProofWithNonce(*method, *url, *token, *nonce)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, proof)
	return err
}
