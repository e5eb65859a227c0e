package deploy_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// upgradeClient sends token requests to registry-token's Service until
// stopped, each one checked by flex-auth through its Service: one worker
// keeps its connection alive (it stays on one pod until that pod closes
// it), one opens a connection per request (each may land on any endpoint
// kube-proxy lists).
type upgradeClient struct {
	mu       sync.Mutex
	ok       int
	failures []string
	failed   int
	stop     chan struct{}
	done     sync.WaitGroup
}

func (e *e2e) startUpgradeClient(t *testing.T, optok string) *upgradeClient {
	t.Helper()
	u := &upgradeClient{stop: make(chan struct{})}
	q := url.Values{"service": {"registry.example.com"}, "scope": {"repository:" + privateRepo + ":pull"}}
	target := tokenURL + "?" + q.Encode()
	for _, keepAlive := range []bool{true, false} {
		client := e.httpsClient(t, keepAlive)
		u.done.Add(1)
		go func() {
			defer u.done.Done()
			defer client.CloseIdleConnections()
			for {
				select {
				case <-u.stop:
					return
				default:
				}
				u.record(keepAlive, request(client, target, optok))
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	return u
}

func request(client *http.Client, target, optok string) error {
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	req.SetBasicAuth("oauth2accesstoken", optok)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"token"`) {
		return fmt.Errorf("%s: %s", resp.Status, body)
	}
	return nil
}

func (u *upgradeClient) record(keepAlive bool, err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if err == nil {
		u.ok++
		return
	}
	u.failed++
	if len(u.failures) < 10 {
		u.failures = append(u.failures, fmt.Sprintf("%s (keep-alive %v): %v", time.Now().Format("15:04:05.000"), keepAlive, err))
	}
}

func (u *upgradeClient) finish() (ok, failed int, failures []string) {
	close(u.stop)
	u.done.Wait()
	return u.ok, u.failed, u.failures
}

// podUIDs lists the UIDs of a namespace's pods (a StatefulSet's
// replacement keeps the name).
func (e *e2e) podUIDs(t *testing.T, ns string) []string {
	t.Helper()
	return strings.Fields(e.kubectl(t, "-n", ns, "get", "pods", "-o", "jsonpath={.items[*].metadata.uid}"))
}

// helmUpgradeUnderLoad changes a value of each chart (a pod annotation)
// with `helm upgrade --wait` while a client keeps asking registry-token
// for tokens (registry-token asking flex-auth each time), waits until every
// pod of before the upgrade is gone, and expects every pod replaced and
// not one failed request.
func (e *e2e) helmUpgradeUnderLoad(t *testing.T) {
	optok := e.certBoundOpTok(t, "enterprise", "e2e-upgrade-client")
	namespaces := []string{"registry-token", "flex-auth"}
	before := map[string][]string{}
	for _, ns := range namespaces {
		before[ns] = e.podUIDs(t, ns)
	}
	client := e.startUpgradeClient(t, optok)
	began := time.Now()
	rollout := "--set-string=podAnnotations.e2e-rollout=" + began.Format("150405")
	e.helmRun(t, "upgrade", "registry-token", "helm/registry-token", "-n", "registry-token",
		"-f", "examples/registry/registry-token-values.yaml", "-f", "testdata/cluster/registry-token-values.yaml",
		rollout, "--wait", "--timeout", "5m")
	e.helmRun(t, "upgrade", "flex-auth", "helm/flex-auth", "-n", "flex-auth",
		"-f", "examples/registry/flex-auth-values.yaml", "-f", "testdata/cluster/flex-auth-values.yaml",
		rollout, "--wait", "--timeout", "5m")
	// The Deployment's old pods may still be terminating (preStop
	// delay, drain): the client keeps going until they are gone.
	deadline := time.Now().Add(2 * time.Minute)
	for _, ns := range namespaces {
		for left := true; left && time.Now().Before(deadline); {
			left = false
			for _, uid := range e.podUIDs(t, ns) {
				left = left || slices.Contains(before[ns], uid)
			}
			if left {
				time.Sleep(time.Second)
			}
		}
	}
	time.Sleep(2 * time.Second) // a last round on the new pods only
	ok, failed, failures := client.finish()
	t.Logf("helm upgrade of both releases in %v: %d requests succeeded, %d failed", time.Since(began).Round(time.Second), ok, failed)
	if failed > 0 {
		t.Errorf("%d of %d requests failed during the upgrade:\n  %s", failed, ok+failed, strings.Join(failures, "\n  "))
	}
	if ok < 50 {
		t.Errorf("only %d requests succeeded during the upgrade: the client did not run through it", ok)
	}
	for _, ns := range namespaces {
		now := e.podUIDs(t, ns)
		for _, uid := range now {
			if slices.Contains(before[ns], uid) {
				t.Errorf("%s: pod %s was not replaced", ns, uid)
			}
		}
		if len(now) != len(before[ns]) {
			t.Errorf("%s: %d pods after the upgrade, %d before", ns, len(now), len(before[ns]))
		}
	}
}
