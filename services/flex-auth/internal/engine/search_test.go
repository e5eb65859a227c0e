package engine

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/policy"
)

// Atoms of random conditions, for a subject search ("S" stands for the
// searched entity's data) and their mirror for a resource search. Some
// are served by the index, some (negations, optional selection, sizes)
// are not, some do not depend on the candidate.
var searchAtoms = []string{
	`action.name == "read"`,
	`action.name == "write"`,
	`"a" in S.roles`,
	`"c" in S.roles`,
	`1 in S.roles`,
	`has(S.roles)`,
	`has(S.dept)`,
	`"dept" in S`,
	`S.dept == "x"`,
	`S.dept == 1`,
	`S.dept == context.dept`,
	`S.dept == null`,
	`S["dept"] == "y"`,
	`S.roles.exists(r, r in wanted)`,
	`S.roles.exists(r, r == "b")`,
	`context.role in S.roles`,
	`S.roles.exists(r, r.startsWith("b"))`,
	`ID == OTHER.properties.owner`,
	`ID in ["e01", "e03", "e04"]`,
	`ID == context.pick`,
	`!("a" in S.roles)`,
	`size(S.?roles.orValue([])) > 1`,
	`"a" in S.?roles.orValue([])`,
	`"a" in S.?roles.orValue(["a"])`,
	`context.role in S.?roles.orValue(["b"])`,
	`S.?dept.orValue("x") == "x"`,
	`S.?dept.orValue("y") == context.dept`,
	`S.?roles.orValue([]).exists(r, r in wanted)`,
	`S.?roles.orValue(["d"]).exists(r, r == "d")`,
	`S.?roles.orValue({"a": 1}).exists(r, r == context.role)`,
	`context.flag == true`,
	`OTHERDATA.?level.orValue(0) == 2`,
	`S.level > 1`,
	`S.level == context.level`,
}

// randomCondition joins one to three atoms with && and ||.
func randomCondition(r *rand.Rand, searched string) string {
	atom := func() string {
		a := searchAtoms[r.IntN(len(searchAtoms))]
		other := "resource"
		if searched == "resource" {
			other = "subject"
		}
		return strings.NewReplacer(
			"OTHERDATA", other+"_data("+other+".type, "+other+".id)",
			"S", searched+"_data("+searched+".type, "+searched+".id)",
			"ID", searched+".id",
			"OTHER", other,
		).Replace(a)
	}
	c := atom()
	for range r.IntN(3) {
		op := " && "
		if r.IntN(3) == 0 {
			op = " || "
		}
		c = "(" + c + op + atom() + ")"
	}
	return c
}

func randomPackage(r *rand.Rand, searched string) string {
	var b strings.Builder
	b.WriteString("---\nname: random\nversion: \"1\"\nbackend: flex-auth\nrequest: authzen\n" +
		"reasons:\n  - {code: ok, description: ok}\n  - {code: no, description: no}\ndefault_reason: no\n" +
		"variables:\n  - {name: wanted, type: list(string), value: [a, d]}\n---\n")
	for i := range 1 + r.IntN(4) {
		effect, reason := "allow", "ok"
		if r.IntN(3) == 0 {
			effect, reason = "deny", "no"
		}
		fmt.Fprintf(&b, "\nRule.\n\n```rule\nid: r%d\neffect: %s\nreason: %s\nwhen: '%s'\n```\n", i, effect, reason, randomCondition(r, searched))
	}
	return b.String()
}

// randomValue is an attribute value: scalars of every kind, numbers
// written as integers and as floats, lists and maps.
func randomValue(r *rand.Rand) any {
	vals := []any{"x", "y", 1, 1.0, 2, true, nil, []any{"x"}, map[string]any{"x": 1}, math.Copysign(0, -1)}
	return vals[r.IntN(len(vals))]
}

func randomData(r *rand.Rand) string {
	roles := []any{"a", "b", "c", "d", 1, 1.5, true, nil}
	ents := func(typ string, n int) []map[string]any {
		var out []map[string]any
		for i := range n {
			props := map[string]any{}
			switch r.IntN(5) {
			case 0: // no roles
			case 1:
				props["roles"] = map[string]any{"a": true, "z": 1}
			case 2:
				props["roles"] = roles[r.IntN(len(roles))]
			default:
				var l []any
				for range r.IntN(4) {
					l = append(l, roles[r.IntN(len(roles))])
				}
				props["roles"] = l
			}
			if r.IntN(4) > 0 {
				props["dept"] = randomValue(r)
			}
			if r.IntN(2) == 0 {
				props["level"] = randomValue(r)
			}
			if r.IntN(3) == 0 {
				props["owner"] = fmt.Sprintf("e%02d", r.IntN(n))
			}
			out = append(out, map[string]any{"type": typ, "id": fmt.Sprintf("e%02d", i), "properties": props})
		}
		return out
	}
	doc := map[string]any{"version": 1, "subjects": append(ents("user", 30), ents("group", 5)...), "resources": ents("doc", 30)}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestSearchCandidatesMatchTheScan: over random entity data, random
// packages and random searches, the allowed candidates found by walking
// SearchCandidates are exactly those a scan of every entity of the type
// finds, in the same order.
func TestSearchCandidatesMatchTheScan(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(20, 1))
	loaded, walked, scanned := 0, 0, 0
	for round := range 300 {
		searched := []string{"subject", "resource"}[round%2]
		pkgFile := filepath.Join(dir, "p.md")
		dataFile := filepath.Join(dir, "d.json")
		src := randomPackage(r, searched)
		if err := os.WriteFile(pkgFile, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dataFile, []byte(randomData(r)), 0o600); err != nil {
			t.Fatal(err)
		}
		set, err := LoadSet(Config{RegistryFile: fixtureRegistry, PolicyFile: pkgFile, DataFile: dataFile}, time.Now())
		if err != nil {
			if !strings.Contains(err.Error(), "unreachable") && !strings.Contains(err.Error(), "cost_limit") {
				t.Fatalf("%v\n%s", err, src)
			}
			continue
		}
		loaded++
		for range 8 {
			ev := randomSearch(r, searched)
			got, n := allowedByIndex(set, searched, ev)
			want := allowedByScan(set, searched, ev)
			walked += n
			scanned += len(candidateIDs(set, searched, ev))
			if !slices.Equal(got, want) {
				t.Fatalf("search %+v\n%s\nindex %v\nscan  %v\nfilter %+v", ev, src, got, want,
					set.Route(ev.Action.Name, ev.Resource.Type).SearchFilter(searchedOf(searched), ev))
			}
		}
	}
	if loaded < 200 || walked*4 > scanned*3 {
		t.Fatalf("%d packages loaded; the index walked %d candidates of %d", loaded, walked, scanned)
	}
	t.Logf("%d packages; the index walked %d candidates of %d", loaded, walked, scanned)
}

func randomSearch(r *rand.Rand, searched string) *policy.Evaluation {
	ev := &policy.Evaluation{
		Subject:  policy.Entity{Type: "user", ID: fmt.Sprintf("e%02d", r.IntN(35))},
		Action:   policy.Action{Name: []string{"read", "write", "other"}[r.IntN(3)]},
		Resource: policy.Entity{Type: "doc", ID: fmt.Sprintf("e%02d", r.IntN(35)), Properties: map[string]any{}},
		Context:  map[string]any{},
	}
	if r.IntN(4) == 0 {
		ev.Subject.Type = "group"
	}
	for _, m := range []map[string]any{ev.Resource.Properties, ev.Context} {
		if r.IntN(2) == 0 {
			m["owner"] = fmt.Sprintf("e%02d", r.IntN(35))
		}
	}
	ev.Subject.Properties = map[string]any{"owner": fmt.Sprintf("e%02d", r.IntN(35))}
	for k, v := range map[string]any{"dept": randomValue(r), "role": []any{"a", "b", 1}[r.IntN(3)],
		"flag": r.IntN(2) == 0, "pick": fmt.Sprintf("e%02d", r.IntN(35)), "level": randomValue(r)} {
		if r.IntN(3) > 0 {
			ev.Context[k] = v
		}
	}
	if searched == "subject" {
		ev.Subject.ID = ""
	} else {
		ev.Resource.ID = ""
	}
	return ev
}

func searchedOf(searched string) policy.Searched {
	if searched == "subject" {
		return policy.SearchSubjects
	}
	return policy.SearchResources
}

func candidateIDs(set *Set, searched string, ev *policy.Evaluation) []string {
	if searched == "subject" {
		return set.Data.SubjectIDs(ev.Subject.Type)
	}
	return set.Data.ResourceIDs(ev.Resource.Type)
}

// allowed decides the candidate id.
func allowed(set *Set, searched string, ev *policy.Evaluation, id string) bool {
	probe := *ev
	if searched == "subject" {
		probe.Subject.ID = id
	} else {
		probe.Resource.ID = id
	}
	d, err := set.DecideAuthZEN(&probe)
	if err != nil {
		panic(err)
	}
	return d.Allowed()
}

// allowedByScan is the reference: every entity of the type decided.
func allowedByScan(set *Set, searched string, ev *policy.Evaluation) []string {
	var out []string
	for _, id := range candidateIDs(set, searched, ev) {
		if allowed(set, searched, ev, id) {
			out = append(out, id)
		}
	}
	return out
}

// allowedByIndex decides the candidates the index walks; it also answers
// how many it walked.
func allowedByIndex(set *Set, searched string, ev *policy.Evaluation) ([]string, int) {
	ids := candidateIDs(set, searched, ev)
	it := set.SearchCandidates(searchedOf(searched), ev)
	var out []string
	n := 0
	for pos := it.Seek(0); pos < len(ids); pos = it.Seek(pos + 1) {
		n++
		if allowed(set, searched, ev, ids[pos]) {
			out = append(out, ids[pos])
		}
	}
	return out, n
}

// TestSearchIndexFollowsReload: the index is that of the data loaded
// with the set, so a reload that changes the data changes the candidates.
func TestSearchIndexFollowsReload(t *testing.T) {
	data := filepath.Join(t.TempDir(), "entities.yaml")
	write := func(admin string) {
		doc := "version: 1\nsubjects:\n"
		for _, u := range []string{"ann", "bob", "cid"} {
			role := "viewer"
			if u == admin {
				role = "admin"
			}
			doc += "  - {type: user, id: " + u + ", properties: {roles: [" + role + "]}}\n"
		}
		if err := os.WriteFile(data, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ann")
	e, err := New(Config{RegistryFile: fixtureRegistry, PolicyFile: todoPolicy, DataFile: data})
	if err != nil {
		t.Fatal(err)
	}
	ev := &policy.Evaluation{Subject: policy.Entity{Type: "user"}, Action: policy.Action{Name: "can_delete_todo"}, Resource: policy.Entity{Type: "todo", ID: "t"}}
	if got, n := allowedByIndex(e.Active(), "subject", ev); !slices.Equal(got, []string{"ann"}) || n != 1 {
		t.Fatalf("before the reload: %v after %d candidates", got, n)
	}
	write("cid")
	if err := e.Reload(); err != nil {
		t.Fatal(err)
	}
	if got, n := allowedByIndex(e.Active(), "subject", ev); !slices.Equal(got, []string{"cid"}) || n != 1 {
		t.Fatalf("after the reload: %v after %d candidates", got, n)
	}
}
