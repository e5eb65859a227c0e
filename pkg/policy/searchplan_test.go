package policy

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// TestSearchFilter: what a subject search's filter asks of the candidates
// for the conditions an index serves, and that it asks nothing where
// none applies.
func TestSearchFilter(t *testing.T) {
	const front = "---\nname: t\nversion: \"1\"\nbackend: flex-auth\nrequest: authzen\n" +
		"reasons:\n  - {code: ok, description: ok}\ndefault_reason: ok\n" +
		"variables:\n  - {name: wanted, type: list(string), value: [b, a]}\n---\n"
	const rule = "\nRule.\n\n```rule\nid: r%d\neffect: %s\nreason: ok\nwhen: '%s'\n```\n"
	const data = "subject_data(subject.type, subject.id)"
	ev := &Evaluation{Subject: Entity{Type: "user"}, Action: Action{Name: "read"},
		Resource: Entity{Type: "doc", ID: "d1", Properties: map[string]any{"owner": "bob"}}, Context: map[string]any{"n": int64(2)}}
	for _, c := range []struct {
		rules []string // "allow: cond" or "deny: cond"
		want  string
	}{
		{[]string{`allow: "admin" in D.roles`}, `{4 roles [sadmin] []}`},
		{[]string{`allow: has(D.roles)`}, `{5 roles [] []}`},
		{[]string{`allow: "roles" in D`}, `{5 roles [] []}`},
		{[]string{`allow: D.level == context.n`}, `{3 level [#2] []}`},
		{[]string{`allow: D["level"] == 2.0`}, `{3 level [#2] []}`},
		{[]string{`allow: subject.id == resource.properties.owner`}, `{2  [bob] []}`},
		{[]string{`allow: subject.id in ["b", "a", "b"]`}, `{2  [a b] []}`},
		{[]string{`allow: D.roles.exists(r, r in wanted)`}, `{4 roles [sa sb] []}`},
		{[]string{`allow: D.roles.exists(r, r.startsWith("a"))`}, `{5 roles [] []}`},
		{[]string{`allow: D.roles.exists(wanted, wanted == "a")`}, `{5 roles [] []}`}, // the loop variable hides a package variable
		{[]string{`allow: action.name == "write" && has(D.roles)`}, `{1  [] []}`},
		{[]string{`allow: action.name == "read" && has(D.roles)`}, `{5 roles [] []}`},
		{[]string{`allow: has(D.a) || has(D.b)`}, `{7  [] [{5 a [] []} {5 b [] []}]}`},
		{[]string{`allow: has(D.a) && D.a == "x"`}, `{6  [] [{5 a [] []} {3 a [sx] []}]}`},
		{[]string{`allow: !has(D.a)`}, `{0  [] []}`},
		{[]string{`allow: D.?a.orValue("x") == "x"`}, `{0  [] []}`}, // every entity without a
		{[]string{`allow: D.?a.orValue("y") == "x"`}, `{3 a [sx] []}`},
		{[]string{`allow: "admin" in D.?roles.orValue([])`}, `{4 roles [sadmin] []}`},
		{[]string{`allow: "admin" in D.?roles.orValue(["admin"])`}, `{0  [] []}`},
		{[]string{`allow: D.?roles.orValue([]).exists(r, r in wanted)`}, `{4 roles [sa sb] []}`},
		{[]string{`allow: D.?roles.orValue(["b"]).exists(r, r in wanted)`}, `{0  [] []}`},
		{[]string{`allow: D.?roles.orValue([]).exists(r, r.startsWith("a"))`}, `{0  [] []}`},
		{[]string{`allow: D.a == D.b`}, `{0  [] []}`},
		{[]string{`deny: has(D.a)`, `allow: has(D.b)`}, `{5 b [] []}`},
		{[]string{`deny: has(D.a)`}, `{1  [] []}`},
		{[]string{`allow: D.a == [1]`}, `{0  [] []}`},
	} {
		src := front
		for i, r := range c.rules {
			effect, cond, _ := strings.Cut(r, ": ")
			src += fmt.Sprintf(rule, i, effect, strings.ReplaceAll(cond, "D", data))
		}
		p, err := Parse("t.md", []byte(src))
		if err != nil {
			t.Fatalf("%v: %v", c.rules, err)
		}
		if got := fmt.Sprint(p.SearchFilter(SearchSubjects, ev)); got != c.want {
			t.Errorf("%v: filter %s, want %s", c.rules, got, c.want)
		}
	}
}

func TestValueKey(t *testing.T) {
	same := [][]any{{int64(1), 1.0, uint64(1)}, {0.0, math.Copysign(0, -1)}, {"a"}, {nil}, {true}}
	seen := map[string]bool{}
	for _, g := range same {
		k0, ok := ValueKey(g[0])
		if !ok || seen[k0] {
			t.Fatalf("%v: key %q %v", g, k0, ok)
		}
		seen[k0] = true
		for _, v := range g[1:] {
			if k, _ := ValueKey(v); k != k0 {
				t.Errorf("%v (%T) key %q, want %q", v, v, k, k0)
			}
		}
	}
	for _, v := range []any{[]any{"a"}, map[string]any{}} {
		if _, ok := ValueKey(v); ok {
			t.Errorf("%v has a key", v)
		}
	}
}
