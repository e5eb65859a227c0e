package deploy_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stellaops/authgate/deploy/internal/cluster"
)

// The registry as the node and the pods name it: both resolve it (the
// pods through the cluster DNS, the node through its own resolver, which
// forwards the cluster domain there), and so its token realm at
// registry-token's Service.
const (
	registryHost = "registry.registry.svc.cluster.local:5000"
	tokenURL     = "https://registry-token.registry-token.svc.cluster.local:8085/token"
	privateRepo  = "stella-ops/team/app"
)

// httpsClient is an https client of the test process that reaches the
// cluster's Services by name: the connection is made from inside the
// cluster's network namespace to the Service's ClusterIP, the TLS name is
// the Service's. It presents the node's client certificate and trusts the
// test's CA. keepAlive false opens a connection per request (each may land
// on another pod).
func (e *e2e) httpsClient(t *testing.T, keepAlive bool) *http.Client {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(e.pki.file("node.crt"), e.pki.file("node.key"))
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(e.pki.file("ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	var mu sync.Mutex
	ips := map[string]string{}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: !keepAlive,
		TLSClientConfig:   &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: roots, MinVersion: tls.VersionTLS12},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			mu.Lock()
			ip, ok := ips[host]
			mu.Unlock()
			if !ok {
				svc, ns, found := strings.Cut(strings.TrimSuffix(host, ".svc.cluster.local"), ".")
				if !found {
					return nil, fmt.Errorf("%s is not a Service name", host)
				}
				out, err := e.c.Kubectl(ctx, "-n", ns, "get", "service", svc, "-o", "jsonpath={.spec.clusterIP}")
				if err != nil {
					return nil, err
				}
				ip = strings.TrimSpace(out)
				mu.Lock()
				ips[host] = ip
				mu.Unlock()
			}
			return e.c.DialContext(ctx, network, net.JoinHostPort(ip, port))
		},
	}}
}

// certBoundOpTok asks the development Authority's https listener for an
// OpTok bound to the node's client certificate (cnf.x5t#S256), valid 1h.
func (e *e2e) certBoundOpTok(t *testing.T, plan, sub string) string {
	t.Helper()
	client := e.httpsClient(t, false)
	form := url.Values{"grant_type": {"client_credentials"}, "plan": {plan}, "sub": {sub}, "ttl": {"1h"}}
	resp, err := client.PostForm("https://"+authorityDNS+":8443/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || resp.StatusCode != http.StatusOK || tok.AccessToken == "" || tok.TokenType != "Bearer" {
		t.Fatalf("Authority: %s %s (%v)", resp.Status, body, err)
	}
	return tok.AccessToken
}

// pullSecret creates an imagePullSecret for the registry holding optok as
// the password (registry-token takes a certificate-bound OpTok as the
// password of Basic and of the OAuth2 form that containerd sends).
func (e *e2e) pullSecret(t *testing.T, name, optok string) {
	t.Helper()
	auth := base64.StdEncoding.EncodeToString([]byte("oauth2accesstoken:" + optok))
	cfg, err := json.Marshal(map[string]any{"auths": map[string]any{registryHost: map[string]string{
		"username": "oauth2accesstoken", "password": optok, "auth": auth}}})
	if err != nil {
		t.Fatal(err)
	}
	manifest := fmt.Sprintf(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":%q,"namespace":"default"},"type":"kubernetes.io/dockerconfigjson","data":{".dockerconfigjson":%q}}`,
		name, base64.StdEncoding.EncodeToString(cfg))
	if _, err := e.c.KubectlStdin(e.ctx, manifest, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
}

// startPrivatePod starts a pod running image (pulled every time) with the
// given imagePullSecret.
func (e *e2e) startPrivatePod(t *testing.T, name, image, secret string) {
	t.Helper()
	manifest := fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":%q,"namespace":"default"},"spec":{"restartPolicy":"Never","automountServiceAccountToken":false,"imagePullSecrets":[{"name":%q}],"securityContext":{"runAsNonRoot":true,"runAsUser":65532,"runAsGroup":65532},"containers":[{"name":"app","image":%q,"imagePullPolicy":"Always","securityContext":{"allowPrivilegeEscalation":false,"readOnlyRootFilesystem":true,"capabilities":{"drop":["ALL"]}}}]}}`,
		name, secret, image)
	if _, err := e.c.KubectlStdin(e.ctx, manifest, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
}

// waitPod polls the pod until done says so (or 3 minutes pass) and
// returns the last state line: phase, waiting reason and message.
func (e *e2e) waitPod(t *testing.T, name string, done func(phase, reason string) bool) (phase, reason, message string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		out := e.kubectl(t, "-n", "default", "get", "pod", name, "-o",
			`jsonpath={.status.phase}|{.status.containerStatuses[0].state.waiting.reason}|{.status.containerStatuses[0].state.waiting.message}`)
		f := strings.SplitN(out, "|", 3)
		for len(f) < 3 {
			f = append(f, "")
		}
		phase, reason, message = f[0], f[1], f[2]
		if done(phase, reason) || time.Now().After(deadline) {
			return phase, reason, message
		}
		time.Sleep(time.Second)
	}
}

// decision is one line of registry-token's decision log.
type decision struct {
	Msg     string   `json:"msg"`
	Subject string   `json:"subject"`
	Plan    string   `json:"plan"`
	Reason  string   `json:"reason"`
	Cause   string   `json:"cause"`
	Granted []string `json:"granted"`
	Denied  []string `json:"denied"`
}

// decisions returns the decision lines of every registry-token pod about
// subject.
func (e *e2e) decisions(t *testing.T, subject string) []decision {
	t.Helper()
	out := e.kubectl(t, "-n", "registry-token", "logs", "-l", "app.kubernetes.io/name=registry-token", "--tail=-1")
	var ds []decision
	for _, line := range strings.Split(out, "\n") {
		var d decision
		if json.Unmarshal([]byte(line), &d) == nil && d.Subject == subject && strings.HasPrefix(d.Msg, "token ") {
			ds = append(ds, d)
		}
	}
	return ds
}

// kubeletPull: a client pod pushes a runnable image to a repository only
// the enterprise plan may read; the kubelet pulls it through registry-token
// with an imagePullSecret holding an enterprise OpTok bound to the node's
// client certificate (containerd presents the certificate from its
// registry host configuration), and the pod runs. A pod whose secret holds
// a community OpTok fails to pull, and registry-token's decision log says
// why: the plan grants none of the access.
func (e *e2e) kubeletPull(t *testing.T) {
	out := e.runPod(t, "default", "registry-pusher", devImage, []string{"/usr/local/bin/registry-token-dev"},
		"push", "--registry", registryHost, "--token-url", tokenURL,
		"--authority", "http://authority.authority.svc.cluster.local:8081",
		"--repository", privateRepo, "--tag", "v1", "--plan", "enterprise", "--sub", "e2e-pusher", "help")
	_, pushed, ok := strings.Cut(strings.TrimSpace(out), "pushed ")
	if !ok || !strings.HasPrefix(pushed, registryHost+"/"+privateRepo+"@sha256:") {
		t.Fatalf("push output: %q", out)
	}
	_, digest, _ := strings.Cut(pushed, "@")
	ca, err := os.ReadFile(e.pki.file("ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := os.ReadFile(e.pki.file("node.crt"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(e.pki.file("node.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.c.AddRegistryHost(cluster.RegistryHost{Host: registryHost, Server: "http://" + registryHost, CA: ca, ClientCert: cert, ClientKey: key}); err != nil {
		t.Fatal(err)
	}
	image := registryHost + "/" + privateRepo + ":v1"

	t.Run("the kubelet pulls the private image through registry-token", func(t *testing.T) {
		e.pullSecret(t, "pull-enterprise", e.certBoundOpTok(t, "enterprise", "e2e-node-enterprise"))
		e.startPrivatePod(t, "private-app", image, "pull-enterprise")
		phase, reason, message := e.waitPod(t, "private-app", func(phase, _ string) bool { return phase == "Succeeded" || phase == "Failed" })
		if phase != "Succeeded" {
			t.Fatalf("pod private-app: phase %s, %s %s", phase, reason, message)
		}
		if id := e.kubectl(t, "-n", "default", "get", "pod", "private-app", "-o", "jsonpath={.status.containerStatuses[0].imageID}"); !strings.HasSuffix(id, digest) {
			t.Errorf("the pod runs %s, the client pushed %s", id, digest)
		}
		if logs := e.kubectl(t, "-n", "default", "logs", "private-app"); !strings.Contains(logs, "DEVELOPMENT ONLY") {
			t.Errorf("the pulled program printed:\n%s", logs)
		}
		issued := false
		for _, d := range e.decisions(t, "e2e-node-enterprise") {
			issued = issued || d.Msg == "token issued" && strings.Contains(strings.Join(d.Granted, " "), privateRepo+":pull")
		}
		if !issued {
			t.Errorf("registry-token logged no token issued to the node's credentials for %s: %+v", privateRepo, e.decisions(t, "e2e-node-enterprise"))
		}
	})

	t.Run("a pull the plan does not grant is refused and the decision log says why", func(t *testing.T) {
		e.pullSecret(t, "pull-community", e.certBoundOpTok(t, "community", "e2e-node-community"))
		e.startPrivatePod(t, "private-app-community", image, "pull-community")
		phase, reason, message := e.waitPod(t, "private-app-community", func(_, reason string) bool {
			return reason == "ErrImagePull" || reason == "ImagePullBackOff"
		})
		if reason != "ErrImagePull" && reason != "ImagePullBackOff" {
			t.Fatalf("pod private-app-community: phase %s, %s %s; want a failed pull", phase, reason, message)
		}
		ds := e.decisions(t, "e2e-node-community")
		if len(ds) == 0 {
			t.Fatalf("registry-token logged no decision for the community credentials (pull: %s)", message)
		}
		for _, d := range ds {
			if d.Msg != "token denied" || d.Reason != "not_entitled" || d.Plan != "community" ||
				!strings.Contains(strings.Join(d.Denied, " "), privateRepo+":pull") {
				t.Errorf("decision %+v: want token denied, reason not_entitled, plan community, %s:pull denied", d, privateRepo)
			}
		}
		t.Logf("refused pull: %s %s; decision: %+v", reason, message, ds[0])
	})
	e.kubectl(t, "-n", "default", "delete", "pod", "private-app", "private-app-community", "--wait=false")
}
