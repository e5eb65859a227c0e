package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// OPAVersion is the Open Policy Agent release flex-auth is compared with.
const OPAVersion = "v1.22.2"

// toolsDir is where pinned tools are cached: $AUTHGATE_TOOLS, else
// <user cache dir>/authgate-tools (the directory the helm and promtool
// installers use).
func toolsDir() (string, error) {
	if d := os.Getenv("AUTHGATE_TOOLS"); d != "" {
		return filepath.Abs(d)
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory for the pinned opa (set AUTHGATE_TOOLS): %w", err)
	}
	return filepath.Join(d, "authgate-tools"), nil
}

// ensureOPA returns the pinned opa binary, installing it with go install
// from the module proxy into the tools cache the first time.
func ensureOPA(ctx context.Context, log io.Writer) (string, error) {
	dir, err := toolsDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "opa")
	stamp := filepath.Join(dir, "opa.version")
	if b, err := os.ReadFile(stamp); err == nil && strings.TrimSpace(string(b)) == OPAVersion {
		if _, err := os.Stat(bin); err == nil {
			return bin, nil
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	fmt.Fprintf(log, "loadgen: installing opa %s into %s (once; a few minutes)\n", OPAVersion, dir)
	cmd := exec.CommandContext(ctx, "go", "install", "github.com/open-policy-agent/opa@"+OPAVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=-mod=mod")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go install opa %s: %w", OPAVersion, err)
	}
	if err := checkOPAVersion(ctx, bin); err != nil {
		return "", err
	}
	if err := os.WriteFile(stamp, []byte(OPAVersion+"\n"), 0o644); err != nil {
		return "", err
	}
	return bin, nil
}

// checkOPAVersion fails unless bin reports OPAVersion.
func checkOPAVersion(ctx context.Context, bin string) error {
	out, err := exec.CommandContext(ctx, bin, "version").Output()
	if err != nil {
		return fmt.Errorf("%s version: %w", bin, err)
	}
	want := "Version: " + strings.TrimPrefix(OPAVersion, "v")
	for line := range bytes.Lines(out) {
		if strings.TrimSpace(string(line)) == want {
			return nil
		}
	}
	return fmt.Errorf("%s is not opa %s: %s", bin, OPAVersion, bytes.TrimSpace(out))
}
