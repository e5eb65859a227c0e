package checkapi

import (
	"encoding/json"
	"errors"
)

// shape lists the members an object may have, exactly as spelled. A nil
// child is a value whose inside is not checked here (scalars, and the
// free-form context and properties objects, which are only checked for
// duplicate keys).
type shape map[string]shape

func requestShape() shape {
	return shape{"actor": nil, "subject": nil, "action": nil, "principal": nil, "ttl_hours": nil, "resource": nil, "context": nil}
}

const maxDepth = 32

// checkKeys rejects what encoding/json lets through: member names that
// match a field only case-insensitively ("Actor"), and duplicate members
// (the last would silently win). Member names with escapes are refused
// outright. It scans without allocating for the common case; malformed
// JSON is left to the decoder, which reports it.
func checkKeys(body []byte, s shape) error {
	sc := scanner{b: body}
	if err := sc.value(s, "", 0); err != nil {
		if !errors.As(err, new(stop)) {
			return err
		}
	}
	return nil
}

type scanner struct {
	b []byte
	i int
}

// stop ends the scan quietly at malformed input.
type stop struct{}

func (stop) Error() string { return "malformed" }

func (sc *scanner) ws() {
	for sc.i < len(sc.b) {
		switch sc.b[sc.i] {
		case ' ', '\t', '\r', '\n':
			sc.i++
		default:
			return
		}
	}
}

// str scans a string at sc.i and returns its raw content and whether it
// contains an escape.
func (sc *scanner) str() ([]byte, bool, bool) {
	if sc.i >= len(sc.b) || sc.b[sc.i] != '"' {
		return nil, false, false
	}
	start := sc.i + 1
	escaped := false
	for j := start; j < len(sc.b); j++ {
		switch sc.b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			sc.i = j + 1
			return sc.b[start:j], escaped, true
		}
	}
	return nil, false, false
}

func (sc *scanner) value(s shape, path string, depth int) error {
	if depth > maxDepth {
		return &FieldError{Field: "body", Problem: "nested too deeply"}
	}
	sc.ws()
	if sc.i >= len(sc.b) {
		return nil
	}
	switch sc.b[sc.i] {
	case '{':
		return sc.object(s, path, depth)
	case '[':
		sc.i++
		for {
			sc.ws()
			if sc.i >= len(sc.b) {
				return nil
			}
			if sc.b[sc.i] == ']' {
				sc.i++
				return nil
			}
			if err := sc.value(nil, path, depth+1); err != nil {
				return err
			}
			sc.ws()
			if sc.i < len(sc.b) && sc.b[sc.i] == ',' {
				sc.i++
			} else if sc.i >= len(sc.b) || sc.b[sc.i] != ']' {
				return stop{}
			}
		}
	case '"':
		if _, _, ok := sc.str(); !ok {
			return stop{}
		}
		return nil
	default:
		for sc.i < len(sc.b) {
			switch sc.b[sc.i] {
			case ',', '}', ']', ' ', '\t', '\r', '\n':
				return nil
			}
			sc.i++
		}
		return nil
	}
}

func (sc *scanner) object(s shape, path string, depth int) error {
	sc.i++ // '{'
	var seenArr [8]string
	seen := seenArr[:0]
	var seenMap map[string]bool // once an object has many members
	for {
		sc.ws()
		if sc.i >= len(sc.b) {
			return nil
		}
		if sc.b[sc.i] == '}' {
			sc.i++
			return nil
		}
		raw, escaped, ok := sc.str()
		if !ok {
			return nil // malformed: the decoder reports it
		}
		key := string(raw)
		if escaped {
			if s != nil {
				return &FieldError{Field: "body", Problem: "member names must not contain escapes"}
			}
			quoted := sc.b[sc.i-len(raw)-2 : sc.i]
			if json.Unmarshal(quoted, &key) != nil {
				return nil // malformed: the decoder reports it
			}
		}
		field := path + key
		if len(field) > 64 || key == "" {
			field = "body"
		}
		dup := seenMap[key]
		for _, k := range seen {
			dup = dup || k == key
		}
		if dup {
			return &FieldError{Field: field, Problem: "duplicate member"}
		}
		if len(seen) < 16 {
			seen = append(seen, key)
		} else {
			if seenMap == nil {
				seenMap = map[string]bool{}
			}
			seenMap[key] = true
		}
		var child shape
		if s != nil {
			c, ok := s[key]
			if !ok {
				return &FieldError{Field: field, Problem: "unknown field"}
			}
			child = c
		}
		sc.ws()
		if sc.i >= len(sc.b) || sc.b[sc.i] != ':' {
			return nil
		}
		sc.i++
		if err := sc.value(child, path+key+".", depth+1); err != nil {
			if errors.As(err, new(stop)) {
				return nil
			}
			return err
		}
		sc.ws()
		if sc.i < len(sc.b) && sc.b[sc.i] == ',' {
			sc.i++
		}
	}
}
