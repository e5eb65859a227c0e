package e2e

import (
	"os"
	"testing"

	"github.com/stellaops/authgate/pkg/testkit/proctest"
)

// TestMain removes the binaries proctest.Build compiled.
func TestMain(m *testing.M) { os.Exit(proctest.Main(m)) }
