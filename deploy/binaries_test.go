package deploy_test

import (
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stellaops/authgate/pkg/testkit/proctest"
)

// developmentPackages are import paths (prefixes) that production
// binaries must never link: the development stack and its Authority that
// mints OpToks for anyone, the test harnesses, the in-process registry
// and the image tooling.
var developmentPackages = []string{
	"github.com/stellaops/authgate/services/registry-token/internal/devauthority",
	"github.com/stellaops/authgate/services/registry-token/internal/devstack",
	"github.com/stellaops/authgate/services/registry-token/internal/e2e",
	"github.com/stellaops/authgate/services/registry-token/internal/loadgen",
	"github.com/stellaops/authgate/services/registry-token/internal/faults",
	"github.com/stellaops/authgate/services/flex-auth/internal/loadgen",
	"github.com/stellaops/authgate/services/flex-auth/internal/faults",
	"github.com/stellaops/authgate/pkg/testkit",
	"github.com/stellaops/authgate/deploy",
	"github.com/distribution/distribution/v3/registry",
	"github.com/google/go-containerregistry",
}

// TestProductionBinariesLinkNoDevelopmentCode lists the packages each
// shipped binary links (go list -deps, as the build and the images see
// them) and fails on any development package. dpop-proof and
// registry-token-helper are client tools: they must not link server code
// either.
func TestProductionBinariesLinkNoDevelopmentCode(t *testing.T) {
	root, err := proctest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	serverCode := []string{
		"github.com/stellaops/authgate/services/registry-token/internal/app",
		"github.com/stellaops/authgate/services/registry-token/internal/token",
		"github.com/stellaops/authgate/services/registry-token/internal/config",
		"github.com/stellaops/authgate/services/registry-token/internal/signing",
		"github.com/stellaops/authgate/pkg/httpx",
		"github.com/labstack/echo/v4",
	}
	for _, c := range []struct {
		pkg       string
		forbidden []string
	}{
		{"./services/registry-token", developmentPackages},
		{"./services/flex-auth", developmentPackages},
		{"./services/registry-token/cmd/dpop-proof", append(append([]string{}, developmentPackages...), serverCode...)},
		{"./services/registry-token/cmd/registry-token-helper", append(append([]string{}, developmentPackages...), serverCode...)},
	} {
		t.Run(strings.TrimPrefix(c.pkg, "./services/"), func(t *testing.T) {
			cmd := exec.Command("go", "list", "-deps", c.pkg)
			cmd.Dir = root
			cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0", "GOOS=linux")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list -deps %s: %v", c.pkg, err)
			}
			deps := strings.Fields(string(out))
			if len(deps) < 10 {
				t.Fatalf("go list -deps %s listed only %q", c.pkg, deps)
			}
			for _, dep := range deps {
				for _, bad := range c.forbidden {
					if dep == bad || strings.HasPrefix(dep, bad+"/") {
						t.Errorf("%s links %s", c.pkg, dep)
					}
				}
			}
		})
	}
}

// TestProgramLayout: every program of the module is a service's main
// package (services/<svc>, the deployable) or lives in a cmd/<name>
// directory of a service or of deploy; library code stays in the
// packages beside them.
func TestProgramLayout(t *testing.T) {
	root, err := proctest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-f", "{{.Name}} {{.ImportPath}}", "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const module = "github.com/stellaops/authgate/"
	allowed := regexp.MustCompile(`^(services/[a-z0-9-]+|services/[a-z0-9-]+/cmd/[a-z0-9-]+|deploy/cmd/[a-z0-9-]+)$`)
	var programs []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		name, path, _ := strings.Cut(line, " ")
		if name != "main" {
			continue
		}
		rel := strings.TrimPrefix(path, module)
		programs = append(programs, rel)
		if !allowed.MatchString(rel) {
			t.Errorf("program %s: programs live in services/<svc> (the service) or services/<svc>/cmd/<name>, deploy/cmd/<name>", rel)
		}
	}
	for _, want := range []string{"services/registry-token", "services/flex-auth", "services/registry-token/cmd/dpop-proof", "deploy/cmd/images"} {
		if !slices.Contains(programs, want) {
			t.Errorf("go list found no program %s (found %q)", want, programs)
		}
	}
}
