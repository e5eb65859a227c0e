package checkapi

import (
	"encoding/base64"
	"strconv"
	"strings"

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
}

// Page is the pagination member of a search request.
type Page struct {
	Token string `json:"token"`
	Limit int    `json:"limit"`
}

// DecodeSearch parses a search of kind and checks the members the kind
// needs: the searched entity needs only its type (subject and resource
// searches), the action is absent from an action search.
func DecodeSearch(kind string, body []byte) (*Search, error) {
	var s Search
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
	if s.Page != nil && (s.Page.Limit < 0 || s.Page.Limit > MaxPageLimit) {
		return nil, &FieldError{Field: "page.limit", Problem: "must be between 1 and " + strconv.Itoa(MaxPageLimit)}
	}
	return &s, nil
}

// Limit returns the page size asked for, or the default.
func (s *Search) Limit() int {
	if s.Page == nil || s.Page.Limit == 0 {
		return DefaultPageLimit
	}
	return s.Page.Limit
}

// Offset decodes the page token: the index of the first candidate of the
// page, bound to the state it was issued for (state changes on reload).
func (s *Search) Offset(state string) (int, error) {
	if s.Page == nil || s.Page.Token == "" {
		return 0, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(s.Page.Token)
	n, st, ok := strings.Cut(string(raw), ":")
	off, cerr := strconv.Atoi(n)
	if err != nil || !ok || cerr != nil || off < 0 {
		return 0, &FieldError{Field: "page.token", Problem: "is not a token this service issued"}
	}
	if st != state {
		return 0, &FieldError{Field: "page.token", Problem: "has expired: the policy or entity data was reloaded; start again without a token"}
	}
	return off, nil
}

// PageToken returns the token of the page starting at offset.
func PageToken(offset int, state string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(offset) + ":" + state))
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
type SearchResponse struct {
	Results []SearchResult `json:"results"`
	Page    PageResult     `json:"page"`
	Context map[string]any `json:"context,omitempty"`
}
