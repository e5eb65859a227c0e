package checkapi

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// TestPageTokenSigned: a page token is good only for the caller it was
// issued to, under the key that signed it, unaltered; anything else is
// refused naming page.token.
func TestPageTokenSigned(t *testing.T) {
	body := `{"subject":{"type":"user"},"action":{"name":"read"},"resource":{"type":"doc","id":"1"},"page":{"limit":2}}`
	q, err := DecodeSearch(SearchSubject, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	p := testPager()
	cur, _ := p.Cursor(q, "s1", "client:alice")
	token := p.Token(q, cur, 4, "s1", "client:alice")
	b64, sig, _ := strings.Cut(token, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(b64)
	edited := base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), "4:", "40:", 1))) + "." + sig
	other, err := NewPager([]byte(strings.Repeat("x", MinPageKeyLen)))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, token, caller string
		pager               *Pager
	}{
		{"another caller", token, "client:mallory", p},
		{"no caller", token, "", p},
		{"edited offset", edited, "client:alice", p},
		{"signature cut", b64, "client:alice", p},
		{"signature of another token", b64 + "." + base64.RawURLEncoding.EncodeToString(make([]byte, pageMACLen)), "client:alice", p},
		{"another key", token, "client:alice", other},
		{"unsigned token of the previous format", base64.RawURLEncoding.EncodeToString(payload), "client:alice", p},
	} {
		t.Run(c.name, func(t *testing.T) {
			q.Page.Token = c.token
			_, err := c.pager.Cursor(q, "s1", c.caller)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != "page.token" {
				t.Fatalf("got %v, want an error on page.token", err)
			}
		})
	}
	q.Page.Token = token
	if c, err := p.Cursor(q, "s1", "client:alice"); err != nil || c.Offset != 4 {
		t.Fatalf("the caller's own token: %+v %v", c, err)
	}
}

func TestNewPagerKeyLength(t *testing.T) {
	if _, err := NewPager(make([]byte, MinPageKeyLen-1)); err == nil {
		t.Fatal("a short key was accepted")
	}
	if RandomPager() == nil {
		t.Fatal("no random pager")
	}
}
