package plans

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParseScopes feeds two scope parameter values to the parser and checks
// what every accepted result must satisfy.
func FuzzParseScopes(f *testing.F) {
	f.Add("repository:library/alpine:pull", "")
	f.Add("repository:localhost:5000/a/b:pull,push registry:catalog:*", "repository(plugin):x/y:*")
	f.Add("repository:a:pull repository:a:push", "repository:a:delete,pull")
	f.Add(":x:pull", "repository::")
	f.Fuzz(func(t *testing.T, a, b string) {
		got, err := ParseScopes([]string{a, b})
		if err != nil {
			var se *ScopeError
			switch {
			case errors.Is(err, ErrTooManyScopes):
			case errors.As(err, &se):
				if !errors.Is(err, ErrInvalidScope) || se.Reason == "" || len(se.Scope) > maxQuoted+3 {
					t.Fatalf("bad ScopeError %+v", se)
				}
			default:
				t.Fatalf("untyped error %T: %v", err, err)
			}
			if got != nil {
				t.Fatalf("result %v with error %v", got, err)
			}
			return
		}
		if len(got) > MaxScopes {
			t.Fatalf("%d resources accepted", len(got))
		}
		rendered := make([]string, 0, len(got))
		for i, r := range got {
			checkResource(t, r)
			for _, o := range got[:i] {
				if o.Type == r.Type && o.Name == r.Name {
					t.Fatalf("resource %s:%s not merged", r.Type, r.Name)
				}
			}
			rendered = append(rendered, r.String())
		}
		// Rendering and parsing again is the identity.
		again, err := ParseScopes([]string{strings.Join(rendered, " ")})
		if err != nil || !equalResources(again, got) {
			t.Fatalf("re-parse of %q: %v, %v; want %v", rendered, again, err, got)
		}
	})
}

func checkResource(t *testing.T, r Resource) {
	t.Helper()
	if len(r.Actions) == 0 {
		t.Fatalf("%v has no actions", r)
	}
	for i, a := range r.Actions {
		if contains(r.Actions[:i], a) {
			t.Fatalf("%v repeats action %q", r, a)
		}
	}
	switch r.Type {
	case TypeRepository:
		if !ValidName(r.Name) {
			t.Fatalf("invalid name accepted: %q", r.Name)
		}
		if requestedActions(r.Actions) == 0 {
			t.Fatalf("%v has no known action", r)
		}
	case TypeRegistry:
		if r.Name != NameCatalog || len(r.Actions) != 1 || r.Actions[0] != ActionAll {
			t.Fatalf("unexpected registry resource %v", r)
		}
	default:
		t.Fatalf("unexpected type in %v", r)
	}
}

// FuzzCompilePattern checks that every accepted pattern matches the names it
// describes and nothing one segment longer or shorter.
func FuzzCompilePattern(f *testing.F) {
	f.Add("stella-ops/public/*")
	f.Add("org7/*/base")
	f.Add("registry.example.com:5000/*/*")
	f.Add("a//b")
	f.Add("foo*/bar")
	f.Fuzz(func(t *testing.T, pattern string) {
		cat, err := NewCatalog(map[string][]Rule{"p": {{Repository: pattern, Actions: []string{ActionPush}}}})
		if err != nil {
			var re *RuleError
			if !errors.As(err, &re) || re.Plan != "p" || re.Index != 0 || re.Pattern != pattern || re.Reason == "" {
				t.Fatalf("bad error for %q: %v", pattern, err)
			}
			return
		}
		p, _ := cat.Plan("p")
		segs := strings.Split(pattern, "/")
		for i, s := range segs {
			if s == wildcard {
				segs[i] = "x"
			}
		}
		name := strings.Join(segs, "/")
		if !ValidName(name) {
			t.Fatalf("pattern %q accepted but its instance %q is no valid name", pattern, name)
		}
		if got := p.Entitled(name); len(got) != 1 || got[0] != ActionPush {
			t.Fatalf("pattern %q: Entitled(%q) = %v", pattern, name, got)
		}
		if got := p.Entitled(name + "/x"); got != nil {
			t.Fatalf("pattern %q matched the longer %q", pattern, name+"/x")
		}
		if i := strings.LastIndexByte(name, '/'); i > 0 {
			if got := p.Entitled(name[:i]); got != nil {
				t.Fatalf("pattern %q matched the shorter %q", pattern, name[:i])
			}
		}
	})
}
