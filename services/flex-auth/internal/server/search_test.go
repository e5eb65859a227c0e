package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/stellaops/authgate/services/flex-auth/internal/decisionlog"
	"github.com/stellaops/authgate/services/flex-auth/internal/engine"
)

// headerCaller stands for the caller authentication: it names the caller
// from a request header.
func headerCaller(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		SetCaller(c, c.Request().Header.Get("X-Caller"))
		return next(c)
	}
}

func newTodoSearch(t *testing.T, set ...func(*Deps)) *echo.Echo {
	t.Helper()
	sv := newServed(t, engine.Config{
		RegistryFile: cfgDir + "ops-warden/production_registry_snapshot.json",
		PolicyFile:   cfgDir + "todo-app/policy_package.md",
		DataFile:     cfgDir + "todo-app/entities.yaml",
	}, decisionlog.SyncOff, append([]func(*Deps){func(d *Deps) { d.Guard = headerCaller }}, set...)...)
	sv.srv.SetReady(true)
	return sv.h
}

// searchPage posts one search page as caller; it returns the ids (or
// names) and the next_token.
func searchPage(t *testing.T, h *echo.Echo, route, body, caller string) ([]string, string) {
	t.Helper()
	rec, out := post(t, h, route, "application/json", body, "X-Caller", caller)
	if rec.Code != 200 {
		t.Fatalf("%s %s: %d %s", route, body, rec.Code, rec.Body)
	}
	var got []string
	for _, r := range out["results"].([]any) {
		m := r.(map[string]any)
		id, _ := m["id"].(string)
		name, _ := m["name"].(string)
		got = append(got, id+name)
	}
	next, _ := out["page"].(map[string]any)["next_token"].(string)
	return got, next
}

// TestNextTokenOnlyWhenMore (AuthZEN 1.0 §8.3: "If no more results exist,
// page.next_token is an empty string"): paging one result at a time, every
// token leads to a page with a result, and the last result comes with an
// empty token even when candidates that are not allowed follow it.
func TestNextTokenOnlyWhenMore(t *testing.T) {
	h := newTodoSearch(t)
	for _, c := range []struct{ route, query, want string }{
		{RouteSearchSubject, `"subject":{"type":"user"},"action":{"name":"can_create_todo"},"resource":{"type":"todo","id":"todo-1"}`,
			"morty@the-citadel.com,rick@the-citadel.com,summer@the-smiths.com"},
		{RouteSearchSubject, `"subject":{"type":"user"},"action":{"name":"can_delete_todo"},"resource":{"type":"todo","id":"todo-1","properties":{"ownerID":"morty@the-citadel.com"}}`,
			"morty@the-citadel.com,rick@the-citadel.com"},
		{RouteSearchAction, `"subject":{"type":"user","id":"morty@the-citadel.com"},"resource":{"type":"todo","id":"todo-1","properties":{"ownerID":"rick@the-citadel.com"}}`,
			"can_create_todo,can_read_todos,can_read_user"},
	} {
		var got []string
		token := ""
		for page := 0; ; page++ {
			ids, next := searchPage(t, h, c.route, `{`+c.query+`,"page":{"limit":1,"token":"`+token+`"}}`, "alice")
			if page > 0 && len(ids) == 0 {
				t.Fatalf("%s: the token of page %d led to an empty page", c.query, page-1)
			}
			got = append(got, ids...)
			if token = next; token == "" || page > 10 {
				break
			}
		}
		if strings.Join(got, ",") != c.want {
			t.Errorf("%s: %v, want %s", c.query, got, c.want)
		}
	}
}

// TestPageTokenBoundToCaller: a token returned to one caller is refused,
// naming page.token, when another caller or an altered copy presents it.
func TestPageTokenBoundToCaller(t *testing.T) {
	h := newTodoSearch(t)
	q := `{"subject":{"type":"user"},"action":{"name":"can_create_todo"},"resource":{"type":"todo","id":"todo-1"},"page":{"limit":1,"token":"%s"}}`
	_, token := searchPage(t, h, RouteSearchSubject, strings.Replace(q, "%s", "", 1), "client:alice")
	if token == "" {
		t.Fatal("no next_token")
	}
	if ids, _ := searchPage(t, h, RouteSearchSubject, strings.Replace(q, "%s", token, 1), "client:alice"); len(ids) != 1 {
		t.Fatalf("the caller's own token: %v", ids)
	}
	last := token[len(token)-1:]
	flip := map[string]string{"A": "B"}[last]
	if flip == "" {
		flip = "A"
	}
	for _, c := range []struct{ name, token, caller string }{
		{"another caller", token, "client:mallory"},
		{"an address caller", token, ""},
		{"altered", token[:len(token)-1] + flip, "client:alice"},
		{"unsigned", strings.Split(token, ".")[0], "client:alice"},
	} {
		rec, out := post(t, h, RouteSearchSubject, "application/json", strings.Replace(q, "%s", c.token, 1), "X-Caller", c.caller)
		if rec.Code != 400 || out["field"] != "page.token" {
			t.Errorf("%s: %d %s, want 400 on page.token", c.name, rec.Code, rec.Body)
		}
	}
}

// TestSearchBudget: with limits.searchCandidates 1 every page evaluates
// one candidate; pages that stop there say so (context.partial) and carry
// a token, and following the tokens gives every result once. With the
// todo-app package the index leaves only the three creators to evaluate;
// with a condition no index serves (a negation) the pages scan every
// user, one a page.
func TestSearchBudget(t *testing.T) {
	negated := filepath.Join(t.TempDir(), "negated.md")
	src, err := os.ReadFile(cfgDir + "todo-app/policy_package.md")
	if err != nil {
		t.Fatal(err)
	}
	// create-todo: every user but viewers (the same three)
	src = []byte(strings.Replace(string(src), "subject_data(subject.type, subject.id).roles.exists(r, r in creators)",
		`!("viewer" in subject_data(subject.type, subject.id).roles)`, 1))
	if err := os.WriteFile(negated, src, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		policy   string
		partials int
	}{{cfgDir + "todo-app/policy_package.md", 2}, {negated, 4}} {
		sv := newServed(t, engine.Config{
			RegistryFile: cfgDir + "ops-warden/production_registry_snapshot.json",
			PolicyFile:   c.policy,
			DataFile:     cfgDir + "todo-app/entities.yaml",
		}, decisionlog.SyncOff, func(d *Deps) { d.Guard = headerCaller; d.SearchBudget = 1 })
		sv.srv.SetReady(true)
		q := `{"subject":{"type":"user"},"action":{"name":"can_create_todo"},"resource":{"type":"todo","id":"todo-1"},"page":{"limit":10,"token":"%s"}}`
		var got []string
		token, partials := "", 0
		for page := 0; page < 10; page++ {
			rec, out := post(t, sv.h, RouteSearchSubject, "application/json", strings.Replace(q, "%s", token, 1), "X-Caller", "alice")
			if rec.Code != 200 {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			for _, r := range out["results"].([]any) {
				got = append(got, r.(map[string]any)["id"].(string))
			}
			if out["context"].(map[string]any)["partial"] == true {
				partials++
			}
			if token, _ = out["page"].(map[string]any)["next_token"].(string); token == "" {
				break
			}
		}
		if strings.Join(got, ",") != "morty@the-citadel.com,rick@the-citadel.com,summer@the-smiths.com" || partials != c.partials {
			t.Fatalf("%s: results %v over %d partial pages, want %d", c.policy, got, partials, c.partials)
		}
	}
}
