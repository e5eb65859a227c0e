package checkapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

type bytesBuffer struct{ bytes.Buffer }

// FuzzDecode: any input either decodes to a request with an actor and
// scalar context that survives a JSON round trip, or is a FieldError.
// Never a panic, never another error type.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"actor":"agt-state-hub-bridge","ttl_hours":24}`,
		`{"actor":"a","subject":"iam:a","action":"ssh.sign","principal":"p","resource":"r","context":{"k":1,"f":2.5,"b":false,"n":null}}`,
		`{"actor":"a","context":{"k":{"x":1}}}`,
		`{"actor":"a"} trailing`,
		`{"actor":1}`,
		`[]`, `null`, `{`, "\xff",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := Decode(body)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field == "" || fe.Problem == "" {
				t.Fatalf("error %v (%T) is not a FieldError", err, err)
			}
			return
		}
		if req.Actor == "" {
			t.Fatal("decoded a request without an actor")
		}
		out, err := json.Marshal(req)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		again, err := Decode(out)
		if err != nil {
			t.Fatalf("re-decode %s: %v", out, err)
		}
		if !reflect.DeepEqual(normalize(req), normalize(again)) {
			t.Fatalf("round trip changed the request:\n%+v\n%+v", req, again)
		}
	})
}

// normalize makes integral float64 context values (a number written as
// 1e2 decodes to float64 100) compare equal to the int64 that decoding
// their re-encoded form (100) produces.
func normalize(r Request) Request {
	for k, v := range r.Context {
		if f, ok := v.(float64); ok && f == float64(int64(f)) {
			r.Context[k] = int64(f)
		}
	}
	if len(r.Context) == 0 {
		r.Context = nil
	}
	return r
}
