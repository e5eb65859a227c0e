package policy

import (
	"errors"
	"testing"
)

// FuzzParse feeds whole documents to the Markdown, front matter and rule
// parsers: any input yields a package or diagnostics, never a panic.
func FuzzParse(f *testing.F) {
	f.Add(opsWardenPackage(f))
	f.Add([]byte(pkgWith("", "id: a\neffect: allow\nreason: ok\nwhen: request.subject == 'x'")))
	f.Add([]byte(pkgWith("variables:\n  - {name: v, type: list(string), value: [a]}\n", "id: a\neffect: deny\nreason: no\nwhen: |\n  request.actor in v")))
	f.Add([]byte("---\nname: x\n---\n```rule\n```\n"))
	f.Add([]byte("---\n---\n> ```rule\n> id: a\n> ```\n- ```rule\n  when: x\n  ```\n"))
	f.Add([]byte("no front matter"))
	f.Fuzz(func(t *testing.T, src []byte) {
		p, diags := Check("f.md", src)
		if diags.HasErrors() {
			if p != nil {
				t.Fatal("package returned with errors")
			}
			if _, err := Parse("f.md", src); !errors.Is(err, ErrInvalidPackage) {
				t.Fatalf("Parse error %v", err)
			}
			return
		}
		if p == nil {
			t.Fatal("no package and no errors")
		}
		for _, d := range diags {
			if d.File != "f.md" || d.Line < 1 || d.Code == "" {
				t.Fatalf("malformed diagnostic %+v", d)
			}
		}
		req := &Request{Actor: "agt-a", Context: map[string]any{"k": "v"}}
		req.ApplyDefaults(nil)
		d, err := p.Evaluate(req, nil)
		if err == nil && !d.Effect.Valid() {
			t.Fatalf("invalid effect %q", d.Effect)
		}
		if err != nil && d.Effect != EffectDeny {
			t.Fatal("evaluation error without deny")
		}
	})
}

// FuzzCompileCondition feeds arbitrary CEL text through the compile path
// (parse, type check, plan) and evaluates what compiles.
func FuzzCompileCondition(f *testing.F) {
	for _, seed := range []string{
		"actor == null",
		"request.ttl_hours <= 0 || request.ttl_hours > actor.max_ttl_hours",
		"!(request.subject in actor.allowed_subjects)",
		"has(request.context.x) && request.context.x == 1",
		"request.subject.startsWith('iam:') && size(actor.allowed_subjects) > 1",
		"actor.allowed_subjects.exists(s, s == request.subject)",
		"request.ttl_hours + 1",
		"((((",
		"flexauth.Actor{name: 'x'} == actor",
		"type(actor) == flexauth.Actor",
		"dyn(request) == dyn(actor)",
		"'\\xff' == request.actor",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, cond string) {
		s := &diagSink{file: "f.md"}
		env, err := newEnv(ShapeCheck, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		rb := &ruleBlock{line: 3, whenLine: 4, ID: "r", When: cond}
		c := compileRule(s, env, rb, costLimits{limit: DefaultCostLimit, maxList: estimateCollection})
		if c == nil {
			if !s.diags.HasErrors() {
				t.Fatal("compile failed without a diagnostic")
			}
			return
		}
		for _, a := range []*Actor{nil, {Name: "agt-a", MaxTTLHours: 2, AllowedSubjects: []string{"agt-a"}}} {
			act := &activation{req: &Request{Actor: "agt-a", Subject: "agt-a", TTLHours: 1, HasTTL: true, Context: map[string]any{"x": int64(1)}}, act: a}
			out, _, err := c.prg.Eval(act)
			if err == nil && out.Type() != nil && out.Type().TypeName() != "bool" {
				t.Fatalf("condition %q evaluated to %v", cond, out)
			}
		}
	})
}
