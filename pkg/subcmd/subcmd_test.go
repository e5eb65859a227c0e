package subcmd

import (
	"bytes"
	"testing"
)

func TestFind(t *testing.T) {
	table := Table[string]{
		"serve":           {Usage: "[--addr ADDR]", Summary: "serve", Run: "serve"},
		"policy validate": {Usage: "FILE...", Summary: "check", Run: "validate"},
		"policy":          {Summary: "one word", Run: "policy"},
	}
	cases := []struct {
		args []string
		want string
		rest int
		ok   bool
	}{
		{args: []string{"serve", "--addr", ":1"}, want: "serve", rest: 2, ok: true},
		{args: []string{"policy", "validate", "a.md"}, want: "validate", rest: 1, ok: true},
		{args: []string{"policy", "other"}, want: "policy", rest: 1, ok: true},
		{args: []string{"frobnicate"}},
		{args: nil},
	}
	for _, tc := range cases {
		c, rest, ok := table.Find(tc.args)
		if ok != tc.ok || c.Run != tc.want || len(rest) != tc.rest {
			t.Errorf("Find(%q) = %q, %q, %v; want %q, %d more, %v", tc.args, c.Run, rest, ok, tc.want, tc.rest, tc.ok)
		}
	}
}

func TestPrintUsage(t *testing.T) {
	var b bytes.Buffer
	Table[int]{"serve": {Usage: "[--addr ADDR]", Summary: "run it"}, "jwks": {Usage: "[--config FILE]", Summary: "print keys"}}.PrintUsage(&b, "svc")
	want := "usage: svc <command> [arguments]\n\ncommands:\n  jwks [--config FILE]\n      print keys\n  serve [--addr ADDR]\n      run it\n"
	if b.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	for _, a := range []string{"help", "-h", "-help", "--help"} {
		if !IsHelp(a) {
			t.Errorf("IsHelp(%q) = false", a)
		}
	}
	if IsHelp("serve") {
		t.Error("IsHelp(serve) = true")
	}
}
