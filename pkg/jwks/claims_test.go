package jwks

import (
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"
)

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTimeClaims: exp is required and every time claim must be a JSON
// number; a string that looks like a number is refused.
func TestTimeClaims(t *testing.T) {
	now := testNow
	exp := now.Add(time.Minute).Unix()
	cases := []struct {
		name   string
		claims string
		want   error
	}{
		{"exp only", `{"exp":` + itoa(exp) + `}`, nil},
		{"exp nbf iat", `{"exp":` + itoa(exp) + `,"nbf":` + itoa(now.Unix()) + `,"iat":` + itoa(now.Unix()) + `}`, nil},
		{"fractional exp", `{"exp":` + itoa(exp) + `.5}`, nil},
		{"no exp", `{"iat":` + itoa(now.Unix()) + `}`, ErrNoExpiry},
		{"no time claims at all", `{}`, ErrNoExpiry},
		{"exp null", `{"exp":null}`, ErrNoExpiry},
		{"exp a string", `{"exp":"9999999999"}`, ErrTimeClaim},
		{"exp a boolean", `{"exp":true}`, ErrTimeClaim},
		{"exp an object", `{"exp":{"v":1}}`, ErrTimeClaim},
		{"exp negative", `{"exp":-1}`, ErrTimeClaim},
		{"exp beyond year 5000", `{"exp":1e12}`, ErrTimeClaim},
		{"nbf a string", `{"exp":` + itoa(exp) + `,"nbf":"0"}`, ErrTimeClaim},
		{"iat a string", `{"exp":` + itoa(exp) + `,"iat":"0"}`, ErrTimeClaim},
		{"expired", `{"exp":` + itoa(now.Add(-10*time.Second).Unix()) + `}`, ErrExpired},
		{"nbf in the future", `{"exp":` + itoa(exp) + `,"nbf":` + itoa(now.Add(30*time.Second).Unix()) + `}`, ErrNotYetValid},
		{"iat in the future", `{"exp":` + itoa(exp) + `,"iat":` + itoa(now.Add(30*time.Second).Unix()) + `}`, ErrNotYetValid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var tcl TimeClaims
			if err := json.Unmarshal([]byte(tc.claims), &tcl); err != nil {
				t.Fatal(err)
			}
			_, err := tcl.Check(now, 5*time.Second)
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// FuzzNumericDate: no input panics, and an accepted value is a JSON number.
func FuzzNumericDate(f *testing.F) {
	for _, s := range []string{`1`, `"1"`, `1.5`, `-0`, `1e11`, `null`, `true`, `[]`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, err := NumericDate("exp", b)
		if err == nil && !ts.IsZero() {
			var f float64
			if json.Unmarshal(b, &f) != nil {
				t.Fatalf("accepted %q, which is not a JSON number", b)
			}
		}
	})
}
