package plans

import (
	"errors"
	"strings"
	"testing"
)

type scopeCase struct {
	Name   string     `yaml:"name"`
	Scopes []string   `yaml:"scopes"`
	Repeat int        `yaml:"repeat"`
	Want   []Resource `yaml:"want"`
	Error  *struct {
		Kind   string `yaml:"kind"`
		Reason string `yaml:"reason"`
		Scope  string `yaml:"scope"`
	} `yaml:"error"`
}

func TestParseScopes(t *testing.T) {
	var cases []scopeCase
	loadYAML(t, "scopes.yaml", &cases)
	if len(cases) == 0 {
		t.Fatal("no cases in testdata/scopes.yaml")
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			values := tc.Scopes
			for i := 1; i < tc.Repeat; i++ {
				values = append(values, tc.Scopes...)
			}
			got, err := ParseScopes(values)
			if tc.Error == nil {
				if err != nil {
					t.Fatalf("ParseScopes(%q): unexpected error %v", values, err)
				}
				if got == nil || !equalResources(got, tc.Want) {
					t.Fatalf("ParseScopes(%q)\n got %v\nwant %v", values, got, tc.Want)
				}
				return
			}
			if got != nil {
				t.Errorf("ParseScopes returned %v along with an error", got)
			}
			switch tc.Error.Kind {
			case "too_many":
				if !errors.Is(err, ErrTooManyScopes) {
					t.Fatalf("got %v, want ErrTooManyScopes", err)
				}
				if errors.Is(err, ErrInvalidScope) {
					t.Fatalf("ErrTooManyScopes must be distinct from ErrInvalidScope")
				}
			case "invalid":
				var se *ScopeError
				if !errors.As(err, &se) {
					t.Fatalf("got %v (%T), want *ScopeError", err, err)
				}
				if !errors.Is(err, ErrInvalidScope) {
					t.Errorf("*ScopeError does not match ErrInvalidScope")
				}
				if se.Reason != tc.Error.Reason {
					t.Errorf("reason %q, want %q", se.Reason, tc.Error.Reason)
				}
				if tc.Error.Scope != "" && se.Scope != tc.Error.Scope {
					t.Errorf("scope %q, want %q", se.Scope, tc.Error.Scope)
				}
				if len(se.Scope) > maxQuoted+len("...") {
					t.Errorf("scope in error is %d bytes long", len(se.Scope))
				}
			default:
				t.Fatalf("bad case: error kind %q", tc.Error.Kind)
			}
		})
	}
}

func TestResourceStringRoundTrip(t *testing.T) {
	in := []string{
		"repository:localhost:5000/a/b:pull,push",
		"registry:catalog:*",
		"repository:x:*",
	}
	rs, err := ParseScopes(in)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		if r.String() != in[i] {
			t.Errorf("String() = %q, want %q", r.String(), in[i])
		}
	}
}

func TestScopeErrorTruncatesSafely(t *testing.T) {
	// A multi-byte rune straddles the truncation point.
	long := "repository:" + strings.Repeat("a", maxQuoted-12) + "é" + strings.Repeat("b", 100) + ":pull"
	_, err := ParseScopes([]string{long})
	var se *ScopeError
	if !errors.As(err, &se) {
		t.Fatalf("got %v, want *ScopeError", err)
	}
	if !strings.HasSuffix(se.Scope, "...") || !strings.HasPrefix(long, strings.TrimSuffix(se.Scope, "...")) {
		t.Fatalf("scope %q is not a marked prefix of the input", se.Scope)
	}
	if strings.ContainsRune(se.Scope, '\uFFFD') || strings.Contains(se.Error(), `\x`) {
		t.Fatalf("truncation split a rune: %q", se.Error())
	}
}

func TestParseScopesTooLong(t *testing.T) {
	_, err := ParseScopes([]string{"repository:a:" + strings.Repeat("pull,", MaxScopeLength/5) + "pull"})
	var se *ScopeError
	if !errors.As(err, &se) || !strings.Contains(se.Reason, "longer than") {
		t.Fatalf("got %v, want a too-long *ScopeError", err)
	}
}

// TestParseScopesBoundsWork checks that a flood of scope parameters is
// refused before anything is parsed or allocated per scope.
func TestParseScopesBoundsWork(t *testing.T) {
	values := make([]string, 10000)
	for i := range values {
		values[i] = "repository:library/alpine:pull"
	}
	allocs := testing.AllocsPerRun(10, func() {
		if _, err := ParseScopes(values); !errors.Is(err, ErrTooManyScopes) {
			t.Fatalf("got %v, want ErrTooManyScopes", err)
		}
	})
	if allocs != 0 {
		t.Fatalf("ParseScopes allocated %v times for a refused flood", allocs)
	}
}
