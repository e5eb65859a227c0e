package policy

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// want is an expected diagnostic: line, severity and code, plus a substring
// of the message.
type want struct {
	line int
	sev  Severity
	code string
	msg  string
}

func (w want) String() string { return fmt.Sprintf("%d %s %s %q", w.line, w.sev, w.code, w.msg) }

func TestCheckDiagnostics(t *testing.T) {
	// Front matter is lines 1-9, "# Test" line 11, prose line 13, and the
	// first rule block opens on line 15; a four-line rule block is followed
	// by the next one nine lines later. Two lines of variables add two.
	const r0, r1, v0 = 15, 24, 17
	for _, tc := range []struct {
		name  string
		src   string
		wants []want
	}{
		{"no front matter", "# Policy\n\n```rule\nid: a\n```\n", []want{{1, SeverityError, CodeFrontMatter, "must start with YAML front matter"}}},
		{"unterminated front matter", "---\nname: x\n", []want{{1, SeverityError, CodeFrontMatter, "front matter"}}},
		{"unknown front matter key", "---\nname: x\nowner: y\n---\n", []want{{3, SeverityError, CodeFrontMatter, "owner"}}},
		{"missing front matter keys", "---\nname: x\n---\n\n```rule\nid: a\neffect: allow\nreason: r\nwhen: true\n```\n", []want{
			{1, SeverityError, CodeFrontMatter, "missing version"},
			{1, SeverityError, CodeFrontMatter, "missing backend"},
			{1, SeverityError, CodeFrontMatter, "missing default_reason"},
			{5, SeverityError, CodeUnknownReason, `reason "r" is not declared`},
			{5, SeverityWarning, CodeMissingProse, `rule "a"`},
		}},
		{"no rules", pkgWith(""), []want{{1, SeverityError, CodeNoRules, "no ```rule blocks"}}},
		{"undeclared default reason", strings.Replace(pkgWith("", "id: a\neffect: allow\nreason: ok\nwhen: true"), "default_reason: no", "default_reason: nope", 1),
			[]want{{1, SeverityError, CodeUnknownReason, `default_reason "nope"`}, {1, SeverityWarning, CodeUnusedReason, `"no"`}}},
		{"rule yaml syntax", pkgWith("", "id: a\neffect: [allow\nreason: ok\nwhen: true"), []want{{r0 + 1, SeverityError, CodeRuleSyntax, "rule block: did not find expected"}}},
		{"unknown rule key", pkgWith("", "id: a\neffect: allow\nreason: ok\nwhen: true\nlevel: 3"), []want{{r0 + 5, SeverityError, CodeRuleSyntax, "level"}}},
		{"missing rule keys", pkgWith("", "id: a\neffect: allow"), []want{{r0, SeverityError, CodeRuleSyntax, "missing reason, when"}}},
		{"bad effect", pkgWith("", "id: a\neffect: permit\nreason: ok\nwhen: true"), []want{{r0, SeverityError, CodeInvalidEffect, `"permit"`}}},
		{"bad rule id", pkgWith("", "id: A B\neffect: allow\nreason: ok\nwhen: true"), []want{{r0, SeverityError, CodeRuleSyntax, "rule id"}}},
		{"duplicate id", pkgWith("", "id: a\neffect: deny\nreason: no\nwhen: request.subject == 'x'", "id: a\neffect: allow\nreason: ok\nwhen: request.subject == 'y'"),
			[]want{{r1, SeverityError, CodeDuplicateRule, fmt.Sprintf("already used by the rule at line %d", r0)}}},
		{"unknown reason", pkgWith("", "id: a\neffect: allow\nreason: okay\nwhen: true"), []want{
			{1, SeverityWarning, CodeUnusedReason, `"ok"`}, {r0, SeverityError, CodeUnknownReason, `"okay"`}}},
		{"unused reason", pkgWith("", "id: a\neffect: deny\nreason: no\nwhen: request.subject == 'x'"), []want{{1, SeverityWarning, CodeUnusedReason, `reason "ok" is declared but no rule returns it`}}},
		{"cel parse error", pkgWith("", "id: a\neffect: allow\nreason: ok\nwhen: request.subject == 'x' &&"), []want{{r0 + 4, SeverityError, CodeCELParse, `rule "a": Syntax error`}}},
		{"unknown variable", pkgWith("", "id: a\neffect: allow\nreason: ok\nwhen: requst.subject == 'x'"), []want{{r0 + 4, SeverityError, CodeCELCheck, "undeclared reference to 'requst'"}}},
		{"unknown field", pkgWith("", "id: a\neffect: allow\nreason: ok\nwhen: request.subjct == 'x'"), []want{{r0 + 4, SeverityError, CodeCELCheck, "undefined field 'subjct'"}}},
		{"type mismatch", pkgWith("", "id: a\neffect: allow\nreason: ok\nwhen: request.ttl_hours > '3'"), []want{{r0 + 4, SeverityError, CodeCELCheck, "no matching overload"}}},
		{"error line inside literal block", pkgWith("", "id: a\neffect: allow\nreason: ok\nwhen: |\n  request.subject == 'x' &&\n  actor.ttl > 1"), []want{{r0 + 6, SeverityError, CodeCELCheck, "undefined field 'ttl'"}}},
		{"non-bool condition", pkgWith("", "id: a\neffect: allow\nreason: ok\nwhen: request.ttl_hours + 1"), []want{{r0, SeverityError, CodeNonBool, "has type int, want bool"}}},
		{"unreachable after unconditional", pkgWith("", "id: a\neffect: allow\nreason: ok\nwhen: \"true\"", "id: b\neffect: deny\nreason: no\nwhen: request.subject == 'x'"),
			[]want{{r1, SeverityError, CodeUnreachable, fmt.Sprintf(`rule "a" at line %d always matches`, r0)}}},
		{"unreachable after a constant condition", pkgWith("", "id: a\neffect: allow\nreason: ok\nwhen: 1 == 1 || request.subject == 'z'", "id: b\neffect: deny\nreason: no\nwhen: request.subject == 'x'"),
			[]want{{r1, SeverityError, CodeUnreachable, `rule "a"`}}},
		{"shadowed by a weaker condition", pkgWith("",
			"id: a\neffect: deny\nreason: no\nwhen: request.subject == 'x'",
			"id: b\neffect: allow\nreason: ok\nwhen: request.principal == 'p' && request.subject == 'x'"),
			[]want{{r1, SeverityWarning, CodeShadowed, fmt.Sprintf(`rule "a" at line %d already matches every request`, r0)}}},
		{"never matches", pkgWith("", "id: a\neffect: allow\nreason: ok\nwhen: \"false\"", "id: b\neffect: deny\nreason: no\nwhen: request.subject == 'x'"),
			[]want{{r0, SeverityWarning, CodeNeverMatches, "condition is false"}}},
		{"missing prose", strings.Replace(pkgWith("", "id: a\neffect: allow\nreason: ok\nwhen: request.subject == 'x'", "id: b\neffect: deny\nreason: no\nwhen: request.subject == 'y'"), "\nExplains the rule.\n", "\n", 2),
			[]want{{14, SeverityWarning, CodeMissingProse, `rule "a"`}, {22, SeverityWarning, CodeMissingProse, `rule "b"`}}},
		{"bad variable type", pkgWith("variables:\n  - {name: x, type: set, value: 1}\n", "id: a\neffect: allow\nreason: ok\nwhen: x"),
			[]want{{10, SeverityError, CodeInvalidVariable, `unsupported type "set"`}, {v0 + 4, SeverityError, CodeCELCheck, "undeclared reference to 'x'"}}},
		{"variable value of wrong type", pkgWith("variables:\n  - {name: x, type: int, value: [1]}\n", "id: a\neffect: allow\nreason: ok\nwhen: x > 0"),
			[]want{{10, SeverityError, CodeInvalidVariable, "value is not a int"}, {v0 + 4, SeverityError, CodeCELCheck, "undeclared reference to 'x'"}}},
		{"variable shadows built-in", pkgWith("variables:\n  - {name: request, type: int, value: 1}\n", "id: a\neffect: allow\nreason: ok\nwhen: request.subject == 'x'"),
			[]want{{10, SeverityError, CodeInvalidVariable, "built-in"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, diags := Check("t.md", []byte(tc.src))
			if diags.HasErrors() != (p == nil) {
				t.Errorf("package %v with errors %v", p != nil, diags.HasErrors())
			}
			for _, w := range tc.wants {
				found := false
				for _, d := range diags {
					if d.Line == w.line && d.Severity == w.sev && d.Code == w.code && strings.Contains(d.Message, w.msg) && d.File == "t.md" {
						found = true
					}
				}
				if !found {
					t.Errorf("missing diagnostic %v in\n%v", w, diags)
				}
			}
			if len(diags) != len(tc.wants) {
				t.Errorf("got %d diagnostics, want %d:\n%v", len(diags), len(tc.wants), diags)
			}
			_, err := Parse("t.md", []byte(tc.src))
			if diags.HasErrors() && !errors.Is(err, ErrInvalidPackage) {
				t.Errorf("Parse error %v does not match ErrInvalidPackage", err)
			}
			if !diags.HasErrors() && err != nil {
				t.Errorf("Parse failed on warnings only: %v", err)
			}
		})
	}
}

func TestOpsWardenPackageIsClean(t *testing.T) {
	src := opsWardenPackage(t)
	_, diags := Check("policy_package.md", src)
	if len(diags) != 0 {
		t.Fatalf("diagnostics on the ops-warden package:\n%v", diags)
	}
}

func TestStrictPromotesWarnings(t *testing.T) {
	_, diags := Check("t.md", []byte(pkgWith("", "id: a\neffect: deny\nreason: no\nwhen: request.subject == 'x'")))
	if diags.HasErrors() || len(diags.Warnings()) != 1 {
		t.Fatalf("want one warning, got %v", diags)
	}
	if s := diags.Strict(); !s.HasErrors() || len(s.Warnings()) != 0 {
		t.Fatalf("strict: %v", s)
	}
}
