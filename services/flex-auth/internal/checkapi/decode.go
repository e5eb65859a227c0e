package checkapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// FieldError is a request the decoder rejects. Field names the offending
// member ("actor", "context.region", or "body" for the document as a
// whole); Problem is a short public explanation that never echoes values.
type FieldError struct {
	Field   string
	Problem string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

// ErrTooLarge is returned (wrapped in a FieldError on "body") for a body
// over MaxBodyBytes.
var ErrTooLarge = errors.New("request body exceeds 65536 bytes")

// ReadBody reads at most MaxBodyBytes from r and rejects anything longer.
func ReadBody(r io.Reader, buf *bytes.Buffer) error {
	for {
		if buf.Available() < 512 {
			buf.Grow(512)
		}
		free := buf.AvailableBuffer()
		free = free[:min(cap(free), MaxBodyBytes+1-buf.Len())]
		n, err := r.Read(free)
		buf.Write(free[:n]) // in place: free is buf's own spare capacity
		if buf.Len() > MaxBodyBytes {
			return &FieldError{Field: "body", Problem: ErrTooLarge.Error()}
		}
		switch {
		case err == io.EOF:
			return nil
		case err != nil:
			return &FieldError{Field: "body", Problem: "could not read the request body"}
		}
	}
}

// Decode parses a check request strictly: one JSON object, member names
// spelled exactly (no escapes, no other case, no duplicates at any
// depth, nothing unknown), the right types, nothing after it, actor
// present, context values scalar. Numbers in context become int64 when
// integral, float64 otherwise. The problems are checked in that order,
// so a body with several is refused for the first of them.
func Decode(body []byte) (Request, error) {
	switch {
	case len(body) > MaxBodyBytes:
		return Request{}, &FieldError{Field: "body", Problem: ErrTooLarge.Error()}
	case !utf8.Valid(body):
		// the decoder would replace invalid bytes with U+FFFD and the
		// decision would be made (and logged) on an altered name
		return Request{}, &FieldError{Field: "body", Problem: "must be valid UTF-8"}
	}
	if trimmed := bytes.TrimLeft(body, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
		return Request{}, &FieldError{Field: "body", Problem: "must be a JSON object"}
	}
	end, err := checkNames(body)
	if err != nil {
		return Request{}, err
	}
	var req Request
	if err := json.Unmarshal(body[:end], &req, decodeOptions); err != nil {
		return Request{}, translate(err)
	}
	if len(bytes.TrimLeft(body[end:], " \t\r\n")) > 0 {
		return Request{}, &FieldError{Field: "body", Problem: "unexpected data after the JSON object"}
	}
	if req.Actor == "" {
		return Request{}, &FieldError{Field: "actor", Problem: "is required"}
	}
	if err := normalizeContext(req.Context); err != nil {
		return Request{}, err
	}
	return req, nil
}

// decodeOptions decode a check request: a lone surrogate escape becomes
// U+FFFD (the body itself is valid UTF-8), and a context value is kept
// as written (rawValue) until normalizeContext checks it.
var decodeOptions = json.JoinOptions(
	jsontext.AllowInvalidUTF8(true),
	json.WithUnmarshalers(json.UnmarshalFromFunc(func(dec *jsontext.Decoder, v *any) error {
		switch dec.PeekKind() {
		case '0', '{', '[':
			raw, err := dec.ReadValue()
			*v = rawValue(bytes.Clone(raw))
			return err
		}
		return errors.ErrUnsupported // the default: a string, boolean or null
	})),
)

// rawValue is a context number, object or array as written.
type rawValue []byte

// requestMembers are the member names of a check request.
var requestMembers = []string{"actor", "subject", "action", "principal", "ttl_hours", "resource", "context"}

// maxDepth bounds the nesting of a request: a value inside more than
// maxDepth objects and arrays is refused.
const maxDepth = 32

// namePool holds the decoders of checkNames.
var namePool = sync.Pool{New: func() any { return new(nameScan) }}

type nameScan struct {
	r   bytes.Reader
	dec jsontext.Decoder
	// names holds, for each open object and array, the member name it is
	// the value of, as written (nil for the top level and array elements).
	names []jsontext.Value
}

// checkNames walks the tokens of the first JSON value of body and refuses,
// in document order, a top-level member name written with an escape or
// not among the request's members, a duplicate member name at any depth
// (as the library finds it), a value nested too deeply and malformed
// JSON. It returns where the value ends.
func checkNames(body []byte) (int, error) {
	s := namePool.Get().(*nameScan)
	defer namePool.Put(s)
	s.r.Reset(body)
	s.dec.Reset(&s.r, jsontext.AllowInvalidUTF8(true))
	s.names = append(s.names[:0], nil)
	var name jsontext.Value // the member name last read
	for {
		depth := s.dec.StackDepth()
		kind, n := s.dec.StackIndex(depth)
		next := s.dec.PeekKind()
		if kind == '{' && n%2 == 0 && next == '"' { // a member name
			if depth == 1 && escapedName(body[s.dec.InputOffset():]) {
				return 0, &FieldError{Field: "body", Problem: "member names must not contain escapes"}
			}
			raw, err := s.dec.ReadValue()
			if err != nil {
				return 0, s.nameError(err)
			}
			// raw is in the decoder's buffer; body holds the name for good
			end := int(s.dec.InputOffset())
			name = body[end-len(raw) : end]
			if depth == 1 && !isRequestMember(name[1:len(name)-1]) {
				return 0, &FieldError{Field: s.field(string(name[1 : len(name)-1])), Problem: "unknown field"}
			}
			continue
		}
		if next != 0 && next != '}' && next != ']' && depth > maxDepth {
			return 0, &FieldError{Field: "body", Problem: "nested too deeply"}
		}
		tok, err := s.dec.ReadToken()
		if err != nil {
			return 0, translate(err)
		}
		switch tok.Kind() {
		case '{', '[':
			if kind != '{' {
				name = nil
			}
			s.names = append(s.names[:depth+1], name)
		}
		if s.dec.StackDepth() == 0 {
			return int(s.dec.InputOffset()), nil
		}
	}
}

// nameError is the error of reading a member name: a duplicate, or
// malformed JSON.
func (s *nameScan) nameError(err error) error {
	var sx *jsontext.SyntacticError
	if errors.Is(err, jsontext.ErrDuplicateName) && errors.As(err, &sx) {
		return &FieldError{Field: s.field(sx.JSONPointer.LastToken()), Problem: "duplicate member"}
	}
	return translate(err)
}

// field is the field name of member name of the object being read:
// the names of the objects it is in and its own, joined by dots, or
// "body" when the name is empty or the field name long.
func (s *nameScan) field(name string) string {
	var f []byte
	for _, n := range s.names[:s.dec.StackDepth()+1] {
		if n != nil {
			f, _ = jsontext.AppendUnquote(f, n) // read as a valid string
			f = append(f, '.')
		}
	}
	f = append(f, name...)
	if name == "" || len(f) > 64 {
		return "body"
	}
	return string(f)
}

func isRequestMember(name []byte) bool {
	for _, m := range requestMembers {
		if m == string(name) {
			return true
		}
	}
	return false
}

// escapedName reports whether the member name at the start of rest (after
// whitespace and a comma) is a complete string with an escape in it: it
// is refused before the decoder compares it with the names before it.
func escapedName(rest []byte) bool {
	rest = bytes.TrimLeft(rest, " \t\r\n,")
	if len(rest) == 0 || rest[0] != '"' {
		return false
	}
	escaped := false
	for i := 1; i < len(rest); i++ {
		switch rest[i] {
		case '\\':
			escaped = true
			i++
		case '"':
			return escaped
		}
	}
	return false
}

// translate turns an error of the decoder into a FieldError.
func translate(err error) error {
	var se *json.SemanticError
	var sx *jsontext.SyntacticError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &FieldError{Field: "body", Problem: "truncated JSON"}
	case errors.As(err, &sx):
		return &FieldError{Field: "body", Problem: fmt.Sprintf("malformed JSON at byte %d", sx.ByteOffset+1)}
	case errors.As(err, &se):
		field := se.JSONPointer.LastToken()
		if field == "" {
			field = "body"
		}
		want := "of another type"
		if se.GoType != nil {
			want = jsonKind(se.GoType.Kind().String())
		}
		return &FieldError{Field: field, Problem: "must be " + want}
	}
	return &FieldError{Field: "body", Problem: "malformed JSON"}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "int64", "int", "ptr":
		return "an integer"
	case "map", "struct":
		return "an object"
	}
	return "of another type"
}

// normalizeContext checks that every context value is a scalar and turns
// numbers into int64 or float64.
func normalizeContext(ctx map[string]any) error {
	for k, v := range ctx {
		field := "context." + k
		if k == "" || len(k) > 64 {
			field = "context"
		}
		raw, ok := v.(rawValue)
		if !ok {
			continue
		}
		if jsontext.Value(raw).Kind() != '0' {
			return &FieldError{Field: field, Problem: "must be a string, number, boolean or null (no nesting)"}
		}
		if i, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
			ctx[k] = i
			continue
		}
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil || math.IsInf(f, 0) {
			return &FieldError{Field: field, Problem: "number out of range"}
		}
		ctx[k] = f
	}
	return nil
}
