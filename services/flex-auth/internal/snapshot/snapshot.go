// Package snapshot reads the registry snapshot that ops-warden generates
// from its actor inventory: a versioned JSON list of actors with their
// principal, TTL bounds and allowed subjects.
package snapshot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/stellaops/authgate/pkg/policy"
)

// Version is the only snapshot format version this package reads.
const Version = 1

// File is the JSON document of a registry snapshot.
type File struct {
	Version     int        `json:"version" jsonschema:"enum=1,description=Snapshot format version."`
	GeneratedAt *time.Time `json:"generated_at,omitempty" jsonschema:"description=When the snapshot was generated (RFC 3339)."`
	Source      string     `json:"source,omitempty" jsonschema:"description=Where the snapshot was generated from, e.g. ops-warden inventory.yaml."`
	Actors      []Entry    `json:"actors" jsonschema:"minItems=1,description=Registered actors; names are unique."`
}

// Entry is one actor of a registry snapshot.
type Entry struct {
	Name            string   `json:"name" jsonschema:"pattern=^(adm|agt|atm)-[a-z0-9][a-z0-9._-]*$,maxLength=128,description=Actor name; starts with its type and a dash."`
	Type            string   `json:"type" jsonschema:"enum=adm,enum=agt,enum=atm,description=Actor type."`
	Principal       string   `json:"principal" jsonschema:"minLength=1,description=SSH principal the actor signs for."`
	MaxTTLHours     int64    `json:"max_ttl_hours" jsonschema:"minimum=1,description=Longest certificate lifetime in hours."`
	DefaultTTLHours *int64   `json:"default_ttl_hours,omitempty" jsonschema:"minimum=1,description=Lifetime used when a request names none; at most max_ttl_hours."`
	AllowedSubjects []string `json:"allowed_subjects" jsonschema:"minItems=1,description=Subjects bound to the actor (its name and iam:<name>)."`
}

// Snapshot is a validated registry snapshot, indexed by actor name. It is
// immutable and safe for concurrent use.
type Snapshot struct {
	version     int
	generatedAt time.Time
	source      string
	digest      string
	actors      []policy.Actor
	index       map[string]*policy.Actor
}

// LoadFile reads and parses a snapshot file.
func LoadFile(path string) (*Snapshot, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	return Parse(src)
}

// Parse decodes and validates a snapshot. Every problem is reported (joined
// with errors.Join); each is a *FieldError and matches ErrInvalid.
func Parse(src []byte) (*Snapshot, error) {
	var head struct {
		Version     *int              `json:"version"`
		GeneratedAt *time.Time        `json:"generated_at"`
		Source      string            `json:"source"`
		Actors      []json.RawMessage `json:"actors"`
	}
	if err := decodeStrict(src, &head); err != nil {
		return nil, jsonError("", err)
	}
	var errs []error
	switch {
	case head.Version == nil:
		errs = append(errs, &FieldError{Path: "version", Problem: "is required"})
	case *head.Version != Version:
		errs = append(errs, &FieldError{Path: "version", Problem: fmt.Sprintf("unsupported version %d (want %d)", *head.Version, Version)})
	}
	if len(head.Actors) == 0 {
		errs = append(errs, &FieldError{Path: "actors", Problem: "must list at least one actor"})
	}
	s := &Snapshot{
		version: Version,
		source:  head.Source,
		digest:  policy.Digest(src),
		actors:  make([]policy.Actor, 0, len(head.Actors)),
		index:   make(map[string]*policy.Actor, len(head.Actors)),
	}
	if head.GeneratedAt != nil {
		s.generatedAt = *head.GeneratedAt
	}
	firstSeen := map[string]int{}
	for i, raw := range head.Actors {
		path := fmt.Sprintf("actors[%d]", i)
		var e Entry
		if err := decodeStrict(raw, &e); err != nil {
			errs = append(errs, jsonError(path, err))
			continue
		}
		problems := validateEntry(path, &e)
		if j, dup := firstSeen[e.Name]; dup && e.Name != "" {
			problems = append(problems, &FieldError{Path: path + ".name", Actor: e.Name, Problem: fmt.Sprintf("duplicate actor name (first at actors[%d])", j)})
		} else {
			firstSeen[e.Name] = i
		}
		if len(problems) > 0 {
			errs = append(errs, problems...)
			continue
		}
		s.actors = append(s.actors, e.toPolicy())
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for i := range s.actors {
		s.index[s.actors[i].Name] = &s.actors[i]
	}
	return s, nil
}

func (e *Entry) toPolicy() policy.Actor {
	a := policy.Actor{
		Name:            e.Name,
		Type:            e.Type,
		Principal:       e.Principal,
		MaxTTLHours:     e.MaxTTLHours,
		AllowedSubjects: append([]string(nil), e.AllowedSubjects...),
	}
	if e.DefaultTTLHours != nil {
		a.DefaultTTLHours = *e.DefaultTTLHours
	}
	return a
}

// decodeStrict decodes exactly one JSON value with unknown fields rejected.
func decodeStrict(src []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errTrailingData
	}
	return nil
}

var errTrailingData = errors.New("unexpected data after the JSON value")

// jsonError turns an encoding/json error into a FieldError below prefix.
func jsonError(prefix string, err error) *FieldError {
	join := func(field string) string {
		switch {
		case prefix == "" && field == "":
			return "(document)"
		case prefix == "":
			return field
		case field == "":
			return prefix
		}
		return prefix + "." + field
	}
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		return &FieldError{Path: join(typeErr.Field), Problem: fmt.Sprintf("cannot be a JSON %s (want %s)", typeErr.Value, jsonKind(typeErr.Type.Kind().String()))}
	case errors.As(err, &syntaxErr):
		return &FieldError{Path: join(""), Problem: fmt.Sprintf("malformed JSON at byte %d: %s", syntaxErr.Offset, strings.TrimPrefix(syntaxErr.Error(), "json: "))}
	case errors.Is(err, io.EOF):
		return &FieldError{Path: join(""), Problem: "empty document"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &FieldError{Path: join(""), Problem: "truncated JSON"}
	}
	return &FieldError{Path: join(""), Problem: strings.TrimPrefix(err.Error(), "json: ")}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "int", "int64", "ptr":
		return "an integer"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	}
	return goKind
}

// Lookup returns the actor named name. The returned Actor is shared and must
// not be modified.
func (s *Snapshot) Lookup(name string) (*policy.Actor, bool) {
	a, ok := s.index[name]
	return a, ok
}

// Actors returns the actors in file order. The slice is shared and must not
// be modified.
func (s *Snapshot) Actors() []policy.Actor { return s.actors }

// Len returns the number of actors.
func (s *Snapshot) Len() int { return len(s.actors) }

// Digest returns "sha256:<hex>" of the snapshot's bytes.
func (s *Snapshot) Digest() string { return s.digest }

// Version returns the format version.
func (s *Snapshot) Version() int { return s.version }

// Source returns the generation source, if recorded.
func (s *Snapshot) Source() string { return s.source }

// GeneratedAt returns the generation time, or the zero time.
func (s *Snapshot) GeneratedAt() time.Time { return s.generatedAt }

// CountByType returns the number of actors of each type, every known type
// included.
func (s *Snapshot) CountByType() map[string]int {
	out := make(map[string]int, 3)
	for _, t := range Types() {
		out[t] = 0
	}
	for _, a := range s.actors {
		out[a.Type]++
	}
	return out
}

// Types returns the actor types of the ops-warden inventory, in order. An
// actor's name starts with its type and a dash.
func Types() []string { return []string{"adm", "agt", "atm"} }
