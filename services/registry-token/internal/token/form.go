package token

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/url"
	"strings"
)

// MaxFormBytes bounds the body of POST /token: room for 100 scopes with
// long names and an OpTok, far below what a server should buffer.
const MaxFormBytes = 64 << 10

// The OAuth2 grant types of the distribution token spec's POST form.
const (
	GrantRefreshToken = "refresh_token"
	GrantPassword     = "password"
)

// Form is a parsed POST /token body (the distribution token spec's OAuth2
// form). Unknown fields are ignored (RFC 6749 §3.2).
type Form struct {
	GrantType string
	// Token is refresh_token (refresh_token grant) or password (password
	// grant); empty when the grant carries none (the Authorization header
	// then holds the OpTok).
	Token    string
	Username string
	Service  []string
	Scope    []string
	ClientID string
	// AccessType is "online" or "offline"; no refresh token is ever
	// issued either way.
	AccessType string
}

// FormError is a refused form: Grant is set for an unknown grant_type,
// Msg is the public description (a fixed string, or one naming a field).
type FormError struct {
	Grant bool
	Msg   string
}

func (e *FormError) Error() string { return e.Msg }

// singleFields may appear at most once in the form.
var singleFields = []string{"grant_type", "refresh_token", "username", "password", "service", "client_id", "access_type"}

// ParseForm reads a POST /token body: the content type must be
// application/x-www-form-urlencoded, the body at most MaxFormBytes, each
// field but scope at most once, grant_type refresh_token or password.
func ParseForm(contentType string, body io.Reader) (*Form, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, &FormError{Msg: "The body must be application/x-www-form-urlencoded."}
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return nil, &FormError{Msg: "The form must be UTF-8."}
	}
	b, err := io.ReadAll(io.LimitReader(body, MaxFormBytes+1))
	if err != nil {
		return nil, fmt.Errorf("token: reading form: %w", err)
	}
	if len(b) > MaxFormBytes {
		return nil, &FormError{Msg: fmt.Sprintf("The form is larger than %d bytes.", MaxFormBytes)}
	}
	return parseFormBody(string(b))
}

func parseFormBody(s string) (*Form, error) {
	v, err := url.ParseQuery(s)
	if err != nil {
		return nil, &FormError{Msg: "The form is not valid application/x-www-form-urlencoded."}
	}
	for _, name := range singleFields {
		if len(v[name]) > 1 {
			return nil, &FormError{Msg: "The form field " + name + " appears more than once."}
		}
	}
	f := &Form{
		GrantType:  v.Get("grant_type"),
		Username:   v.Get("username"),
		Service:    v["service"],
		Scope:      v["scope"],
		ClientID:   v.Get("client_id"),
		AccessType: v.Get("access_type"),
	}
	switch f.GrantType {
	case "":
		return nil, &FormError{Msg: "The form field grant_type is required (refresh_token or password)."}
	case GrantRefreshToken:
		f.Token = v.Get("refresh_token")
		if _, ok := v["password"]; ok {
			return nil, &FormError{Msg: "The refresh_token grant takes no password field."}
		}
	case GrantPassword:
		f.Token = v.Get("password")
		if _, ok := v["refresh_token"]; ok {
			return nil, &FormError{Msg: "The password grant takes no refresh_token field."}
		}
	default:
		return nil, &FormError{Grant: true, Msg: "The grant_type is not supported; use refresh_token or password."}
	}
	if at := f.AccessType; at != "" && at != "online" && at != "offline" {
		return nil, &FormError{Msg: "The form field access_type must be online or offline."}
	}
	return f, nil
}

// formDenial turns a ParseForm error into the request's refusal.
func formDenial(err error) error {
	var fe *FormError
	if !errors.As(err, &fe) {
		return err
	}
	if fe.Grant {
		return &Denial{Reason: ReasonUnsupportedGrant, cause: err}
	}
	return &Denial{Reason: ReasonInvalidForm, detail: fe.Msg, cause: err}
}
