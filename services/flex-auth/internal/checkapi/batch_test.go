package checkapi

import (
	"errors"
	"testing"
)

func FuzzDecodeEvaluations(f *testing.F) {
	f.Add([]byte(`{"subject":{"type":"user","id":"a"},"action":{"name":"r"},"evaluations":[{"resource":{"type":"t","id":"1","properties":{"o":[1,{"x":null}]}}}],"options":{"evaluations_semantic":"deny_on_first_deny"}}`))
	f.Add([]byte(`{"subject":{"type":"user","id":"a"},"action":{"name":"r"},"resource":{"type":"t","id":"1"}}`))
	f.Add([]byte(`{"evaluations":[]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		items, sem, single, err := DecodeEvaluations(body)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field == "" {
				t.Fatalf("error %v (%T) is not a FieldError", err, err)
			}
			return
		}
		if len(items) == 0 || (single && len(items) != 1) || sem == "" {
			t.Fatalf("%d items, single %v, semantic %q", len(items), single, sem)
		}
		for _, it := range items {
			if (it.Err == nil) != (it.Check("") == nil) {
				t.Fatalf("item error %v does not match its members: %+v", it.Err, it.Evaluation)
			}
			if single && it.Err != nil {
				t.Fatal("a single evaluation with an error was accepted")
			}
		}
	})
}

func FuzzDecodeSearch(f *testing.F) {
	f.Add(SearchSubject, []byte(`{"subject":{"type":"user"},"action":{"name":"r"},"resource":{"type":"t","id":"1"},"page":{"limit":2,"token":"MTo"}}`))
	f.Add(SearchAction, []byte(`{"subject":{"type":"user","id":"a"},"resource":{"type":"t","id":"1"}}`))
	f.Add(SearchResource, []byte(`{"subject":{"type":"user","id":"a"},"action":{"name":"r"},"resource":{"type":"t"}}`))
	f.Fuzz(func(t *testing.T, kind string, body []byte) {
		q, err := DecodeSearch(kind, body)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field == "" {
				t.Fatalf("error %v (%T) is not a FieldError", err, err)
			}
			return
		}
		if q.Subject == nil || q.Resource == nil || q.Limit() < 1 || q.Limit() > MaxPageLimit {
			t.Fatalf("accepted %+v", q)
		}
		if _, err := q.Offset("state"); err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != "page.token" {
				t.Fatalf("token error %v", err)
			}
		}
	})
}

func TestPageTokenRoundTrip(t *testing.T) {
	q := &Search{Page: &Page{Token: PageToken(42, "s1")}}
	if off, err := q.Offset("s1"); err != nil || off != 42 {
		t.Fatalf("%d %v", off, err)
	}
	if _, err := q.Offset("s2"); err == nil {
		t.Fatal("a token of another state was accepted")
	}
}
