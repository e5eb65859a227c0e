package checkapi

import (
	"errors"
	"testing"

	"github.com/stellaops/authgate/services/flex-auth/internal/engine"
)

func TestDecodeEvaluationRejects(t *testing.T) {
	for _, tc := range []struct{ body, field string }{
		{`{"subject":{"type":"actor"},"action":{"name":"a"},"resource":{"type":"h","id":"x"}}`, "subject.id"},
		{`{"subject":{"type":"actor","id":"a"},"action":{},"resource":{"type":"h","id":"x"}}`, "action.name"},
		{`{"subject":{"type":"actor","id":"a"},"action":{"name":"a"},"resource":{"id":"x"}}`, "resource.type"},
		{`{"subject":{"type":"actor","id":"a"},"action":{"name":"a"},"resource":{"type":"h"}}`, "resource.id"},
		{`{"subject":{"type":"actor","id":"a"},"resource":{"type":"h","id":"x"}}`, "action"},
		{`{"subject":{"type":"actor","id":7},"action":{"name":"a"},"resource":{"type":"h","id":"x"}}`, "subject.id"},
		{`{"subject":{"type":"actor","id":"a","id":"b"},"action":{"name":"a"},"resource":{"type":"h","id":"x"}}`, "subject.id"},
		{`{"subject":{"type":"actor","id":"a"},"action":{"name":"a"},"resource":{"type":"h","id":"x"},"context":{"a":[[[[[[[[[1]]]]]]]]]}}`, "context.a[0][0][0][0][0][0][0]"},
		{`{"subject":{"type":"actor","id":"a"},"action":{"name":"a","properties":[]},"resource":{"type":"h","id":"x"}}`, "action.properties"},
		{"{\"subject\":{\"type\":\"actor\",\"id\":\"iam:a\xff\"},\"action\":{\"name\":\"a\"},\"resource\":{\"type\":\"h\",\"id\":\"x\"}}", "body"},
		{`not json`, "body"},
	} {
		_, err := DecodeEvaluation([]byte(tc.body))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%s: err = %v, want field %q", tc.body, err, tc.field)
		}
	}
}

func FuzzDecodeEvaluation(f *testing.F) {
	f.Add([]byte(`{"subject":{"type":"actor","id":"iam:a"},"action":{"name":"ssh.sign"},"resource":{"type":"h","id":"x"},"context":{"ttl_hours":3}}`))
	f.Add([]byte(`{"subject":{"type":"u","id":"b","properties":{"actor":"a"}},"action":{"name":"n"},"resource":{"type":"h","id":"x","properties":{"principal":"p"}}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := DecodeEvaluation(body)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field == "" {
				t.Fatalf("error %v (%T) is not a FieldError", err, err)
			}
			return
		}
		if ev.Subject.ID == "" || ev.Subject.Type == "" || ev.Action.Name == "" || ev.Resource.ID == "" || ev.Resource.Type == "" {
			t.Fatalf("decoded request lacks a member: %+v", ev)
		}
		if req, err := engine.CheckRequest(ev.Policy()); err == nil && req.Actor == "" {
			t.Fatalf("mapped request lacks the actor: %+v", req)
		}
	})
}

// The specification asks a PDP to ignore members it does not know.
func TestDecodeEvaluationIgnoresUnknownMembers(t *testing.T) {
	ev, err := DecodeEvaluation([]byte(`{"subject":{"type":"user","id":"alice","x":1},"action":{"name":"can_read"},"resource":{"type":"todo","id":"1"},"extra":{"a":[1]}}`))
	if err != nil || ev.Subject.ID != "alice" {
		t.Fatalf("%+v, %v", ev, err)
	}
}

func TestDecodeEvaluationsDefaultsAndOverrides(t *testing.T) {
	items, sem, single, err := DecodeEvaluations([]byte(`{"subject":{"type":"user","id":"alice"},"action":{"name":"can_read"},
		"options":{"evaluations_semantic":"deny_on_first_deny"},
		"evaluations":[{"resource":{"type":"todo","id":"1"}},{"action":{"name":"can_delete"},"resource":{"type":"todo","id":"2"},"subject":{"type":"user","id":"bob"}}]}`))
	if err != nil || sem != DenyOnFirstDeny || single || len(items) != 2 {
		t.Fatalf("%v %q %v %d", err, sem, single, len(items))
	}
	if items[0].Subject.ID != "alice" || items[0].Action.Name != "can_read" || items[1].Subject.ID != "bob" || items[1].Action.Name != "can_delete" || items[1].Resource.ID != "2" {
		t.Fatalf("%+v %+v", items[0], items[1])
	}
	// AuthZEN 1.0 §6.1.1: "Any of these keys specified within an
	// individual evaluation object overrides the corresponding top-level
	// default": the item's member replaces the default whole, so an item
	// resource without an id is missing its id (an evaluation-level error)
	// and no property of the default leaks into an item's member
	items, _, _, err = DecodeEvaluations([]byte(`{"subject":{"type":"user","id":"a","properties":{"role":"admin"}},"action":{"name":"r"},"resource":{"type":"t","id":"9"},
		"evaluations":[{"subject":{"type":"user","id":"b"},"resource":{"type":"t","id":"1","properties":{"s":"x"}}},{"resource":{"type":"t"}},{"resource":{"id":"1"}},{}]}`))
	if err != nil || len(items) != 4 {
		t.Fatal(err)
	}
	if items[0].Err != nil || items[0].Subject.ID != "b" || items[0].Subject.Properties != nil || items[0].Resource.ID != "1" || items[0].Resource.Properties["s"] != "x" {
		t.Fatalf("overriding item %+v %+v %v", items[0].Subject, items[0].Resource, items[0].Err)
	}
	var fe *FieldError
	if !errors.As(items[1].Err, &fe) || fe.Field != "evaluations[1].resource.id" || !errors.As(items[2].Err, &fe) || fe.Field != "evaluations[2].resource.type" {
		t.Fatalf("item errors %v, %v", items[1].Err, items[2].Err)
	}
	if items[3].Err != nil || items[3].Resource.ID != "9" || items[3].Subject.Properties["role"] != "admin" {
		t.Fatalf("defaults item %+v %v", items[3], items[3].Err)
	}
	for _, tc := range []struct{ body, field string }{
		{`{"subject":{"type":"user","id":"a"},"action":{"name":"r"},"resource":{"type":"t","id":"1"},"options":{"evaluations_semantic":"first"}}`, "options.evaluations_semantic"},
		{`{"subject":{"type":"user","id":"a"},"action":{"name":"r"}}`, "resource"},
		{`{"subject":{"type":"user","id":"a"},"action":{"name":"r"},"evaluations":[]}`, "resource"},
	} {
		_, _, _, err := DecodeEvaluations([]byte(tc.body))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%s: %v, want field %q", tc.body, err, tc.field)
		}
	}
}
