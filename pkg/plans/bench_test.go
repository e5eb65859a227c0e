package plans

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// realisticRules returns n rules in the shapes plans take in practice:
// team namespaces, per-organisation base images, single repositories and a
// few cross-organisation wildcards, in a deterministic order.
func realisticRules(n int) []Rule {
	rng := rand.New(rand.NewPCG(1, 2))
	rules := make([]Rule, 0, n)
	for len(rules) < n {
		org, team := rng.IntN(500), rng.IntN(100)
		var r Rule
		switch rng.IntN(5) {
		case 0:
			r = Rule{Repository: fmt.Sprintf("org%d/team%d/*", org, team), Actions: []string{ActionPull, ActionPush}}
		case 1:
			r = Rule{Repository: fmt.Sprintf("org%d/*/base", org)}
		case 2:
			r = Rule{Repository: fmt.Sprintf("org%d/team%d/app%d", org, team, rng.IntN(50)), Actions: []string{ActionAll}}
		case 3:
			r = Rule{Repository: fmt.Sprintf("org%d/team%d/*/cache", org, team), Actions: []string{ActionPush}}
		default:
			r = Rule{Repository: fmt.Sprintf("*/team%d/tools%d", team, rng.IntN(20))}
		}
		rules = append(rules, r)
	}
	return rules
}

func benchPlan(b *testing.B, n int) *Plan {
	b.Helper()
	// One rule known to match the benchmark scopes, then n-1 realistic ones.
	rules := append([]Rule{{Repository: "org123/team45/*", Actions: []string{ActionPull}}}, realisticRules(n-1)...)
	cat, err := NewCatalog(map[string][]Rule{"big": rules})
	if err != nil {
		b.Fatal(err)
	}
	p, _ := cat.Plan("big")
	return p
}

// BenchmarkAuthorize10k authorizes one scope against a plan of 10,000
// patterns; the target is at most 2 µs per call.
func BenchmarkAuthorize10k(b *testing.B) {
	p := benchPlan(b, 10000)
	req, err := ParseScopes([]string{"repository:org123/team45/base:pull,push"})
	if err != nil {
		b.Fatal(err)
	}
	if len(p.Authorize(req)) == 0 {
		b.Fatal("benchmark scope is not granted")
	}
	b.ReportAllocs()
	for b.Loop() {
		p.Authorize(req)
	}
}

// BenchmarkAuthorizeScaling shows that the cost does not follow the number
// of patterns.
func BenchmarkAuthorizeScaling(b *testing.B) {
	req, err := ParseScopes([]string{"repository:org123/team45/app7:pull,push"})
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{10, 1000, 100000} {
		p := benchPlan(b, n)
		if len(p.Authorize(req)) == 0 {
			b.Fatal("benchmark scope is not granted")
		}
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p.Authorize(req)
			}
		})
	}
}

// BenchmarkParseScopesDockerPull parses what a docker pull sends.
func BenchmarkParseScopesDockerPull(b *testing.B) {
	values := []string{"repository:stella-ops/public/base:pull"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseScopes(values); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseScopesDockerPush parses what a docker push with a
// cross-repository blob mount sends.
func BenchmarkParseScopesDockerPush(b *testing.B) {
	values := []string{"repository:stella-ops/team/app:pull,push", "repository:stella-ops/public/base:pull"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseScopes(values); err != nil {
			b.Fatal(err)
		}
	}
}
