package cli

import (
	"os"
	"testing"

	"github.com/stellaops/authgate/pkg/policy"
)

// FuzzParseCases feeds arbitrary case files to the YAML/JSON case parser.
func FuzzParseCases(f *testing.F) {
	for _, path := range []string{opsCases, "testdata/failing_cases.yaml", "testdata/bad_cases.yaml"} {
		if b, err := os.ReadFile(path); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"cases":[{"name":"x","request":{"actor":"a","context":{"k":1.5}},"expect":{"effect":"deny","reason":"r"}}]}`))
	f.Add([]byte("cases:\n  - name: x\n    request: {actor: a, ttl_hours: 1e99}\n    expect: {effect: allow, reason: r}\n"))
	f.Add([]byte("cases: {1: 2}"))
	f.Fuzz(func(t *testing.T, src []byte) {
		cf, err := parseCases(src)
		if err != nil {
			if cf != nil {
				t.Fatal("case file returned with an error")
			}
			return
		}
		if len(cf.Cases) == 0 {
			t.Fatal("no cases accepted")
		}
		for _, c := range cf.Cases {
			if c.Name == "" || c.Request.Actor == "" || !policy.Effect(c.Expect.Effect).Valid() || c.Expect.Reason == "" {
				t.Fatalf("invalid case accepted: %+v", c)
			}
			req := c.Request.Policy()
			req.ApplyDefaults(nil)
		}
	})
}
