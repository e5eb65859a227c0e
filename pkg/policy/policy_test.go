package policy

import (
	"errors"
	"strings"
	"testing"
)

func bridge() *Actor {
	return &Actor{Name: "agt-state-hub-bridge", Type: "agt", Principal: "agt-task-bridge", MaxTTLHours: 24,
		AllowedSubjects: []string{"agt-state-hub-bridge", "iam:agt-state-hub-bridge"}}
}

func TestOpsWardenPackage(t *testing.T) {
	p := loadOpsWarden(t)
	if p.Name() != "ops-warden-ssh-signing" || p.Backend() != "flex-auth" || p.Version() == "" {
		t.Errorf("metadata: %q %q %q", p.Name(), p.Version(), p.Backend())
	}
	if !strings.HasPrefix(p.Digest(), "sha256:") || len(p.Digest()) != 71 {
		t.Errorf("digest %q", p.Digest())
	}
	ttl := func(n int64) Request { return Request{TTLHours: n, HasTTL: true} }
	for _, tc := range []struct {
		name    string
		req     Request
		actor   *Actor
		effect  Effect
		reason  string
		ruleID  string
		request func(*Request)
	}{
		{name: "defaults allow", actor: bridge(), effect: EffectAllow, reason: "signing_policy_matched", ruleID: "signing-allowed"},
		{name: "iam subject", req: Request{Subject: "iam:agt-state-hub-bridge"}, actor: bridge(), effect: EffectAllow, reason: "signing_policy_matched"},
		{name: "max ttl", req: ttl(24), actor: bridge(), effect: EffectAllow, reason: "signing_policy_matched"},
		{name: "ttl 999", req: ttl(999), actor: bridge(), effect: EffectDeny, reason: "ttl_out_of_bounds", ruleID: "ttl-out-of-bounds"},
		{name: "ttl 25", req: ttl(25), actor: bridge(), effect: EffectDeny, reason: "ttl_out_of_bounds"},
		{name: "ttl 0", req: ttl(0), actor: bridge(), effect: EffectDeny, reason: "ttl_out_of_bounds"},
		{name: "ttl -1", req: ttl(-1), actor: bridge(), effect: EffectDeny, reason: "ttl_out_of_bounds"},
		{name: "unknown actor", req: Request{Actor: "agt-ghost"}, effect: EffectDeny, reason: "unknown_actor_resource", ruleID: "unknown-actor"},
		{name: "foreign subject", req: Request{Subject: "iam:adm-example"}, actor: bridge(), effect: EffectDeny, reason: "subject_not_bound"},
		{name: "bare iam prefix", req: Request{Subject: "iam:"}, actor: bridge(), effect: EffectDeny, reason: "subject_not_bound"},
		{name: "foreign principal", req: Request{Principal: "root"}, actor: bridge(), effect: EffectDeny, reason: "principal_not_allowed"},
		{name: "other action", req: Request{Action: "registry.push"}, actor: bridge(), effect: EffectDeny, reason: "action_not_supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			if req.Actor == "" {
				req.Actor = "agt-state-hub-bridge"
			}
			req.ApplyDefaults(tc.actor)
			d, err := p.Evaluate(&req, tc.actor)
			if err != nil {
				t.Fatal(err)
			}
			if d.Effect != tc.effect || d.Reason != tc.reason || (tc.ruleID != "" && d.RuleID != tc.ruleID) {
				t.Fatalf("got %+v, want %s %s %s", d, tc.effect, tc.reason, tc.ruleID)
			}
		})
	}
}

func TestApplyDefaults(t *testing.T) {
	a := bridge()
	r := Request{Actor: a.Name}
	r.ApplyDefaults(a)
	if r.Subject != a.Name || r.Action != DefaultAction || r.Principal != a.Principal || r.TTLHours != 24 || !r.HasTTL {
		t.Fatalf("defaults: %+v", r)
	}
	a.DefaultTTLHours = 4
	r = Request{Actor: a.Name}
	r.ApplyDefaults(a)
	if r.TTLHours != 4 {
		t.Fatalf("default TTL not used: %d", r.TTLHours)
	}
	r = Request{Actor: a.Name, TTLHours: 0, HasTTL: true, Principal: "p", Subject: "s", Action: "x"}
	r.ApplyDefaults(a)
	if r.TTLHours != 0 || r.Principal != "p" || r.Subject != "s" || r.Action != "x" {
		t.Fatalf("explicit values overwritten: %+v", r)
	}
	r = Request{Actor: "agt-ghost"}
	r.ApplyDefaults(nil)
	if r.Subject != "agt-ghost" || r.Action != DefaultAction || r.Principal != "" || r.HasTTL {
		t.Fatalf("unknown actor defaults: %+v", r)
	}
}

// pkgWith builds a package around rule blocks (each preceded by prose).
func pkgWith(extraFront string, rules ...string) string {
	var b strings.Builder
	b.WriteString("---\nname: t\nversion: \"1\"\nbackend: test\nreasons:\n  - {code: ok, description: ok}\n  - {code: no, description: no}\ndefault_reason: no\n")
	b.WriteString(extraFront)
	b.WriteString("---\n\n# Test\n")
	for _, r := range rules {
		b.WriteString("\nExplains the rule.\n\n```rule\n" + r + "\n```\n")
	}
	return b.String()
}

func TestEvaluateSemantics(t *testing.T) {
	vars := "variables:\n  - {name: regions, type: list(string), value: [eu, us]}\n  - {name: limit, type: int, value: 5}\n  - {name: owners, type: 'map(string, string)', value: {db: ops}}\n"
	for _, tc := range []struct {
		name  string
		rules []string
		req   Request
		actor *Actor
		want  Verdict
		errIs error
	}{
		{name: "first match wins", rules: []string{
			"id: a\neffect: deny\nreason: no\nwhen: request.subject == 's'",
			"id: b\neffect: allow\nreason: ok\nwhen: request.subject == 's'"},
			req: Request{Subject: "s"}, want: Verdict{EffectDeny, "no", "a"}},
		{name: "no match is default deny", rules: []string{"id: a\neffect: allow\nreason: ok\nwhen: request.subject == 'x'"},
			req: Request{Subject: "s"}, want: Verdict{EffectDeny, "no", ""}},
		{name: "declared list variable", rules: []string{"id: a\neffect: allow\nreason: ok\nwhen: request.context.region in regions"},
			req: Request{Context: map[string]any{"region": "eu"}}, want: Verdict{EffectAllow, "ok", "a"}},
		{name: "declared int and map variables", rules: []string{"id: a\neffect: allow\nreason: ok\nwhen: request.ttl_hours < limit && owners[request.resource] == 'ops'"},
			req: Request{TTLHours: 4, HasTTL: true, Resource: "db"}, want: Verdict{EffectAllow, "ok", "a"}},
		{name: "context missing key uses has", rules: []string{"id: a\neffect: allow\nreason: ok\nwhen: has(request.context.region)"},
			req: Request{}, want: Verdict{EffectDeny, "no", ""}},
		{name: "has on null actor is false", rules: []string{"id: a\neffect: allow\nreason: ok\nwhen: has(actor.name)"},
			req: Request{}, want: Verdict{EffectDeny, "no", ""}},
		{name: "has on known actor", rules: []string{"id: a\neffect: allow\nreason: ok\nwhen: has(actor.name) && actor.type == 'agt'"},
			actor: bridge(), want: Verdict{EffectAllow, "ok", "a"}},
		{name: "has ttl distinguishes absent", rules: []string{"id: a\neffect: allow\nreason: ok\nwhen: has(request.ttl_hours)"},
			req: Request{TTLHours: 0, HasTTL: true}, want: Verdict{EffectAllow, "ok", "a"}},
		{name: "unguarded field of null actor fails closed", rules: []string{"id: a\neffect: allow\nreason: ok\nwhen: actor.max_ttl_hours > 0"},
			req: Request{}, want: Verdict{EffectDeny, "no", "a"}, errIs: ErrEvaluation},
		{name: "guarded field of null actor", rules: []string{"id: a\neffect: deny\nreason: no\nwhen: actor == null || actor.max_ttl_hours < 1", "id: b\neffect: allow\nreason: ok\nwhen: request.actor == request.actor"},
			req: Request{}, want: Verdict{EffectDeny, "no", "a"}},
		{name: "runtime error in context", rules: []string{"id: a\neffect: allow\nreason: ok\nwhen: request.context.n + 1 > 2"},
			req: Request{Context: map[string]any{"n": "x"}}, want: Verdict{EffectDeny, "no", "a"}, errIs: ErrEvaluation},
		{name: "allowed subjects size and index", rules: []string{"id: a\neffect: allow\nreason: ok\nwhen: size(actor.allowed_subjects) == 2 && actor.allowed_subjects[1].startsWith('iam:')"},
			actor: bridge(), want: Verdict{EffectAllow, "ok", "a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse("t.md", []byte(pkgWith(vars, tc.rules...)))
			if err != nil {
				t.Fatal(err)
			}
			d, err := p.Evaluate(&tc.req, tc.actor)
			if tc.errIs != nil {
				if !errors.Is(err, tc.errIs) {
					t.Fatalf("err = %v, want %v", err, tc.errIs)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if d != tc.want {
				t.Fatalf("got %+v, want %+v", d, tc.want)
			}
		})
	}
}

func TestEvaluateNilRequest(t *testing.T) {
	p := loadOpsWarden(t)
	d, err := p.Evaluate(nil, nil)
	if !errors.Is(err, ErrEvaluation) || d.Effect != EffectDeny {
		t.Fatalf("got %+v %v", d, err)
	}
}

func TestEvaluateIsSafeForConcurrentUse(t *testing.T) {
	p := loadOpsWarden(t)
	done := make(chan Verdict, 8)
	for i := range 8 {
		go func() {
			a := bridge()
			r := Request{Actor: a.Name}
			if i%2 == 1 {
				r.TTLHours, r.HasTTL = 999, true
			}
			r.ApplyDefaults(a)
			var last Verdict
			for range 200 {
				last, _ = p.Evaluate(&r, a)
			}
			done <- last
		}()
	}
	allow, deny := 0, 0
	for range 8 {
		d := <-done
		if d.Effect == EffectAllow && d.Reason == "signing_policy_matched" {
			allow++
		}
		if d.Reason == "ttl_out_of_bounds" {
			deny++
		}
	}
	if allow != 4 || deny != 4 {
		t.Fatalf("allow %d deny %d", allow, deny)
	}
}
