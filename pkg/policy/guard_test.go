package policy

import "testing"

// guardPackage has one rule per form of condition an action guard may or
// may not be taken from; each allows with its own reason.
const guardPackage = `---
name: guard
version: "1"
backend: flex-auth
request: authzen
reasons:
  - {code: first, description: first}
  - {code: reversed, description: reversed}
  - {code: later, description: later}
  - {code: negated, description: negated}
  - {code: ored, description: ored}
  - {code: none, description: none}
default_reason: none
---

A guard as the first operand.

` + "```rule" + `
id: first
effect: allow
reason: first
when: action.name == "read" && subject.id == "a"
` + "```" + `

A guard written the other way round.

` + "```rule" + `
id: reversed
effect: allow
reason: reversed
when: '"write" == action.name && subject.id == "b"'
` + "```" + `

A comparison after another operand is not a guard.

` + "```rule" + `
id: later
effect: allow
reason: later
when: subject.id == "c" && action.name == "read"
` + "```" + `

An inequality is not a guard.

` + "```rule" + `
id: negated
effect: allow
reason: negated
when: action.name != "read" && subject.id == "d"
` + "```" + `

A disjunction is not a guard.

` + "```rule" + `
id: ored
effect: allow
reason: ored
when: action.name == "read" || subject.id == "e"
` + "```" + `
`

func TestActionGuard(t *testing.T) {
	p, err := Parse("guard.md", []byte(guardPackage))
	if err != nil {
		t.Fatal(err)
	}
	guards := map[string]string{}
	for _, r := range p.rules {
		if r.byAction {
			guards[r.info.ID] = r.action
		}
	}
	if len(guards) != 2 || guards["first"] != "read" || guards["reversed"] != "write" {
		t.Errorf("guards = %v, want first: read, reversed: write", guards)
	}
	for _, tc := range []struct{ subject, action, want string }{
		{"a", "read", "first"}, {"a", "write", "none"}, {"a", "", "none"}, {"a", "Read", "none"},
		{"b", "write", "reversed"}, {"b", "delete", "none"},
		{"c", "read", "later"}, {"c", "write", "none"},
		{"d", "write", "negated"}, {"d", "read", "ored"},
		{"e", "write", "ored"}, {"x", "read", "ored"},
	} {
		v, err := p.EvaluateAuthZEN(&Evaluation{Subject: Entity{Type: "user", ID: tc.subject}, Action: Action{Name: tc.action}})
		if err != nil {
			t.Fatal(err)
		}
		if v.Reason != tc.want {
			t.Errorf("%s %q: reason %s, want %s", tc.subject, tc.action, v.Reason, tc.want)
		}
	}
}
