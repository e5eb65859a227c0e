package dpop

import (
	"strings"
	"testing"
)

// claimPayloads are proof payloads for the scanner: the usual ones, which
// scanClaims reads, and every way one can be unusual or wrong.
var claimPayloads = []string{
	`{"jti":"j1","htm":"GET","htu":"https://rt.example.com/token","iat":1700000000,"ath":"abc"}`,
	` { "htm" : "GET" , "htu":"https://rt.example.com/token","jti":"j","iat":1700000000.25, "nonce":"n" } `,
	`{"jti":"j","htm":"GET","htu":"u","iat":1.7e9,"x":null,"y":true,"z":false,"w":-0.5E+3}`,
	`{"jti":"j","htm":"GET","htu":"u","iat":1700000000,"extra":{"nested":[1,2]}}`,
	`{"jti":"j\u0041","htm":"GET","htu":"u","iat":1700000000}`,
	`{"jti":"é","htm":"GET","htu":"u","iat":1700000000}`,
	"{\"jti\":\"\xff\",\"htm\":\"GET\",\"htu\":\"u\",\"iat\":1700000000}",
	`{"jti":"a","jti":"b","htm":"GET","htu":"u","iat":1700000000}`,
	`{"JTI":"a","htm":"GET","htu":"u","iat":1700000000}`,
	`{"jti":"","htm":"GET","htu":"u","iat":1700000000}`,
	`{"jti":"` + strings.Repeat("j", MaxJTILength+1) + `","htm":"GET","htu":"u","iat":1700000000}`,
	`{"jti":"j","htm":1,"htu":"u","iat":1700000000}`,
	`{"jti":"j","htm":"GET","htu":null,"iat":1700000000}`,
	`{"jti":"j","htm":"GET","htu":"u","iat":"1700000000"}`,
	`{"jti":"j","htm":"GET","htu":"u","iat":-1}`,
	`{"jti":"j","htm":"GET","htu":"u","iat":99999999999999999999}`,
	`{"jti":"j","htm":"GET","htu":"u","iat":01}`,
	`{"jti":"j","htm":"GET","htu":"u","iat":1.}`,
	`{"jti":"j","htm":"GET","htu":"u","iat":1e}`,
	`{"jti":"j","htm":"GET","htu":"u","iat":1700000000,"ath":5}`,
	`{"jti":"j","htm":"GET","htu":"u","iat":1700000000,"nonce":null}`,
	`{"jti":"j","htm":"GET","htu":"u","iat":1700000000,}`,
	`{"jti":"j","htm":"GET","htu":"u","iat":1700000000} x`,
	`{"jti":"j","htm":"GET","htu":"u","iat":1700000000}}`,
	`{"jti":"j" "htm":"GET"}`,
	`{"jti" "j"}`,
	`{"jti":tru}`,
	`{}`, ` {} `, `{`, `}`, `[]`, `null`, `"s"`, ``, `{"a":"b\"}`, "{\"a\":\"\t\"}",
}

// The scanner and encoding/json agree on every payload above.
func TestDecodeClaimsAgreesWithEncodingJSON(t *testing.T) {
	scanned := 0
	for _, p := range claimPayloads {
		checkDecodeClaims(t, []byte(p))
		if scanClaims([]byte(p), &claimValues{}) {
			scanned++
		}
	}
	if scanned < 10 {
		t.Fatalf("only %d payloads took the scanner", scanned)
	}
}

// The usual payload takes the scanner, and a repeated claim does not.
func TestScanClaims(t *testing.T) {
	var v claimValues
	if !scanClaims([]byte(claimPayloads[0]), &v) || string(v.iat) != "1700000000" || string(v.jti) != `"j1"` || v.nonce != nil {
		t.Fatalf("scanClaims = %+v", v)
	}
	if scanClaims([]byte(`{"jti":"a","jti":"b"}`), &claimValues{}) {
		t.Fatal("a repeated claim was scanned")
	}
}
