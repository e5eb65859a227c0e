package deploy_test

import (
	"os"
	"testing"

	"github.com/stellaops/authgate/pkg/testkit/proctest"
)

// TestMain removes the service binaries the tests build (proctest.Build
// compiles each once for the whole package).
func TestMain(m *testing.M) { os.Exit(proctest.Main(m)) }
