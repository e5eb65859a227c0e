package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/stellaops/authgate/services/registry-token/internal/dpopclient"
)

// options are the command line.
type options struct {
	registry string // host[:port] as clients name it
	// realms are the --realm values: the realms the user trusts.
	realms []string
	// realm is the one the token is asked from (a trusted one).
	realm        string
	service      string
	scopes       []string
	optokFile    string
	keyFile      string
	dockerConfig string
	caFile       string
	plainHTTP    bool
	timeout      time.Duration
}

// scopeList is a repeatable flag; one value may hold several
// space-separated scopes.
type scopeList []string

func (s *scopeList) String() string { return strings.Join(*s, " ") }
func (s *scopeList) Set(v string) error {
	*s = append(*s, strings.Fields(v)...)
	return nil
}

// realmList is the repeatable --realm flag.
type realmList []string

func (s *realmList) String() string { return strings.Join(*s, " ") }
func (s *realmList) Set(v string) error {
	*s = append(*s, v)
	return nil
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("registry-token-helper", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.registry, "registry", "", "registry host[:port] the token is for (required)")
	fs.Var((*realmList)(&o.realms), "realm", "registry-token's token URL that you trust (repeat for several; default: the list in $"+RealmsEnv+"); the registry's challenge must name one of them")
	fs.StringVar(&o.service, "service", "", "service name (default: from the registry's Bearer challenge)")
	fs.Var((*scopeList)(&o.scopes), "scope", "scope to request, e.g. repository:team/app:pull,push (repeat, or space-separate)")
	fs.StringVar(&o.optokFile, "optok-file", "", `file holding the DPoP-bound OpTok ("-": standard input) (required)`)
	fs.StringVar(&o.keyFile, "dpop-key", "", "the private key the OpTok is bound to: JWK or PEM (required)")
	fs.StringVar(&o.dockerConfig, "docker-config", "", "write the token into this Docker config file (e.g. ~/.docker/config.json) instead of printing it")
	fs.StringVar(&o.caFile, "cacert", "", "PEM CA bundle to verify the registry and registry-token with (default: system roots)")
	fs.BoolVar(&o.plainHTTP, "plain-http", false, "reach the registry over http:// for the challenge (local development only)")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "timeout of each HTTP request")
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	var missing []string
	for name, v := range map[string]string{"--registry": o.registry, "--optok-file": o.optokFile, "--dpop-key": o.keyFile} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	case len(missing) > 0:
		return nil, fmt.Errorf("%w: %s required", errUsage, strings.Join(slices.Sorted(slices.Values(missing)), ", "))
	case strings.Contains(o.registry, "/"):
		return nil, fmt.Errorf("%w: --registry is a host[:port], not %q", errUsage, o.registry)
	}
	return o, nil
}

func (o *options) registryURL() string {
	scheme := "https"
	if o.plainHTTP {
		scheme = "http"
	}
	return scheme + "://" + o.registry + "/v2/"
}

func (o *options) httpClient() (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if o.caFile != "" {
		pem, err := os.ReadFile(o.caFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--cacert %s holds no PEM certificate", o.caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: o.timeout}, nil
}

// credentials reads the OpTok and the DPoP key.
func (o *options) credentials(stdin io.Reader) (string, *dpopclient.Key, error) {
	var raw []byte
	var err error
	if o.optokFile == "-" {
		raw, err = io.ReadAll(io.LimitReader(stdin, 64<<10))
	} else {
		raw, err = os.ReadFile(o.optokFile)
	}
	if err != nil {
		return "", nil, fmt.Errorf("reading the OpTok: %w", err)
	}
	optok := string(bytes.TrimSpace(raw))
	if strings.Count(optok, ".") != 2 || strings.ContainsAny(optok, " \t\r\n") {
		return "", nil, errors.New("the OpTok file does not hold one JWT")
	}
	pem, err := os.ReadFile(o.keyFile)
	if err != nil {
		return "", nil, fmt.Errorf("reading the DPoP key: %w", err)
	}
	key, err := dpopclient.ParseKey(pem)
	if err != nil {
		return "", nil, fmt.Errorf("--dpop-key %s: %w", o.keyFile, err)
	}
	return optok, key, nil
}
