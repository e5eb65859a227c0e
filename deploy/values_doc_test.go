package deploy_test

import (
	"regexp"
	"strings"
	"testing"
)

// Keys whose value is a Kubernetes object or a free-form map, documented as
// a whole on the parent key.
var documentedAsWhole = map[string]bool{
	"podSecurityContext": true, "securityContext": true, "resources": true,
	"plans": true, "ingressFrom": true, "jwks": true,
}

// TestValuesDocumented: every key of each chart's values.yaml has a
// comment line ("# -- ...") directly above it, or sits inside a block
// documented as a whole.
func TestValuesDocumented(t *testing.T) {
	key := regexp.MustCompile(`^( *)([A-Za-z][A-Za-z0-9]*):`)
	for _, chart := range []string{"registry-token", "flex-auth"} {
		lines := strings.Split(readFile(t, "helm/"+chart+"/values.yaml"), "\n")
		var parents []string // key per indentation level (2 spaces)
		for i, line := range lines {
			m := key.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			level := len(m[1]) / 2
			if level > len(parents) {
				continue // inside a list item
			}
			parents = append(parents[:level], m[2])
			whole := false
			for _, p := range parents[:level] {
				whole = whole || documentedAsWhole[p]
			}
			if whole {
				continue
			}
			prev := ""
			if i > 0 {
				prev = strings.TrimSpace(lines[i-1])
			}
			// A parent of documented children needs no comment of its own.
			hasChildren := i+1 < len(lines) && strings.HasPrefix(lines[i+1], m[1]+"  ") && strings.TrimSpace(lines[i+1]) != "" && !strings.HasPrefix(strings.TrimSpace(lines[i+1]), "-")
			if !strings.HasPrefix(prev, "#") && (!hasChildren || documentedAsWhole[m[2]]) {
				t.Errorf("%s/values.yaml:%d: %s has no comment", chart, i+1, strings.Join(parents, "."))
			}
		}
	}
}
