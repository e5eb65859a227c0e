package decisionlog

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/stellaops/authgate/pkg/policy"
	"github.com/stellaops/authgate/services/flex-auth/internal/engine"
)

// reflectiveLine is the line of d as the reflective encoder writes
// engine.Decision (its json tags) with the options lines have always had.
func reflectiveLine(t testing.TB, d *engine.Decision) []byte {
	t.Helper()
	rec := *d
	rec.Time = d.Time.UTC()
	b, err := json.Marshal(&rec, jsontext.EscapeForHTML(true), jsontext.EscapeForJS(true), jsontext.AllowInvalidUTF8(true))
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// FuzzLine checks the line appender against the reflective encoder: every
// member, the empty ones left out, the escapes, the time in UTC.
func FuzzLine(f *testing.F) {
	f.Add("decision:00000000000000ff", "/v1/check", "we\"ird\n<actor>&\u2028", "iam:a", "host:1", "allow", "sha256:cc", int64(24), true, "a,b<", true, int64(1_700_000_000_123_456_789), int64(42))
	f.Add("", "", "", "", "", "", "", int64(0), false, "", false, int64(0), int64(-3))
	f.Add("x", "\xff", "日本", "\u2029", "", "deny", "", int64(-1), true, "", true, int64(-5), int64(0))
	f.Fuzz(func(t *testing.T, id, endpoint, actor, subject, resource, effect, data string, ttl int64, hasTTL bool, results string, search bool, nanos, latency int64) {
		d := engine.Decision{
			Time: time.Unix(0, nanos).In(time.FixedZone("z", 5400)), ID: id, Endpoint: endpoint,
			Actor: actor, Subject: subject, Action: effect + subject, Principal: actor + id, Resource: resource,
			Effect: policy.Effect(effect), Reason: endpoint + effect, Backend: id, PolicyPackage: data, PolicyVersion: "1",
			PolicyDigest: effect, RegistryDigest: resource, DataDigest: data, LatencyUS: latency, RuleID: "r",
		}
		if hasTTL {
			d.TTLHours = &ttl
		}
		if search {
			d.Results = []string{}
			if results != "" {
				d.Results = strings.Split(results, ",")
			}
		}
		var w lines
		w.reset(1)
		w.add(&d)
		if got, want := w.bytes(), reflectiveLine(t, &d); !bytes.Equal(got, want) {
			t.Errorf("line\n got %s\nwant %s", got, want)
		}
	})
}
