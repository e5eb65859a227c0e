package jsonenc

import (
	"bytes"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// options are the escaping options of the answers and the log lines.
var options = json.JoinOptions(jsontext.EscapeForHTML(true), jsontext.EscapeForJS(true), jsontext.AllowInvalidUTF8(true))

func reflective(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v, options)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var strings = []string{
	"", "plain", `quote " and \ backslash`, "<script>&amp;</script>",
	"tab\tnew\nline\rret\bback\fform", "\x00\x01\x1f\x7f", "é ü 日本 🎉",
	"line\u2028sep\u2029para", "bad \xff utf8 \xc3", "\xed\xa0\x80 surrogate", "trail\xe2\x80",
}

func TestStringMatchesEncoder(t *testing.T) {
	for _, s := range strings {
		if got, want := String(nil, s), reflective(t, s); !bytes.Equal(got, want) {
			t.Errorf("String(%q) = %s, want %s", s, got, want)
		}
	}
}

func TestTimeMatchesEncoder(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(2026, 12, 8, 1, 2, 3, 0, time.UTC),
		time.Date(2026, 12, 8, 1, 2, 3, 120000000, time.UTC),
		time.Date(2026, 12, 8, 1, 2, 3, 123456789, time.UTC),
		time.Date(2026, 12, 8, 1, 2, 3, 5, time.FixedZone("x", 5400)),
	} {
		if got, want := Time(nil, tm), reflective(t, tm); !bytes.Equal(got, want) {
			t.Errorf("Time(%v) = %s, want %s", tm, got, want)
		}
	}
}

func TestMembers(t *testing.T) {
	b := append([]byte(nil), '{')
	b = StringMember(b, "a", "x<")
	b = Int(Member(b, "n"), -12)
	b = Bool(Member(b, "ok"), true)
	b = append(b, '}')
	if want := `{"a":"x\u003c","n":-12,"ok":true}`; string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
}

func FuzzString(f *testing.F) {
	for _, s := range strings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := String([]byte("prefix"), s), append([]byte("prefix"), reflective(t, s)...); !bytes.Equal(got, want) {
			t.Errorf("String(%q) = %s, want %s", s, got, want)
		}
	})
}
