package yamljson

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestToJSON(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a: 1\nb: [x, 2.5, true, null]\n", `{"a":1,"b":["x",2.5,true,null]}`},
		{`{"a": {"b": "c"}}`, `{"a":{"b":"c"}}`},
		{"1: one\ntrue: yes\n", `{"1":"one","true":"yes"}`},
		{"when: 2026-01-02\n", `{"when":"2026-01-02"}`},
		{"list:\n  - {1: a}\n", `{"list":[{"1":"a"}]}`},
		{"", `null`},
		{"a: 1\n---\nb: 2\n", `{"a":1}`},
		{"base: &b {x: 1}\nd:\n  <<: *b\n  y: 2\n", `{"base":{"x":1},"d":{"x":1,"y":2}}`},
		{"at: 2026-01-02T03:04:05Z\nn: 0x10\nyes: on\n", `{"at":"2026-01-02T03:04:05Z","n":16,"yes":"on"}`},
	} {
		got, err := ToJSON([]byte(tc.in))
		if err != nil || string(got) != tc.want {
			t.Errorf("%q: %s %v, want %s", tc.in, got, err, tc.want)
		}
	}
}

func TestToJSONRefuses(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a: 1\na: 2\n", `mapping key "a" already defined`},
		{"a: [1\n", "did not find expected"},
		{"a: *nothing\n", "unknown anchor"},
		{"\t- x", "found character that cannot start any token"},
	} {
		if _, err := ToJSON([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want an error with %q", tc.in, err, tc.want)
		}
	}
}

func TestUnmarshalStrict(t *testing.T) {
	var v struct {
		Name string `json:"name"`
	}
	if err := Unmarshal([]byte("name: x\nother: 1\n"), &v); err != nil || v.Name != "x" {
		t.Fatalf("Unmarshal: %+v %v", v, err)
	}
	if err := UnmarshalStrict([]byte("name: x\nother: 1\n"), &v); err == nil || !strings.Contains(err.Error(), `unknown field "other"`) {
		t.Fatalf("UnmarshalStrict: %v", err)
	}
}

// FuzzToJSON: any input converts to valid JSON or is an error, never a
// panic.
func FuzzToJSON(f *testing.F) {
	for _, s := range []string{"a: 1\n", "{x: [1, {2: y}]}", "a: &x 1\nb: *x\n", "- !!binary aGk=\n", "a: 1\na: 2\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		js, err := ToJSON(src)
		if err == nil && !json.Valid(js) {
			t.Fatalf("%q: invalid JSON %s", src, js)
		}
	})
}
