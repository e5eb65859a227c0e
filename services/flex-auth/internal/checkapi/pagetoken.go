package checkapi

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// MinPageKeyLen is the shortest page token key accepted (bytes).
const MinPageKeyLen = 32

// pageMACLen is how much of the HMAC-SHA256 a token carries (bytes).
const pageMACLen = 16

// Pager issues and reads search page tokens. A token names where the next
// page starts, the page.limit, the request it continues and the state of
// the policy and data it was issued for; it is signed (HMAC-SHA256) with a
// key that every replica shares, over those and the caller it was issued
// to, so that an edited token, or one issued to another caller, is
// refused.
type Pager struct{ key []byte }

// NewPager returns a Pager signing with key (at least MinPageKeyLen bytes).
func NewPager(key []byte) (*Pager, error) {
	if len(key) < MinPageKeyLen {
		return nil, fmt.Errorf("page token key: %d bytes, need at least %d", len(key), MinPageKeyLen)
	}
	return &Pager{key: bytes.Clone(key)}, nil
}

// RandomPager returns a Pager with a key of its own: tokens are good only
// on this process (one replica).
func RandomPager() *Pager {
	key := make([]byte, MinPageKeyLen)
	_, _ = rand.Read(key) // crypto/rand.Read never fails (Go 1.24+)
	return &Pager{key: key}
}

// LoadPager reads the key of a Pager from path (surrounding white space
// is ignored).
func LoadPager(path string) (*Pager, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	p, err := NewPager(bytes.TrimSpace(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// errForeignToken refuses a token that is not one this service issued to
// the caller (edited, forged, or another caller's).
var errForeignToken = &FieldError{Field: "page.token", Problem: "is not a token this service issued to this caller"}

// Cursor decodes the page token of s for caller against state. A token is
// bound to the caller, to the state it was issued for (state changes on
// reload) and to the request it continues: every entity, the context and
// page.limit must be the same (a follow-up that names no limit keeps the
// first one; limits that give the same page size are the same).
func (p *Pager) Cursor(s *Search, state, caller string) (Cursor, error) {
	var limit int
	if s.Page != nil {
		limit = s.Page.Limit
	}
	if s.Page == nil || s.Page.Token == "" {
		return Cursor{Limit: limit}, nil
	}
	payload, err := p.open(s.Page.Token, caller)
	if err != nil {
		return Cursor{}, err
	}
	parts := strings.SplitN(payload, ":", 4)
	if len(parts) != 4 {
		return Cursor{}, errForeignToken
	}
	off, err1 := strconv.Atoi(parts[0])
	was, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil || off < 0 || was < 0 {
		return Cursor{}, errForeignToken
	}
	switch {
	case parts[3] != state:
		return Cursor{}, &FieldError{Field: "page.token", Problem: "has expired: the policy or entity data was reloaded; start again without a token"}
	case parts[2] != s.fingerprint():
		return Cursor{}, &FieldError{Field: "page.token", Problem: "continues another search: subject, action, resource and context must be those of the request that returned it"}
	case limit != 0 && (Cursor{Limit: limit}).Max() != (Cursor{Limit: was}).Max():
		return Cursor{}, &FieldError{Field: "page.limit", Problem: "must be that of the request that returned page.token (" + strconv.Itoa(was) + ")"}
	}
	return Cursor{Offset: off, Limit: was}, nil
}

// Token returns the token, for caller, of the page of s that starts at
// offset, under the limit of c.
func (p *Pager) Token(s *Search, c Cursor, offset int, state, caller string) string {
	payload := strconv.Itoa(offset) + ":" + strconv.Itoa(c.Limit) + ":" + s.fingerprint() + ":" + state
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + base64.RawURLEncoding.EncodeToString(p.mac(payload, caller))
}

// open checks the signature of token for caller and returns its payload.
func (p *Pager) open(token, caller string) (string, error) {
	b64, sig, ok := strings.Cut(token, ".")
	if !ok {
		return "", errForeignToken
	}
	enc := base64.RawURLEncoding.Strict() // one spelling per token: unused bits must be zero
	payload, err1 := enc.DecodeString(b64)
	mac, err2 := enc.DecodeString(sig)
	if err := errors.Join(err1, err2); err != nil || !hmac.Equal(mac, p.mac(string(payload), caller)) {
		return "", errForeignToken
	}
	return string(payload), nil
}

func (p *Pager) mac(payload, caller string) []byte {
	h := hmac.New(sha256.New, p.key)
	h.Write([]byte(payload))
	h.Write([]byte{0})
	h.Write([]byte(caller))
	return h.Sum(nil)[:pageMACLen]
}
