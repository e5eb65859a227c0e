// Command registry-token-helper fetches a registry token with a DPoP-bound
// OpTok, for registry clients that cannot sign DPoP proofs (skopeo, crane,
// oras, helm, docker). It asks registry-token for the scopes given, with
// a fresh proof signed by the key the OpTok is bound to, and either prints
// the token:
//
//	skopeo copy --dest-registry-token "$(registry-token-helper --registry registry.example.com \
//	    --realm https://registry-token.example.com/token --optok-file optok.jwt --dpop-key dpop.jwk --scope repository:team/app:pull,push)" ...
//
// or writes it as "registrytoken" for the registry host into a Docker
// config file, which crane, oras and helm read:
//
//	registry-token-helper --registry registry.example.com --realm https://registry-token.example.com/token \
//	    --optok-file optok.jwt --dpop-key dpop.jwk \
//	    --scope repository:team/app:pull,push --docker-config ~/.docker/config.json
//
// Limits: the registry token covers only the scopes asked for (and what
// the caller's plan grants of them), and it lives signing.lifetime (5
// minutes by default); run the helper again for other repositories or
// when it expires.
//
// The OpTok goes only to a realm the user trusts: --realm (repeatable),
// else the space-separated list in $REGISTRY_TOKEN_HELPER_REALMS. The
// registry's Bearer challenge must name one of them (a challenge naming
// another realm is refused, naming both); it also gives the service
// unless --service is given. With one trusted realm and --service, the
// registry is not asked.
//
// The helper links no server code: only pkg/dpop and the client key
// parser.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "registry-token-helper:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "registry-token-helper:", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage error")

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	client, err := o.httpClient()
	if err != nil {
		return err
	}
	trusted, err := trustedRealms(o.realms, getenv)
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if len(trusted) == 1 && o.service != "" {
		o.realm = trusted[0].String()
	} else {
		realm, service, err := discover(ctx, client, o.registryURL())
		if err != nil {
			return err
		}
		if o.realm, err = chooseRealm(trusted, realm); err != nil {
			return err
		}
		if o.service == "" {
			o.service = service
		}
		if o.service == "" {
			return fmt.Errorf("the registry's challenge names no service: give --service")
		}
	}
	optok, key, err := o.credentials(stdin)
	if err != nil {
		return err
	}
	tok, err := fetch(ctx, client, o, optok, key)
	if err != nil {
		return err
	}
	warnPartial(stderr, o.scopes, tok)
	if o.dockerConfig == "" {
		_, err = fmt.Fprintln(stdout, tok.Token)
		return err
	}
	if err := writeDockerConfig(o.dockerConfig, o.registry, tok.Token, stderr); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "registry-token-helper: wrote a registry token for %s into %s; it covers only the scopes asked for and expires in %ds (signing.lifetime): run again for other repositories or after that\n",
		o.registry, o.dockerConfig, tok.ExpiresIn)
	return nil
}
