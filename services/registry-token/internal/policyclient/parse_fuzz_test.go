package policyclient

import (
	"errors"
	"testing"
)

// FuzzParse: whatever flex-auth (or something in its place) answers, the
// result is a decision with a known effect or exactly one outage kind, and
// a 200 allow always carries a decision id.
func FuzzParse(f *testing.F) {
	f.Add(200, []byte(`{"decision_id":"decision:0123456789abcdef","effect":"allow","reason":"registry_access_allowed"}`))
	f.Add(200, []byte(`{"decision_id":"decision:0123456789abcdef","effect":"deny","reason":"repository_quarantined"}`))
	f.Add(503, []byte(`{"error":"decision_log_unavailable","effect":"deny","reason":"decision_log_unavailable"}`))
	f.Add(200, []byte(`{"effect":"allow"}`))
	f.Add(500, []byte(`{"effect":"allow","decision_id":"x"}`))
	f.Add(200, []byte(`null`))
	f.Add(200, []byte(`{"effect":"ALLOW","decision_id":"x"}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		d, err := parse(status, body)
		if err != nil {
			if !errors.Is(err, ErrInvalidResponse) || errors.Is(err, ErrUnavailable) || errors.Is(err, ErrTimeout) {
				t.Fatalf("error %v is not exactly an invalid response", err)
			}
			if d != (Decision{}) {
				t.Fatalf("decision %+v returned with error %v", d, err)
			}
			return
		}
		switch {
		case d.Effect != EffectAllow && d.Effect != EffectDeny:
			t.Fatalf("effect %q accepted", d.Effect)
		case d.Allowed() && (status != 200 || d.ID == ""):
			t.Fatalf("allow from status %d with id %q", status, d.ID)
		case status == 200 && d.ID == "":
			t.Fatalf("200 decision without id: %+v", d)
		}
	})
}
