package dpop

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

var testNonceKey = []byte(strings.Repeat("k", 32))

func TestHMACNonces(t *testing.T) {
	n := must(NewHMACNonces(testNonceKey, time.Minute))
	nonce := must(n.NewNonce(testNow))
	for _, tc := range []struct {
		name  string
		nonce string
		at    time.Time
		ok    bool
	}{
		{"fresh", nonce, testNow, true},
		{"at end of lifetime", nonce, testNow.Add(time.Minute), true},
		{"expired", nonce, testNow.Add(time.Minute + time.Millisecond), false},
		{"checked by a replica whose clock is behind", nonce, testNow.Add(-nonceFutureSkew), true},
		{"issued too far in the future", nonce, testNow.Add(-nonceFutureSkew - time.Millisecond), false},
		{"empty", "", testNow, false},
		{"garbage", "not-a-nonce", testNow, false},
		{"tag flipped", nonce[:len(nonce)-2] + flip(nonce[len(nonce)-2]) + nonce[len(nonce)-1:], testNow, false},
		{"from another key", must(must(NewHMACNonces([]byte(strings.Repeat("o", 32)), time.Minute)).NewNonce(testNow)), testNow, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, got := n.CheckNonce(tc.nonce, tc.at); got != tc.ok {
				t.Fatalf("CheckNonce = %v, want %v", got, tc.ok)
			}
		})
	}
	if _, err := NewHMACNonces([]byte("short"), time.Minute); err == nil {
		t.Error("short key accepted")
	}
	if _, err := NewHMACNonces(testNonceKey, 0); err == nil {
		t.Error("zero lifetime accepted")
	}
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func TestVerifyWithNonces(t *testing.T) {
	ctx := context.Background()
	nonces := must(NewHMACNonces(testNonceKey, 30*time.Second))
	f := newFixture(t, func(c *Config) { c.Nonces, c.RequireNonce = nonces, true })

	// 1. No nonce: use_dpop_nonce with a fresh nonce to send.
	_, err := f.v.Verify(ctx, request(makeProof(t, nil)))
	var e *Error
	if !errors.Is(err, ErrUseDPoPNonce) || !errors.As(err, &e) || e.Nonce == "" {
		t.Fatalf("without nonce: %v", err)
	}
	if _, ok := nonces.CheckNonce(e.Nonce, testNow); !ok {
		t.Fatal("the nonce in the error is not valid")
	}
	if f.cache.Len() != 0 {
		t.Fatal("a proof rejected for its nonce was recorded")
	}

	// 2. With that nonce: accepted, and the proof reports it.
	p, err := f.v.Verify(ctx, request(makeProof(t, func(p *proofSpec) { p.claims["nonce"] = e.Nonce })))
	if err != nil {
		t.Fatalf("with nonce: %v", err)
	}
	if p.Nonce != e.Nonce {
		t.Errorf("Proof.Nonce = %q", p.Nonce)
	}

	// 3. Forged and expired nonces: use_dpop_nonce again, with a new nonce.
	for name, nonce := range map[string]string{
		"forged":  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"expired": must(nonces.NewNonce(testNow.Add(-31 * time.Second))),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := f.v.Verify(ctx, request(makeProof(t, func(p *proofSpec) { p.claims["nonce"] = nonce })))
			var e *Error
			if !errors.Is(err, ErrUseDPoPNonce) || !errors.As(err, &e) || e.Nonce == "" || e.Nonce == nonce {
				t.Fatalf("%v", err)
			}
		})
	}

	// NewNonce for DPoP-Nonce headers on success.
	if n, err := f.v.NewNonce(); err != nil || !checks(nonces, n) {
		t.Errorf("Verifier.NewNonce = %q, %v", n, err)
	}
	plain := newFixture(t, nil)
	if n, err := plain.v.NewNonce(); n != "" || err != nil {
		t.Errorf("NewNonce without a source = %q, %v", n, err)
	}
}

func checks(n NonceSource, nonce string) bool {
	_, ok := n.CheckNonce(nonce, testNow)
	return ok
}

func TestParseNonceKeys(t *testing.T) {
	k32 := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" // 32 zero bytes
	for _, tc := range []struct {
		name, file, err string
		keys            int
	}{
		{"one key", k32 + "\n", "", 1},
		{"rotation, comments and blank lines", "# new\n" + strings.Repeat("_", 42) + "A\n\n  " + k32 + "  \n", "", 2},
		{"empty", "\n# nothing\n", "no key", 0},
		{"not base64", "not base64!\n", "line 1: not base64", 0},
		{"short key", "QUFB\n", "line 1: key of 3 bytes, at least 32 required", 0},
		{"every problem", k32 + "\n!!\nQUFB", "line 2: not base64\nline 3: key of 3 bytes", 0},
		{"too many", strings.Repeat(k32+"\n", MaxNonceKeys+1), "9 keys, at most 8", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := ParseNonceKeys([]byte(tc.file))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || len(keys) != tc.keys {
				t.Fatalf("%d keys, %v; want %d", len(keys), err, tc.keys)
			}
		})
	}
}
