package snapshot

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stellaops/authgate/pkg/policy"
)

const fixture = "../../../../configs/ops-warden/production_registry_snapshot.json"

func TestProductionFixtureHasTheKnownActors(t *testing.T) {
	s, err := LoadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name, typ, principal string
		maxTTL               int64
	}{
		{"adm-example", "adm", "adm-full", 48},
		{"agt-codex-interhub-bootstrap", "agt", "agt-interhub-bootstrap", 2},
		{"agt-state-hub-bridge", "agt", "agt-task-bridge", 24},
		{"atm-backup-daily", "atm", "atm-backup-daily", 8},
	}
	if s.Len() != len(want) {
		t.Fatalf("Len = %d, want %d", s.Len(), len(want))
	}
	for _, w := range want {
		a, ok := s.Lookup(w.name)
		if !ok {
			t.Fatalf("actor %s missing", w.name)
		}
		if a.Type != w.typ || a.Principal != w.principal || a.MaxTTLHours != w.maxTTL {
			t.Errorf("%s = %+v", w.name, a)
		}
		subs := strings.Join(a.AllowedSubjects, ",")
		if subs != w.name+",iam:"+w.name {
			t.Errorf("%s subjects = %s", w.name, subs)
		}
	}
	if _, ok := s.Lookup("agt-unknown"); ok {
		t.Error("Lookup found an actor that is not registered")
	}
	src, _ := os.ReadFile(fixture)
	if s.Digest() != policy.Digest(src) || !strings.HasPrefix(s.Digest(), "sha256:") || len(s.Digest()) != 7+64 {
		t.Errorf("digest %q", s.Digest())
	}
	counts := s.CountByType()
	if counts["adm"] != 1 || counts["agt"] != 2 || counts["atm"] != 1 {
		t.Errorf("CountByType = %v", counts)
	}
	if s.Source() != "ops-warden inventory.yaml" || s.GeneratedAt().IsZero() {
		t.Errorf("metadata: %q %v", s.Source(), s.GeneratedAt())
	}
}

func TestDefaultTTLIsCarried(t *testing.T) {
	s, err := Parse([]byte(`{"version":1,"actors":[{"name":"agt-a","type":"agt","principal":"p","max_ttl_hours":8,"default_ttl_hours":2,"allowed_subjects":["agt-a"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.Lookup("agt-a")
	if a.DefaultTTLHours != 2 {
		t.Fatalf("DefaultTTLHours = %d", a.DefaultTTLHours)
	}
}

func actor(fields string) string {
	base := map[string]string{
		"name": `"agt-a"`, "type": `"agt"`, "principal": `"p"`,
		"max_ttl_hours": "8", "allowed_subjects": `["agt-a","iam:agt-a"]`,
	}
	for _, kv := range strings.Split(fields, ";") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		if v == "-" {
			delete(base, k)
			continue
		}
		base[k] = v
	}
	var parts []string
	for _, k := range []string{"name", "type", "principal", "max_ttl_hours", "default_ttl_hours", "allowed_subjects", "extra"} {
		if v, ok := base[k]; ok {
			parts = append(parts, `"`+k+`":`+v)
		}
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func TestParseRejectsWithPreciseErrors(t *testing.T) {
	doc := func(actors ...string) string {
		return `{"version":1,"actors":[` + strings.Join(actors, ",") + `]}`
	}
	for _, tc := range []struct {
		name, src string
		want      []string // substrings that must all appear
	}{
		{"unsupported version", `{"version":2,"actors":[` + actor("") + `]}`, []string{"version: unsupported version 2"}},
		{"missing version", `{"actors":[` + actor("") + `]}`, []string{"version: is required"}},
		{"unknown top-level field", `{"version":1,"owner":"x","actors":[]}`, []string{`unknown field "owner"`}},
		{"trailing data", doc(actor("")) + ` {}`, []string{"unexpected data after"}},
		{"not json", `version: 1`, []string{"(document)"}},
		{"empty", ``, []string{"empty document"}},
		{"no actors", `{"version":1,"actors":[]}`, []string{"actors: must list at least one actor"}},
		{"unknown actor field", doc(actor(`extra="x"`)), []string{`actors[0]`, `unknown field "extra"`}},
		{"ttl wrong type", doc(actor(`max_ttl_hours="8"`)), []string{"actors[0]", "max_ttl_hours"}},
		{"duplicate names", doc(actor(""), actor("")), []string{`actors[1].name (actor "agt-a"): duplicate actor name (first at actors[0])`}},
		{"prefix disagrees with type", doc(actor(`type="adm"`)), []string{`actors[0].name (actor "agt-a"): does not start with "adm-"`}},
		{"unknown type", doc(actor(`type="bot"`)), []string{`actors[0].type (actor "agt-a"): unknown type "bot"`}},
		{"invalid name characters", doc(actor(`name="agt-A b"`)), []string{`actors[0].name (actor "agt-A b"): may hold only`}},
		{"missing name", doc(actor(`name=-`)), []string{`actors[0].name: is required`}},
		{"zero ttl", doc(actor(`max_ttl_hours=0`)), []string{`actors[0].max_ttl_hours (actor "agt-a"): must be greater than 0 (got 0)`}},
		{"negative ttl", doc(actor(`max_ttl_hours=-3`)), []string{`actors[0].max_ttl_hours`}},
		{"zero default ttl", doc(actor(`default_ttl_hours=0`)), []string{`actors[0].default_ttl_hours (actor "agt-a"): must be greater than 0`}},
		{"default above max", doc(actor(`default_ttl_hours=9`)), []string{`actors[0].default_ttl_hours (actor "agt-a"): 9 exceeds max_ttl_hours 8`}},
		{"empty subjects", doc(actor(`allowed_subjects=[]`)), []string{`actors[0].allowed_subjects (actor "agt-a"): must list at least one subject`}},
		{"missing subjects", doc(actor(`allowed_subjects=-`)), []string{`actors[0].allowed_subjects`}},
		{"blank subject", doc(actor(`allowed_subjects=["agt-a"," "]`)), []string{`actors[0].allowed_subjects[1]`}},
		{"duplicate subject", doc(actor(`allowed_subjects=["agt-a","agt-a"]`)), []string{`actors[0].allowed_subjects[1] (actor "agt-a"): duplicate subject`}},
		{"missing principal", doc(actor(`principal=-`)), []string{`actors[0].principal (actor "agt-a"): is required`}},
		{"principal with comma", doc(actor(`principal="a,b"`)), []string{`actors[0].principal`}},
		{"every problem listed", doc(actor(`max_ttl_hours=0`), actor(`name="atm-x";type="agt"`)),
			[]string{"actors[0].max_ttl_hours", `actors[1].name (actor "atm-x")`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse([]byte(tc.src))
			if err == nil {
				t.Fatalf("Parse accepted it: %d actors", s.Len())
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("errors.Is(err, ErrInvalid) is false for %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}
