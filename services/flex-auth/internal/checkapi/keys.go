package checkapi

import (
	"bytes"
	"encoding/json"
)

// shape lists the members an object may have, exactly as spelled. A nil
// child is a value whose inside is not checked here (scalars, and the
// free-form context and properties objects, which are only checked for
// duplicate keys).
type shape map[string]shape

func requestShape() shape {
	return shape{"actor": nil, "subject": nil, "action": nil, "principal": nil, "ttl_hours": nil, "resource": nil, "context": nil}
}

func evaluationShape() shape {
	entity := shape{"type": nil, "id": nil, "properties": nil}
	return shape{"subject": entity, "action": shape{"name": nil, "properties": nil}, "resource": entity, "context": nil}
}

const maxDepth = 32

// checkKeys rejects what encoding/json lets through: member names that
// match a field only case-insensitively ("Actor"), and duplicate members
// (the last would silently win). Syntax errors are left to the decoder.
func checkKeys(body []byte, s shape) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	return walk(dec, s, "", 0)
}

func walk(dec *json.Decoder, s shape, path string, depth int) error {
	if depth > maxDepth {
		return &FieldError{Field: "body", Problem: "nested too deeply"}
	}
	tok, err := dec.Token()
	if err != nil {
		return nil
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil
			}
			key, _ := kt.(string)
			field := path + key
			if len(field) > 64 || key == "" {
				field = "body"
			}
			if seen[key] {
				return &FieldError{Field: field, Problem: "duplicate member"}
			}
			seen[key] = true
			var child shape
			if s != nil {
				c, ok := s[key]
				if !ok {
					return &FieldError{Field: field, Problem: "unknown field"}
				}
				child = c
			}
			if err := walk(dec, child, path+key+".", depth+1); err != nil {
				return err
			}
		}
		_, _ = dec.Token()
	case json.Delim('['):
		for dec.More() {
			if err := walk(dec, nil, path, depth+1); err != nil {
				return err
			}
		}
		_, _ = dec.Token()
	}
	return nil
}
