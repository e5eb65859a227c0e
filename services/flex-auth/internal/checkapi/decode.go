package checkapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"unicode/utf8"
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

// Decode parses a check request strictly: one JSON object, no unknown
// members, the right types, nothing after it, actor present, context
// values scalar. Numbers in context become int64 when integral, float64
// otherwise.
func Decode(body []byte) (Request, error) {
	var req Request
	if len(body) > MaxBodyBytes {
		return req, &FieldError{Field: "body", Problem: ErrTooLarge.Error()}
	}
	if !utf8.Valid(body) {
		return req, &FieldError{Field: "body", Problem: "must be valid UTF-8"}
	}
	if decodeFast(body, &req) && req.Actor != "" {
		return req, nil
	}
	return decodeStrict(body)
}

// decodeStrict is the reference decoder: encoding/json guarded by the
// member-name scan. It names the problem of every rejected body.
func decodeStrict(body []byte) (Request, error) {
	var req Request
	if err := decodeObject(body, &req, requestShape()); err != nil {
		return Request{}, err
	}
	if req.Actor == "" {
		return Request{}, &FieldError{Field: "actor", Problem: "is required"}
	}
	if err := normalizeContext(req.Context); err != nil {
		return Request{}, err
	}
	return req, nil
}

// decodeObject decodes one JSON object from body into v with unknown
// fields rejected and no trailing data, translating encoding/json errors
// into FieldErrors.
func decodeObject(body []byte, v any, s shape) error {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return &FieldError{Field: "body", Problem: "must be a JSON object"}
	}
	// encoding/json would replace invalid bytes with U+FFFD and the
	// decision would be made (and logged) on an altered name.
	if !utf8.Valid(body) {
		return &FieldError{Field: "body", Problem: "must be valid UTF-8"}
	}
	if err := checkKeys(body, s); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return translate(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return &FieldError{Field: "body", Problem: "unexpected data after the JSON object"}
	}
	return nil
}

func translate(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		return &FieldError{Field: field, Problem: "must be " + jsonKind(typeErr.Type.Kind().String())}
	case errors.As(err, &syntaxErr):
		return &FieldError{Field: "body", Problem: fmt.Sprintf("malformed JSON at byte %d", syntaxErr.Offset)}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return &FieldError{Field: "body", Problem: "truncated JSON"}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		switch {
		case name == "":
			return &FieldError{Field: "body", Problem: "unknown field with an empty name"}
		case len(name) > 64:
			return &FieldError{Field: "body", Problem: "unknown field with a long name"}
		}
		return &FieldError{Field: name, Problem: "unknown field"}
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
// json.Number into int64 or float64.
func normalizeContext(ctx map[string]any) error {
	for k, v := range ctx {
		field := "context." + k
		if k == "" || len(k) > 64 {
			field = "context"
		}
		switch x := v.(type) {
		case nil, string, bool:
		case json.Number:
			if i, err := x.Int64(); err == nil {
				ctx[k] = i
				continue
			}
			f, err := x.Float64()
			if err != nil || math.IsInf(f, 0) {
				return &FieldError{Field: field, Problem: "number out of range"}
			}
			ctx[k] = f
		default:
			return &FieldError{Field: field, Problem: "must be a string, number, boolean or null (no nesting)"}
		}
	}
	return nil
}
