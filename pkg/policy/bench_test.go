package policy

import (
	"os"
	"testing"
)

func loadOpsWarden(tb testing.TB) *Package {
	tb.Helper()
	p, err := LoadFile("../../configs/ops-warden/policy_package.md")
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// BenchmarkEvaluateOpsWarden evaluates the ops-warden package for an allowed
// request, which runs every rule (the most expensive path).
func BenchmarkEvaluateOpsWarden(b *testing.B) {
	p := loadOpsWarden(b)
	a := &Actor{Name: "agt-state-hub-bridge", Type: "agt", Principal: "agt-task-bridge", MaxTTLHours: 24,
		AllowedSubjects: []string{"agt-state-hub-bridge", "iam:agt-state-hub-bridge"}}
	req := &Request{Actor: a.Name, Subject: "iam:agt-state-hub-bridge"}
	req.ApplyDefaults(a)
	b.ReportAllocs()
	for b.Loop() {
		d, err := p.Evaluate(req, a)
		if err != nil || d.Effect != EffectAllow {
			b.Fatal(d, err)
		}
	}
}

func BenchmarkParseOpsWarden(b *testing.B) {
	src, err := os.ReadFile("../../configs/ops-warden/policy_package.md")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("policy_package.md", src); err != nil {
			b.Fatal(err)
		}
	}
}

// opsWardenPackage reads the ops-warden policy package shipped in configs/.
func opsWardenPackage(tb testing.TB) []byte {
	tb.Helper()
	b, err := os.ReadFile("../../configs/ops-warden/policy_package.md")
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
