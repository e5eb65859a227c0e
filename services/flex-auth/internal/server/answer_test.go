package server

import (
	"bytes"
	"testing"

	"github.com/go-json-experiment/json"

	"github.com/stellaops/authgate/pkg/policy"
	"github.com/stellaops/authgate/services/flex-auth/internal/checkapi"
	"github.com/stellaops/authgate/services/flex-auth/internal/engine"
)

// FuzzAnswers checks the answer appenders against the reflective encoder
// of the wire types.
func FuzzAnswers(f *testing.F) {
	f.Add("decision:00000000000000ff", "allow", "signing_policy_matched", "we\"ird\n<actor>&\u2028", "sha256:aa", "", int64(24), true)
	f.Add("", "deny", "", "", "", "sha256:cc", int64(0), false)
	f.Add("x", "\xff", "日本\u2029", "\x01", "", "d<", int64(-1), true)
	f.Fuzz(func(t *testing.T, id, effect, reason, actor, digest, data string, ttl int64, hasTTL bool) {
		d := engine.Decision{
			ID: id, Effect: policy.Effect(effect), Reason: reason, Backend: actor + id,
			PolicyPackage: reason + actor, PolicyVersion: effect, PolicyDigest: digest, RegistryDigest: digest + data,
			DataDigest: data, Actor: actor, Subject: "iam:" + actor, Action: reason, Principal: data,
		}
		if hasTTL {
			d.TTLHours = &ttl
		}
		env := envelope(&d)
		compare(t, "envelope", appendEnvelope([]byte("x"), &d), &env)
		r := evaluationResponse(&d)
		compare(t, "evaluation", appendEvaluationResponse([]byte("x"), &d), &r)
	})
}

func compare(t *testing.T, what string, got []byte, v any) {
	t.Helper()
	want, err := json.Marshal(v, checkapi.EncodeOptions)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[1:], want) {
		t.Errorf("%s\n got %s\nwant %s", what, got[1:], want)
	}
}
