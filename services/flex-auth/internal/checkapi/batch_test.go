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
	f.Add(SearchSubject, []byte(`{"subject":{"type":"user"},"action":{"name":"r"},"resource":{"type":"t","id":"1"},"page":{"limit":2,"token":"MTo.eA"}}`))
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
		if q.Subject == nil || q.Resource == nil || (q.Page != nil && q.Page.Limit < 0) {
			t.Fatalf("accepted %+v", q)
		}
		if c, err := testPager().Cursor(q, "state", "caller"); err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || (fe.Field != "page.token" && fe.Field != "page.limit") {
				t.Fatalf("token error %v", err)
			}
		} else if c.Max() < 1 || c.Max() > MaxPageLimit {
			t.Fatalf("page size %d", c.Max())
		}
	})
}

// AuthZEN 1.0 §8.2: "When a request contains a token, all entities (e.g.,
// subject, resource, action, context) and pagination parameters (e.g.,
// limit) MUST be identical to the preceding request. PDPs SHOULD return
// an error when any entity or parameter has been changed."
func TestPageTokenBoundToRequest(t *testing.T) {
	first := `{"subject":{"type":"user","id":"ignored"},"action":{"name":"read"},"resource":{"type":"doc","id":"1"},"context":{"a":1},"page":{"limit":2}}`
	q, err := DecodeSearch(SearchSubject, []byte(first))
	if err != nil {
		t.Fatal(err)
	}
	cur, err := testPager().Cursor(q, "s1", "caller")
	if err != nil || cur.Offset != 0 || cur.Max() != 2 {
		t.Fatalf("%+v %v", cur, err)
	}
	token := testPager().Token(q, cur, 42, "s1", "caller")
	follow := func(body string) (Cursor, error) {
		t.Helper()
		q, err := DecodeSearch(SearchSubject, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return testPager().Cursor(q, "s1", "caller")
	}
	// the same request, and one that leaves the limit out (it keeps the
	// first one), and one whose searched id differs (it is ignored)
	for _, body := range []string{
		`{"subject":{"type":"user"},"action":{"name":"read"},"resource":{"type":"doc","id":"1"},"context":{"a":1},"page":{"limit":2,"token":"` + token + `"}}`,
		`{"subject":{"type":"user","id":"other"},"action":{"name":"read"},"resource":{"type":"doc","id":"1"},"context":{"a":1},"page":{"token":"` + token + `"}}`,
	} {
		if c, err := follow(body); err != nil || c.Offset != 42 || c.Max() != 2 {
			t.Fatalf("%s: %+v %v", body, c, err)
		}
	}
	for _, tc := range []struct{ body, field string }{
		{`{"subject":{"type":"user"},"action":{"name":"write"},"resource":{"type":"doc","id":"1"},"context":{"a":1},"page":{"token":"` + token + `"}}`, "page.token"},
		{`{"subject":{"type":"user"},"action":{"name":"read"},"resource":{"type":"doc","id":"2"},"context":{"a":1},"page":{"token":"` + token + `"}}`, "page.token"},
		{`{"subject":{"type":"group"},"action":{"name":"read"},"resource":{"type":"doc","id":"1"},"context":{"a":1},"page":{"token":"` + token + `"}}`, "page.token"},
		{`{"subject":{"type":"user"},"action":{"name":"read"},"resource":{"type":"doc","id":"1"},"context":{"a":2},"page":{"token":"` + token + `"}}`, "page.token"},
		{`{"subject":{"type":"user"},"action":{"name":"read"},"resource":{"type":"doc","id":"1"},"page":{"token":"` + token + `"}}`, "page.token"},
		{`{"subject":{"type":"user"},"action":{"name":"read"},"resource":{"type":"doc","id":"1"},"context":{"a":1},"page":{"limit":3,"token":"` + token + `"}}`, "page.limit"},
		{`{"subject":{"type":"user"},"action":{"name":"read"},"resource":{"type":"doc","id":"1"},"context":{"a":1},"page":{"token":"bm90LWEtdG9rZW4"}}`, "page.token"},
	} {
		_, err := follow(tc.body)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%s: got %v, want an error on %s", tc.body, err, tc.field)
		}
	}
	// a first request without a limit and a follow-up naming the default
	// ask for the same page size
	q0, err := DecodeSearch(SearchSubject, []byte(`{"subject":{"type":"user"},"action":{"name":"read"},"resource":{"type":"doc","id":"1"}}`))
	if err != nil {
		t.Fatal(err)
	}
	c0, _ := testPager().Cursor(q0, "s1", "caller")
	q0.Page = &Page{Token: testPager().Token(q0, c0, 7, "s1", "caller"), Limit: DefaultPageLimit}
	if c, err := testPager().Cursor(q0, "s1", "caller"); err != nil || c.Offset != 7 {
		t.Fatalf("default limit named on a follow-up: %+v %v", c, err)
	}
	if _, err := testPager().Cursor(q, "s2", "caller"); err != nil {
		t.Fatal(err) // no token: any state
	}
	q.Page.Token = token
	if _, err := testPager().Cursor(q, "s2", "caller"); err == nil {
		t.Fatal("a token of another state was accepted")
	}
}

// AuthZEN 1.0 §8.2.1: limit is "A non-negative integer indicating the
// maximum number of results to return"; a PDP may return fewer (with a
// next_token), so a large limit is capped, not refused.
func TestPageLimit(t *testing.T) {
	for in, want := range map[string]int{`{}`: DefaultPageLimit, `{"limit":0}`: DefaultPageLimit, `{"limit":1}`: 1, `{"limit":5000}`: MaxPageLimit} {
		q, err := DecodeSearch(SearchAction, []byte(`{"subject":{"type":"u","id":"a"},"resource":{"type":"t","id":"1"},"page":`+in+`}`))
		if err != nil {
			t.Fatal(err)
		}
		if c, err := testPager().Cursor(q, "s", "caller"); err != nil || c.Max() != want {
			t.Errorf("%s: %d %v, want %d", in, c.Max(), err, want)
		}
	}
	_, err := DecodeSearch(SearchAction, []byte(`{"subject":{"type":"u","id":"a"},"resource":{"type":"t","id":"1"},"page":{"limit":-1}}`))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "page.limit" {
		t.Fatalf("negative limit: %v", err)
	}
}

// testPager signs with a fixed key, as replicas sharing a key file do.
func testPager() *Pager {
	p, err := NewPager([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		panic(err)
	}
	return p
}
