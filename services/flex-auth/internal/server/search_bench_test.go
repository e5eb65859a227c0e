package server

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/authgate/services/flex-auth/internal/decisionlog"
	"github.com/stellaops/authgate/services/flex-auth/internal/engine"
)

// BenchmarkSearchPage50k: one search page (page.limit 10) over 50,000
// users of the todo-app example: "dense" where every user is allowed
// (can_read_todos, every role reads), "sparse" where one user in 100 is
// (can_delete_todo: admins), and "none" where no user is, so that the
// page is bounded by limits.searchCandidates (default 10,000) and partial.
// Each page continues from the previous page's token.
func BenchmarkSearchPage50k(b *testing.B) {
	var doc strings.Builder
	doc.WriteString("version: 1\nsubjects:\n")
	for i := range 50000 {
		role := "viewer"
		if i%100 == 0 {
			role = "admin"
		}
		fmt.Fprintf(&doc, "  - {type: user, id: user-%05d, properties: {roles: [%s]}}\n", i, role)
	}
	data := filepath.Join(b.TempDir(), "entities.yaml")
	if err := os.WriteFile(data, []byte(doc.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	sv := newServed(b, engine.Config{
		RegistryFile: cfgDir + "ops-warden/production_registry_snapshot.json",
		PolicyFile:   cfgDir + "todo-app/policy_package.md",
		DataFile:     data,
	}, decisionlog.SyncOff, func(d *Deps) { d.SearchBudget = 10000 })
	sv.srv.SetReady(true)
	for _, c := range []struct{ name, action string }{
		{"dense", "can_read_todos"}, {"sparse", "can_delete_todo"}, {"none", "can_update_user"},
	} {
		b.Run(c.name, func(b *testing.B) {
			q := `{"subject":{"type":"user"},"action":{"name":"` + c.action + `"},"resource":{"type":"todo","id":"todo-1"},"page":{"limit":10,"token":"%s"}}`
			token := ""
			for b.Loop() {
				rec, out := post(b, sv.h, RouteSearchSubject, "application/json", strings.Replace(q, "%s", token, 1))
				if rec.Code != 200 {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
				token, _ = out["page"].(map[string]any)["next_token"].(string)
			}
		})
	}
}
