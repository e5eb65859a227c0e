package openapitest

import (
	"net/http"
	"slices"
	"testing"
)

// failT records failures instead of ending the test, so that a check
// can be asserted to fail.
type failT struct {
	testing.TB
	failed bool
}

func (f *failT) Helper()               {}
func (f *failT) Errorf(string, ...any) { f.failed = true }
func (f *failT) Fatalf(string, ...any) { f.failed = true; panic(f) }
func (f *failT) Fatal(...any)          { f.failed = true; panic(f) }
func (f *failT) Logf(string, ...any)   {}
func (f *failT) Cleanup(func())        {}

func fails(t *testing.T, check func(testing.TB)) bool {
	t.Helper()
	f := &failT{TB: t}
	func() {
		defer func() {
			if r := recover(); r != nil && r != f {
				panic(r)
			}
		}()
		check(f)
	}()
	return f.failed
}

func TestValidate(t *testing.T) {
	s := Load(t, "testdata/spec.yaml")
	item := []byte(`{"id":"6f1d7c1e-2b7a-4c55-9a43-7d3c0c1c2b4e"}`)
	ok := func(status int, ct, etag string) *http.Response {
		h := http.Header{"Content-Type": {ct}}
		if etag != "" {
			h.Set("ETag", etag)
		}
		return &http.Response{StatusCode: status, Header: h}
	}
	for _, tc := range []struct {
		name  string
		check func(testing.TB)
		fails bool
	}{
		{"valid item", func(t testing.TB) {
			s.ValidateResponse(t, "GET", "/items/{id}", ok(200, "application/json; charset=utf-8", `"1"`), item)
		}, false},
		{"missing required header", func(t testing.TB) {
			s.ValidateResponse(t, "GET", "/items/{id}", ok(200, "application/json", ""), item)
		}, true},
		{"format asserted", func(t testing.TB) {
			s.Validate(t, "GET", "/items/{id}", 200, "application/json", []byte(`{"id":"x"}`))
		}, true},
		{"missing member", func(t testing.TB) { s.Validate(t, "GET", "/items/{id}", 200, "application/json", []byte(`{}`)) }, true},
		{"status not in the spec", func(t testing.TB) { s.Validate(t, "GET", "/items/{id}", 500, "application/json", item) }, true},
		{"route not in the spec", func(t testing.TB) { s.Validate(t, "GET", "/nothing", 200, "application/json", item) }, true},
		{"media type not in the spec", func(t testing.TB) { s.Validate(t, "GET", "/items/{id}", 200, "text/html", item) }, true},
		{"shared response by $ref", func(t testing.TB) {
			s.Validate(t, "GET", "/items/{id}", 404, "application/problem+json", []byte(`{"status":404}`))
		}, false},
		{"shared response by $ref, invalid", func(t testing.TB) {
			s.Validate(t, "GET", "/items/{id}", 404, "application/problem+json", []byte(`{"status":"x"}`))
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := fails(t, tc.check); got != tc.fails {
				t.Errorf("failed = %v, want %v", got, tc.fails)
			}
		})
	}
	if got, want := s.Uncovered(), []string{"GET /metrics"}; !slices.Equal(got, want) {
		t.Errorf("Uncovered = %v, want %v", got, want)
	}
	s.Validate(t, "GET", "/metrics", 200, "text/plain; version=0.0.4", []byte("up 1\n"))
	if got := s.Uncovered(); len(got) != 0 {
		t.Errorf("Uncovered = %v after /metrics", got)
	}
	if sch := s.Schema(t, "Item"); sch.Validate(map[string]any{}) == nil {
		t.Error("Item schema accepted an object without id")
	}
	if Dig(s.Doc, "components", "schemas", "Item", "type") != "object" || Dig(s.Doc, "nothing", "here") != nil {
		t.Error("Dig")
	}
}
