package devstack

import (
	"fmt"
	"io"
	"net/url"
)

// PrintSummary writes what is running where and the commands to try next.
func (s *Stack) PrintSummary(w io.Writer) {
	fmt.Fprintln(w, "DEVELOPMENT STACK: the Authority below mints OpToks for anyone who asks; nothing is persisted.")
	if s.KeyCreated {
		fmt.Fprintf(w, "generated registry-token signing key %s (mode 0600)\n", s.SigningKey)
	}
	flexURL := "(not started)"
	if s.FlexAuth != nil {
		flexURL = s.FlexAuth.URL
		fmt.Fprintf(w, "  %-22s %-28s decision log %s, process log %s\n", "flex-auth", flexURL, s.DecisionLog, s.FlexAuthLog)
	}
	fmt.Fprintf(w, "  %-22s %-28s in-memory keys, OIDC discovery at /.well-known/openid-configuration\n", "development Authority", s.Authority.URL)
	fmt.Fprintf(w, "  %-22s %-28s config %s, signing key %s\n", "registry-token", s.TokenURL, s.ConfigFile, s.SigningKey)
	fmt.Fprintf(w, "  %-22s %-28s in-memory storage, auth.token realm %s, service %s\n", "registry", "http://"+s.Registry.Host, s.Realm, s.Service)
	query := "service=" + url.QueryEscape(s.Service) + "&scope=repository:stella-ops/public/base:pull"
	fmt.Fprintf(w, `
Next, in another terminal at the repository root:
  go tool task demo                  # push, pull, a denied push, flex-auth smoke
  export PATH="$PWD/bin:$PATH"
  OPTOK=$(registry-token-dev token --authority %[1]s --plan community)
  curl -H "Authorization: Bearer $OPTOK" \
       -H "DPoP: $(dpop-proof --url %[2]s --access-token "$OPTOK")" \
       "%[2]s?%[3]s"
  curl -fsS %[4]s/healthz
Ctrl-C stops everything.
`, s.Authority.URL, s.Realm, query, flexURL)
}
