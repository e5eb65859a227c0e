package snapshot

import (
	"errors"
	"os"
	"testing"
)

func FuzzParse(f *testing.F) {
	if src, err := os.ReadFile(fixture); err == nil {
		f.Add(src)
	}
	f.Add([]byte(`{"version":1,"actors":[{"name":"agt-a","type":"agt","principal":"p","max_ttl_hours":8,"default_ttl_hours":2,"allowed_subjects":["agt-a"]}]}`))
	f.Add([]byte(`{"version":1,"actors":[{"name":"adm-a","type":"agt"},{"name":"adm-a"}]}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"version":1,"actors":[]} x`))
	f.Fuzz(func(t *testing.T, src []byte) {
		s, err := Parse(src)
		if err != nil {
			if s != nil {
				t.Fatal("snapshot returned with an error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not match ErrInvalid: %v", err)
			}
			return
		}
		if s.Len() == 0 {
			t.Fatal("valid snapshot without actors")
		}
		for _, a := range s.Actors() {
			got, ok := s.Lookup(a.Name)
			if !ok || got.Name != a.Name {
				t.Fatalf("Lookup(%q) failed", a.Name)
			}
			if a.MaxTTLHours <= 0 || len(a.AllowedSubjects) == 0 || a.DefaultTTLHours > a.MaxTTLHours {
				t.Fatalf("invalid actor accepted: %+v", a)
			}
		}
	})
}
