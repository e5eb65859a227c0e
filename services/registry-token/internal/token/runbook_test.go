package token

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunbookExplainsEveryReason keeps the operations runbook's table of
// rejection reasons in step with the reason catalog that labels
// registry_token_rejected_total.
func TestRunbookExplainsEveryReason(t *testing.T) {
	path := filepath.Join("..", "..", "..", "..", "deploy", "runbooks", "registry-token.md")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	runbook := string(b)
	for _, r := range Reasons() {
		if !strings.Contains(runbook, "`"+string(r)+"`") {
			t.Errorf("%s does not explain reason %q", path, r)
		}
	}
}
