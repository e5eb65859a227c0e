package checkapi

import (
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"
)

func TestDecodeAcceptsTheDesignRequest(t *testing.T) {
	req, err := Decode([]byte(`{"actor": "agt-state-hub-bridge", "subject": "iam:agt-state-hub-bridge",
		"action": "ssh.sign", "principal": "agt-task-bridge", "ttl_hours": 24,
		"resource": "host:db1", "context": {"n": 3, "f": 1.5, "s": "x", "b": true, "z": null}}`))
	if err != nil {
		t.Fatal(err)
	}
	ttl := int64(24)
	want := Request{Actor: "agt-state-hub-bridge", Subject: "iam:agt-state-hub-bridge", Action: "ssh.sign",
		Principal: "agt-task-bridge", TTLHours: &ttl, Resource: "host:db1",
		Context: map[string]any{"n": int64(3), "f": 1.5, "s": "x", "b": true, "z": nil}}
	if !reflect.DeepEqual(req, want) {
		t.Fatalf("got %+v\nwant %+v", req, want)
	}
}

func TestDecodeRejectsWithTheFieldNamed(t *testing.T) {
	for _, tc := range []struct {
		name, body, field string
	}{
		{"missing actor", `{"subject":"x"}`, "actor"},
		{"null actor", `{"actor":null}`, "actor"},
		{"unknown field", `{"actor":"a","ttl":3}`, "ttl"},
		{"case-folded name", `{"Actor":"a"}`, "Actor"},
		{"duplicate member", `{"actor":"a","actor":"b"}`, "actor"},
		{"duplicate context key", `{"actor":"a","context":{"k":1,"k":2}}`, "context.k"},
		{"escaped member name", `{"act\u006fr":"a"}`, "body"},
		{"duplicate among many", `{"actor":"a","context":{` + manyKeys(40) + `,"k7":1}}`, "context.k7"},
		{"deep nesting", `{"actor":"a","context":{"k":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}}`, "body"},
		{"actor not string", `{"actor":7}`, "actor"},
		{"ttl fractional", `{"actor":"a","ttl_hours":1.5}`, "ttl_hours"},
		{"ttl string", `{"actor":"a","ttl_hours":"24"}`, "ttl_hours"},
		{"ttl overflow", `{"actor":"a","ttl_hours":1e40}`, "ttl_hours"},
		{"context not object", `{"actor":"a","context":[1]}`, "context"},
		{"context nested object", `{"actor":"a","context":{"k":{"x":1}}}`, "context.k"},
		{"context nested array", `{"actor":"a","context":{"k":[1]}}`, "context.k"},
		{"trailing data", `{"actor":"a"} {}`, "body"},
		{"trailing garbage", `{"actor":"a"}x`, "body"},
		{"array body", `[{"actor":"a"}]`, "body"},
		{"empty body", ``, "body"},
		{"truncated", `{"actor":"a"`, "body"},
		{"syntax", `{"actor" "a"}`, "body"},
		{"invalid UTF-8 in actor", "{\"actor\":\"agt-\xff\xfe-bridge\"}", "body"},
		{"invalid UTF-8 in context", "{\"actor\":\"a\",\"context\":{\"k\":\"\xc3\"}}", "body"},
		{"too large", `{"actor":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, "body"},
		{"escaped duplicate member name", `{"actor":"a","act\u006fr":"b"}`, "body"},
		{"duplicate in an array in context", `{"actor":"a","context":{"k":[{"x":1,"x":2}]}}`, "context.k.x"},
		{"duplicate with a long path", `{"actor":"a","context":{"` + strings.Repeat("k", 60) + `":1,"` + strings.Repeat("k", 60) + `":2}}`, "body"},
		{"unknown field with an empty name", `{"actor":"a","":1}`, "body"},
		{"missing actor with a nested context value", `{"context":{"k":{}}}`, "actor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.body))
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want *FieldError", err)
			}
			if fe.Field != tc.field {
				t.Fatalf("field = %q (%v), want %q", fe.Field, fe, tc.field)
			}
		})
	}
}

// The problems are named as they always were: clients and operators read
// these texts.
func TestDecodeErrorTexts(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`{"actor":"a","ttl":3}`, "ttl: unknown field"},
		{`{"Actor":"a"}`, "Actor: unknown field"},
		{`{"actor":"a","actor":"b"}`, "actor: duplicate member"},
		{`{"actor":"a","context":{"k":1,"k":2}}`, "context.k: duplicate member"},
		{`{"act\u006fr":"a"}`, "body: member names must not contain escapes"},
		{`{"actor":"a","context":{"k":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}}`, "body: nested too deeply"},
		{`{"actor":7}`, "actor: must be a string"},
		{`{"actor":"a","ttl_hours":1.5}`, "ttl_hours: must be an integer"},
		{`{"actor":"a","ttl_hours":"24"}`, "ttl_hours: must be an integer"},
		{`{"actor":"a","context":[1]}`, "context: must be an object"},
		{`{"actor":"a","context":{"k":{"x":1}}}`, "context.k: must be a string, number, boolean or null (no nesting)"},
		{`{"actor":"a","context":{"k":1e400}}`, "context.k: number out of range"},
		{`{"actor":"a"} {}`, "body: unexpected data after the JSON object"},
		{`{"actor":"a"}x`, "body: unexpected data after the JSON object"},
		{`{"actor":"a"`, "body: truncated JSON"},
		{`{"actor" "a"}`, "body: malformed JSON at byte 10"},
		{`{"actor":x}`, "body: malformed JSON at byte 10"},
		{`[]`, "body: must be a JSON object"},
		{``, "body: must be a JSON object"},
		{"{\"actor\":\"\xff\"}", "body: must be valid UTF-8"},
		{`{"subject":"x"}`, "actor: is required"},
		{`{"actor":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, "body: request body exceeds 65536 bytes"},
	} {
		if _, err := Decode([]byte(tc.body)); err == nil || err.Error() != tc.want {
			t.Errorf("%.60s: %v, want %s", tc.body, err, tc.want)
		}
	}
}

func TestReadBodyStopsAtTheLimit(t *testing.T) {
	var buf strings.Builder
	buf.WriteString(strings.Repeat(" ", MaxBodyBytes+10))
	var b bytesBuffer
	err := ReadBody(strings.NewReader(buf.String()), &b.Buffer)
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "body" {
		t.Fatalf("err = %v", err)
	}
	if b.Len() > MaxBodyBytes+1 {
		t.Fatalf("read %d bytes", b.Len())
	}
}

var idPattern = regexp.MustCompile(`^decision:[0-9a-f]{16}$`)

func TestDecisionIDs(t *testing.T) {
	seen := map[string]bool{}
	var src IDSource
	for i := range 2000 {
		id := NewDecisionID()
		if i%2 == 1 {
			id = src.New()
		}
		if !idPattern.MatchString(id) {
			t.Fatalf("id %q", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
}

// The envelope is encoded with the library as encoding/json encoded it
// (the answer clients have always parsed), strings escaped alike.
func TestEnvelopeEncodesAsEncodingJSON(t *testing.T) {
	ttl := int64(24)
	for _, d := range []Decision{
		{DecisionID: NewDecisionID(), Effect: "allow", Reason: "signing_policy_matched", Backend: "flex-auth-cel",
			Policy: PolicyRef{"ops-warden", "1", "sha256:ab"}, Registry: RegistryRef{"sha256:cd"},
			Actor: "a", Subject: "iam:a", Action: "ssh.sign", Principal: "p", TTLHours: &ttl},
		{DecisionID: NewDecisionID(), Effect: "deny", Reason: "unknown_actor_resource", Actor: "x<\"y&>\u2028\u2029\x01\x7f", Subject: "\n\t\r\b\f\\"},
	} {
		want, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		got, err := jsonv2.Marshal(&d, EncodeOptions)
		if err != nil || string(got) != string(want) {
			t.Errorf("encoded %s (%v)\nencoding/json %s", got, err, want)
		}
	}
}

// The AuthZEN answers too (maps with sorted keys, a nil map as null).
func TestAuthZENAnswersEncodeAsEncodingJSON(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    any
	}{
		{"allow with data", &EvaluationResponse{Decision: true, Context: EvaluationContext{
			DecisionID: NewDecisionID(), Reason: "owner_allows", ReasonAdmin: map[string]string{"en": "owner_allows"},
			Effect: "allow", Backend: "flex-auth-cel", Policy: PolicyRef{"todo-app", "1", "sha256:ab"},
			Registry: RegistryRef{"sha256:cd"}, Data: &DataRef{"sha256:ef"}}}},
		{"deny, escaped, several admin reasons", &EvaluationResponse{Context: EvaluationContext{
			Reason: "x<\"y\n\u2028", ReasonAdmin: map[string]string{"en": "a&b", "a\"b": "", "b": "", "c": ""},
			Effect: "deny"}}},
		{"no admin reason", &EvaluationResponse{}},
		{"item error", &ErrorResponse{Context: ErrorContext{Error: ItemError{Status: 400, Message: `subject: is required <"x">`}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, err := json.Marshal(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			got, err := jsonv2.Marshal(tc.v, EncodeOptions)
			if err != nil || string(got) != string(want) {
				t.Errorf("encoded %s (%v)\nencoding/json %s", got, err, want)
			}
		})
	}
}

func manyKeys(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = `"k` + strconv.Itoa(i) + `":1`
	}
	return strings.Join(parts, ",")
}
