package devstack_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/testkit/proctest"
	"github.com/stellaops/authgate/services/registry-token/internal/app"
	"github.com/stellaops/authgate/services/registry-token/internal/devstack"
)

func TestMain(m *testing.M) { os.Exit(proctest.Main(m)) }

// runService is what "registry-token-dev up" passes: the real entry point.
func runService(logs *bytes.Buffer) devstack.ServiceRunner {
	return func(ctx context.Context, args, environ []string, listening func(net.Addr)) error {
		return app.Run(ctx, app.Env{Args: args, Environ: environ, Stdout: logs, Stderr: logs, Listening: listening})
	}
}

// upStack starts the whole development stack on free ports with the
// shipped dev config and the ops-warden fixtures, as "registry-token-dev up" does.
func upStack(t *testing.T) (*devstack.Stack, string) {
	t.Helper()
	root, err := proctest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	flexAuth := proctest.Build(t, "./services/flex-auth")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var logs bytes.Buffer // read only after Close
	s, err := devstack.Up(ctx, devstack.Options{
		ConfigFile:       filepath.Join(root, devstack.DefaultConfigFile),
		RunDir:           t.TempDir(),
		FlexAuthBin:      flexAuth,
		FlexAuthRegistry: filepath.Join(root, devstack.DefaultFlexAuthRegistry),
		FlexAuthPolicy:   filepath.Join(root, devstack.DefaultFlexAuthPolicy),
		RunService:       runService(&logs),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("the stack did not stop cleanly: %v\n%s", err, logs.String())
		}
	})
	return s, flexAuth
}

// TestDevStackDemo is the CI run of "go tool task run" + "go tool task
// demo": every demo step must pass against a freshly started stack.
func TestDevStackDemo(t *testing.T) {
	s, flexAuth := upStack(t)
	var summary bytes.Buffer
	s.PrintSummary(&summary)
	for _, want := range []string{s.TokenURL, s.Authority.URL, s.Registry.Host, s.FlexAuth.URL, "dpop-proof --url " + s.Realm} {
		if !strings.Contains(summary.String(), want) {
			t.Errorf("summary does not mention %q:\n%s", want, summary.String())
		}
	}
	info, err := os.Stat(s.SigningKey)
	if err != nil || info.Mode().Perm() != 0o600 || !s.KeyCreated {
		t.Fatalf("signing key %s: %v, mode %v, created %v", s.SigningKey, err, info.Mode().Perm(), s.KeyCreated)
	}

	var out bytes.Buffer
	err = devstack.Demo(context.Background(), devstack.DemoOptions{
		Registry: s.Registry.Host, Realm: s.Realm, Service: s.Service, Authority: s.Authority.URL,
		FlexAuthURL: s.FlexAuth.URL, FlexAuthBin: flexAuth, Out: &out,
	})
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 6; i++ {
		if !strings.Contains(out.String(), "ok   "+string(rune('0'+i))+". ") {
			t.Errorf("step %d not reported ok", i)
		}
	}
	if !strings.HasSuffix(out.String(), "demo: pass\n") {
		t.Error("no final pass line")
	}
	// "registry-token-dev push": an image of one program, pushed with an
	// enterprise OpTok; a community OpTok may not push there.
	root, err := proctest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	push := devstack.PushOptions{Registry: s.Registry.Host, Realm: s.Realm, Authority: s.Authority.URL,
		Repository: "stella-ops/team/app", Tag: "v1", Plan: "enterprise", File: filepath.Join(root, "go.mod"), Args: []string{"help"}}
	ref, err := devstack.Push(context.Background(), push)
	if err != nil {
		t.Fatal(err)
	}
	img, err := devstack.ProgramImage(push.File, push.Args)
	if err != nil {
		t.Fatal(err)
	}
	if digest, _ := img.Digest(); ref != s.Registry.Host+"/stella-ops/team/app@"+digest.String() {
		t.Errorf("pushed %s, want the image's digest %s", ref, digest)
	}
	push.Plan, push.Tag = "community", "v2"
	if _, err := devstack.Push(context.Background(), push); err == nil || !strings.Contains(err.Error(), "DENIED") {
		t.Errorf("a community push to stella-ops/team/app: %v, want the token request DENIED", err)
	}

	decisions, err := os.ReadFile(s.DecisionLog)
	if err != nil || bytes.Count(decisions, []byte("\n")) < 2 {
		t.Fatalf("flex-auth decision log: %v, %q", err, decisions)
	}
}

// TestDemoReportsFailure: with nothing listening, the first step fails,
// is printed as FAIL and is returned.
func TestDemoReportsFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	_ = ln.Close()
	var out bytes.Buffer
	err = devstack.Demo(context.Background(), devstack.DemoOptions{
		Registry: "localhost:1", Realm: dead + "/token", Authority: dead, Out: &out,
	})
	if err == nil || !strings.Contains(out.String(), "FAIL 1. ") || strings.Contains(out.String(), "demo: pass") {
		t.Fatalf("err %v, output:\n%s", err, out.String())
	}
}
