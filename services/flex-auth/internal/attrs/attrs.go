// Package attrs decodes attribute values: the properties and context of
// AuthZEN requests and the properties of entity data. A value is any JSON
// value, bounded in nesting (policy.MaxDepth) and in members per object or
// array (policy.MaxMembers); integral numbers become int64, other numbers
// float64, objects map[string]any and arrays []any.
package attrs

import (
	"errors"
	"math"
	"strconv"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/stellaops/authgate/pkg/policy"
)

// Error names the member (a dotted path, "[i]" for array elements) whose
// value is refused, and why, without echoing the value.
type Error struct {
	Path    string
	Problem string
}

func (e *Error) Error() string { return e.Path + ": " + e.Problem }

// Map is an attribute object: properties or context. Its
// UnmarshalJSONFrom enforces the bounds; the path of errors starts at
// Path, which the caller names after decoding (see Renamed).
type Map map[string]any

// UnmarshalJSONFrom implements the json v2 UnmarshalerFrom interface.
func (m *Map) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	if dec.PeekKind() == 'n' {
		_, err := dec.ReadToken()
		*m = nil
		return err
	}
	if dec.PeekKind() != '{' {
		_, _ = dec.ReadValue()
		return &Error{Path: "", Problem: "must be an object"}
	}
	v, err := Read(dec, "", 1)
	if err != nil {
		return err
	}
	*m = v.(map[string]any)
	return nil
}

// Read decodes the next value of dec; depth is the nesting of the value
// (1 for a top-level properties object).
func Read(dec *jsontext.Decoder, path string, depth int) (any, error) {
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, err
	}
	switch tok.Kind() {
	case 'n':
		return nil, nil
	case 't', 'f':
		return tok.Bool(), nil
	case '"':
		return tok.String(), nil
	case '0':
		return number(tok.String(), path)
	case '{':
		if depth > policy.MaxDepth {
			return nil, &Error{Path: path, Problem: "nested deeper than " + strconv.Itoa(policy.MaxDepth) + " levels"}
		}
		m := map[string]any{}
		for dec.PeekKind() != '}' {
			kt, err := dec.ReadToken()
			if err != nil {
				return nil, err
			}
			name := kt.String()
			if len(m) == policy.MaxMembers {
				return nil, &Error{Path: path, Problem: "has more than " + strconv.Itoa(policy.MaxMembers) + " members"}
			}
			v, err := Read(dec, join(path, name), depth+1)
			if err != nil {
				return nil, err
			}
			m[name] = v
		}
		_, err := dec.ReadToken()
		return m, err
	case '[':
		if depth > policy.MaxDepth {
			return nil, &Error{Path: path, Problem: "nested deeper than " + strconv.Itoa(policy.MaxDepth) + " levels"}
		}
		l := []any{}
		for dec.PeekKind() != ']' {
			if len(l) == policy.MaxMembers {
				return nil, &Error{Path: path, Problem: "has more than " + strconv.Itoa(policy.MaxMembers) + " elements"}
			}
			v, err := Read(dec, path+"["+strconv.Itoa(len(l))+"]", depth+1)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		_, err := dec.ReadToken()
		return l, err
	}
	return nil, errors.New("unexpected token")
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// number keeps integers exact: an integral number within int64 is an
// int64; any other finite number a float64.
func number(lit, path string) (any, error) {
	if n, err := strconv.ParseInt(lit, 10, 64); err == nil {
		return n, nil
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil || math.IsInf(f, 0) {
		return nil, &Error{Path: path, Problem: "number out of range"}
	}
	return f, nil
}

// Prefixed returns err with prefix put before its path ("subject.properties"
// before "roles[2]"), or err unchanged when it is not an *Error.
func Prefixed(err error, prefix string) error {
	var ae *Error
	if !errors.As(err, &ae) {
		return err
	}
	return &Error{Path: join(prefix, ae.Path), Problem: ae.Problem}
}
