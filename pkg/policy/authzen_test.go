package policy

import (
	"errors"
	"strings"
	"testing"
)

type fakeData map[string]map[string]any

func (d fakeData) SubjectProperties(typ, id string) map[string]any  { return d["s/"+typ+"/"+id] }
func (d fakeData) ResourceProperties(typ, id string) map[string]any { return d["r/"+typ+"/"+id] }

const todoPackage = `---
name: todo
version: "1"
backend: flex-auth
request: authzen
decides:
  actions: ["can_*"]
  resource_types: [todo]
reasons:
  - {code: owner, description: owner}
  - {code: admin, description: admin}
  - {code: none, description: none}
default_reason: none
---

Admins may do anything.

` + "```rule" + `
id: admin
effect: allow
reason: admin
when: "'admin' in subject_data(subject.type, subject.id).roles"
` + "```" + `

Editors may update what they own.

` + "```rule" + `
id: owner
effect: allow
reason: owner
when: |
  action.name == "can_update_todo" &&
  resource.properties.ownerID == subject.id &&
  'editor' in subject_data(subject.type, subject.id).roles &&
  context.tags.exists(t, t.level > 1)
` + "```" + `
`

func TestAuthZENPackage(t *testing.T) {
	data := fakeData{
		"s/user/alice": {"roles": []any{"admin"}},
		"s/user/bob":   {"roles": []any{"editor"}},
	}
	p, err := ParseWith("todo.md", []byte(todoPackage), Options{Data: data})
	if err != nil {
		t.Fatal(err)
	}
	if p.Shape() != ShapeAuthZEN || !p.Decides().Matches("can_read_todo", "todo") || p.Decides().Matches("can_read_todo", "doc") {
		t.Fatalf("shape %q decides %+v", p.Shape(), p.Decides())
	}
	ev := func(sub, owner string, level int64) *Evaluation {
		return &Evaluation{
			Subject:  Entity{Type: "user", ID: sub},
			Action:   Action{Name: "can_update_todo"},
			Resource: Entity{Type: "todo", ID: "1", Properties: map[string]any{"ownerID": owner}},
			Context:  map[string]any{"tags": []any{map[string]any{"level": level}}},
		}
	}
	for _, tc := range []struct {
		name   string
		ev     *Evaluation
		effect Effect
		reason string
	}{
		{"admin", ev("alice", "bob", 0), EffectAllow, "admin"},
		{"owner editor", ev("bob", "bob", 2), EffectAllow, "owner"},
		{"owner editor, context says no", ev("bob", "bob", 1), EffectDeny, "none"},
		{"not owner", ev("bob", "carol", 2), EffectDeny, "none"},
		{"unknown subject", ev("mallory", "mallory", 2), EffectDeny, "none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := p.EvaluateAuthZEN(tc.ev)
			// an unknown subject has no roles: reading them is an error,
			// which is a deny
			if err != nil && tc.effect == EffectAllow {
				t.Fatal(err)
			}
			if d.Effect != tc.effect || d.Reason != tc.reason {
				t.Fatalf("got %+v (%v), want %s %s", d, err, tc.effect, tc.reason)
			}
		})
	}
}

func TestAuthZENPackageTypeChecked(t *testing.T) {
	for _, tc := range []struct{ when, want string }{
		{"subject.name == 'x'", "undefined field 'name'"},
		{"request.actor == 'x'", "undeclared reference to 'request'"},
		{"action.properties == 'x'", "no matching overload"},
		{"subject_data(subject.id) == {}", "found no matching overload for 'subject_data'"},
	} {
		src := strings.Replace(todoPackage, `"'admin' in subject_data(subject.type, subject.id).roles"`, `"`+tc.when+`"`, 1)
		_, err := Parse("todo.md", []byte(src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.when, err, tc.want)
		}
	}
}

func TestDecidesValidation(t *testing.T) {
	for _, tc := range []struct{ old, repl, want string }{
		{"request: authzen", "request: xacml", `request "xacml" must be check or authzen`},
		{`actions: ["can_*"]`, "actions: []", "actions must name at least one"},
		{`actions: ["can_*"]`, `actions: ["a*b*"]`, "prefix followed by one *"},
		{"resource_types: [todo]", `resource_types: [""]`, "must not be empty"},
		{"default_reason: none", "default_reason: none\nvariables: [{name: subject, type: string, value: x}]", `"subject" is a built-in variable`},
		{"- {code: none, description: none}", "- {code: none, description: none}\n  - {code: cost_limit_exceeded, description: x}", "reserved for the cost limit"},
	} {
		src := strings.Replace(todoPackage, tc.old, tc.repl, 1)
		_, err := Parse("todo.md", []byte(src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.repl, err, tc.want)
		}
	}
}

func TestDecidesOverlap(t *testing.T) {
	for _, tc := range []struct {
		a, b    Decides
		overlap bool
	}{
		{Decides{Actions: []string{"registry.*"}}, Decides{Actions: []string{"ssh.sign"}}, false},
		{Decides{Actions: []string{"registry.*"}}, Decides{Actions: []string{"registry.pull"}}, true},
		{Decides{Actions: []string{"reg*"}}, Decides{Actions: []string{"registry.*"}}, true},
		{Decides{Actions: []string{"*"}}, Decides{Actions: []string{"x"}}, true},
		{Decides{Actions: []string{"read"}, ResourceTypes: []string{"todo"}}, Decides{Actions: []string{"read"}, ResourceTypes: []string{"doc"}}, false},
		{Decides{Actions: []string{"read"}, ResourceTypes: []string{"todo"}}, Decides{Actions: []string{"read"}}, true},
	} {
		_, got := tc.a.Overlaps(&tc.b)
		_, back := tc.b.Overlaps(&tc.a)
		if got != tc.overlap || back != tc.overlap {
			t.Errorf("%+v vs %+v: got %v/%v", tc.a, tc.b, got, back)
		}
	}
}

// Nested loops over request collections can cost the product of their
// sizes: such a package does not load.
func TestCostLimitAtLoad(t *testing.T) {
	for _, when := range []string{
		"request.context.exists(a, request.context.exists(b, a == b))",
		"actor.allowed_subjects.exists(a, actor.allowed_subjects.exists(b, actor.allowed_subjects.exists(c, a + b == c)))",
	} {
		src := strings.Replace(string(opsWardenPackage(t)),
			`when: actor == null`, `when: "actor == null || `+when+`"`, 1)
		_, diags := Check("p.md", []byte(src))
		if !diags.HasErrors() || !strings.Contains(diags.Errors().Error(), "exceeds the limit") {
			t.Errorf("%s: %v", when, diags)
		}
	}
	// one loop is fine
	src := strings.Replace(string(opsWardenPackage(t)),
		`when: actor == null`, `when: "actor == null || request.context.exists(a, a == 'x')"`, 1)
	if _, err := Parse("p.md", []byte(src)); err != nil {
		t.Fatal(err)
	}
}

// A condition whose estimate fits can still run over at run time (the
// estimate assumes strings of at most 1 KiB): it is stopped and denied
// with its own reason.
func TestCostLimitAtRunTime(t *testing.T) {
	src := strings.Replace(string(opsWardenPackage(t)),
		`when: actor == null`, `when: "actor == null || request.resource.matches('^(a|b)*c$')"`, 1)
	p, err := ParseWith("p.md", []byte(src), Options{CostLimit: 50_000})
	if err != nil {
		t.Fatal(err)
	}
	req := &Request{Actor: "agt-state-hub-bridge", Resource: strings.Repeat("ab", 1_000_000)}
	req.ApplyDefaults(bridge())
	d, err := p.Evaluate(req, bridge())
	if !errors.Is(err, ErrCostLimit) || d.Effect != EffectDeny || d.Reason != ReasonCostLimitExceeded || d.RuleID != "unknown-actor" {
		t.Fatalf("got %+v, %v", d, err)
	}
	req.Resource = "abc"
	if d, err := p.Evaluate(req, bridge()); err != nil || d.Reason == ReasonCostLimitExceeded {
		t.Fatalf("short resource: %+v, %v", d, err)
	}
}
