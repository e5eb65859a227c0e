package checkapi

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/go-json-experiment/json"

	"github.com/stellaops/authgate/services/flex-auth/internal/attrs"
)

// Search kinds: what a search asks for.
const (
	SearchSubject  = "subject"
	SearchResource = "resource"
	SearchAction   = "action"
)

// Page limits of a search.
const (
	DefaultPageLimit = 1000
	MaxPageLimit     = 1000
)

// Search is an AuthZEN search request (POST /access/v1/search/{kind}).
type Search struct {
	Subject  *Entity   `json:"subject"`
	Action   *Action   `json:"action"`
	Resource *Entity   `json:"resource"`
	Context  attrs.Map `json:"context,omitzero"`
	Page     *Page     `json:"page"`
	kind     string
}

// Page is the pagination member of a search request.
type Page struct {
	Token string `json:"token"`
	Limit int    `json:"limit"`
}

// DecodeSearch parses a search of kind and checks the members the kind
// needs: the searched entity needs only its type (subject and resource
// searches; its id, if sent, is ignored), the action is absent from an
// action search (and ignored if sent).
func DecodeSearch(kind string, body []byte) (*Search, error) {
	s := Search{kind: kind}
	if err := decodeJSON(body, &s); err != nil {
		return nil, err
	}
	need := func(ok bool, field string) error {
		if !ok {
			return &FieldError{Field: field, Problem: "is required"}
		}
		return nil
	}
	var err error
	for _, c := range []struct {
		ok    bool
		field string
	}{
		{s.Subject != nil, "subject"},
		{s.Subject == nil || s.Subject.Type != "", "subject.type"},
		{kind == SearchSubject || s.Subject == nil || s.Subject.ID != "", "subject.id"},
		{s.Resource != nil, "resource"},
		{s.Resource == nil || s.Resource.Type != "", "resource.type"},
		{kind == SearchResource || s.Resource == nil || s.Resource.ID != "", "resource.id"},
		{kind == SearchAction || s.Action != nil, "action"},
		{kind == SearchAction || s.Action == nil || s.Action.Name != "", "action.name"},
	} {
		if err = need(c.ok, c.field); err != nil {
			return nil, err
		}
	}
	if s.Page != nil && s.Page.Limit < 0 {
		return nil, &FieldError{Field: "page.limit", Problem: "must be a non-negative integer"}
	}
	return &s, nil
}

// Cursor is where a page starts and how many results it holds at most.
type Cursor struct {
	Offset int // index of the first candidate of the page
	Limit  int // the page.limit in force (0: none named)
}

// Max is the most results the page may hold: the limit in force, capped
// at MaxPageLimit (a PDP may answer fewer than asked, with a next_token).
func (c Cursor) Max() int {
	if c.Limit == 0 || c.Limit > MaxPageLimit {
		return DefaultPageLimit
	}
	return c.Limit
}

// fingerprint digests what a follow-up request must repeat: the entities
// and the context, without what the search ignores (the searched id, the
// action of an action search).
func (s *Search) fingerprint() string {
	q := Search{Subject: s.Subject, Action: s.Action, Resource: s.Resource, Context: s.Context}
	switch s.kind {
	case SearchSubject:
		q.Subject = &Entity{Type: s.Subject.Type, Properties: s.Subject.Properties}
	case SearchResource:
		q.Resource = &Entity{Type: s.Resource.Type, Properties: s.Resource.Properties}
	case SearchAction:
		q.Action = nil
	}
	b, _ := json.Marshal(&q, json.Deterministic(true)) // decoded JSON values always marshal
	sum := sha256.Sum256(append([]byte(s.kind+"\n"), b...))
	return hex.EncodeToString(sum[:8])
}

// SearchResult is one result: an entity (type and id) or an action (name).
type SearchResult struct {
	Type string `json:"type,omitempty"`
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

// PageResult is the pagination member of a search response.
type PageResult struct {
	NextToken string `json:"next_token"`
	Count     int    `json:"count"`
}

// SearchResponse is the answer of a search.
// The page member comes first, as the specification recommends.
type SearchResponse struct {
	Page    PageResult     `json:"page"`
	Context map[string]any `json:"context,omitempty"`
	Results []SearchResult `json:"results"`
}
