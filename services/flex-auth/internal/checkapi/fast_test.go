package checkapi

import (
	"reflect"
	"testing"
	"unicode/utf8"
)

var fastSeeds = []string{
	`{"actor":"agt-state-hub-bridge","subject":"iam:agt-state-hub-bridge","ttl_hours":24}`,
	` {"actor":"a","subject":"iam:a","action":"ssh.sign","principal":"p","resource":"r","context":{"k":1,"f":2.5,"e":-1e3,"b":false,"t":true,"n":null,"s":"x","":0}} `,
	`{"actor":"a","context":{}}`, `{"actor":"a","context":null}`, `{"actor":"a","ttl_hours":-0}`,
	`{"actor":"a","context":{"big":123456789012345678901234567890}}`,
	`{"actor":"a","context":{"k":1,"k":2}}`, `{"actor":"a","actor":"b"}`, `{"Actor":"a"}`,
	`{"actor":"a","ttl_hours":1.0}`, `{"actor":"a","ttl_hours":null}`, `{"actor":null}`, `{"actor":""}`,
	`{"actor":"a\u0062"}`, `{"actor":"a","context":{"k":01}}`, `{"actor":"a","context":{"k":1.}}`,
	`{"actor":"a","context":{"k":1e400}}`, `{"actor":"a","context":{"k":truex}}`, `{"actor":"a",}`,
	`{"actor":"a"}x`, `{"actor":"a"} {}`, `{"actor":"a","context":{"k":[1]}}`, `{"actor":"a" "b"}`,
	"{\"actor\":\"a\tb\"}", `{}`, `{"actor":"\u2028"}`, "{\"actor\":\"\u2028<&>\"}",
}

// TestFastDecodeAgreesWithStrict: whatever the one-pass decoder accepts,
// the strict decoder accepts with the same result.
func TestFastDecodeAgreesWithStrict(t *testing.T) {
	accepted := 0
	for _, s := range fastSeeds {
		if agree(t, []byte(s)) {
			accepted++
		}
	}
	if accepted < 6 {
		t.Fatalf("the fast path accepted only %d of the seeds", accepted)
	}
}

func FuzzFastDecodeAgreesWithStrict(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) { agree(t, body) })
}

func agree(t *testing.T, body []byte) bool {
	t.Helper()
	var fast Request
	if !utf8.Valid(body) { // Decode refuses it before either decoder
		return false
	}
	if !decodeFast(body, &fast) || fast.Actor == "" {
		return false
	}
	strict, err := decodeStrict(body)
	if err != nil {
		t.Fatalf("%q: fast path accepted %+v, strict decoder says %v", body, fast, err)
	}
	if !reflect.DeepEqual(fast, strict) {
		t.Fatalf("%q:\nfast   %+v\nstrict %+v", body, fast, strict)
	}
	return true
}
