// Package entities loads the entity data document: the subjects and
// resources a PDP knows by type and id, with their properties, which
// conditions of authzen policy packages read (subject_data,
// resource_data) and searches enumerate.
//
//	version: 1
//	subjects:
//	  - {type: user, id: alice, properties: {roles: [admin]}}
//	resources:
//	  - {type: todo, id: "1", properties: {ownerID: alice}}
//
// The document is JSON or YAML. Unknown keys, duplicate entities, missing
// types or ids and properties beyond the bounds of policy.MaxDepth and
// policy.MaxMembers are errors naming the entity and the field.
package entities

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"

	"github.com/go-json-experiment/json"

	"github.com/stellaops/authgate/pkg/policy"
	"github.com/stellaops/authgate/pkg/yamljson"
	"github.com/stellaops/authgate/services/flex-auth/internal/attrs"
)

// Version is the document version this build reads.
const Version = 1

// MaxEntities bounds the subjects plus resources of a document.
const MaxEntities = 200_000

// File is the document as written, for the JSON Schema.
type File struct {
	Version   int      `json:"version" jsonschema:"enum=1,description=Document version; 1."`
	Subjects  []Record `json:"subjects,omitempty" jsonschema:"description=Subjects by type and id."`
	Resources []Record `json:"resources,omitempty" jsonschema:"description=Resources by type and id."`
}

// Record is one entity.
type Record struct {
	Type       string         `json:"type" jsonschema:"minLength=1"`
	ID         string         `json:"id" jsonschema:"minLength=1"`
	Properties map[string]any `json:"properties,omitempty" jsonschema:"description=Any JSON values; at most 1024 members per object or array and 8 levels of nesting."`
}

type wireFile struct {
	Version   *int         `json:"version"`
	Subjects  []wireRecord `json:"subjects"`
	Resources []wireRecord `json:"resources"`
}

type wireRecord struct {
	Type       string    `json:"type"`
	ID         string    `json:"id"`
	Properties attrs.Map `json:"properties"`
}

// Data is a loaded document, immutable and safe for concurrent use. It
// implements policy.Data.
type Data struct {
	digest    string
	subjects  kind
	resources kind
}

type kind struct {
	byKey  map[string]map[string]any // type + "\x00" + id
	byType map[string][]string       // ids in sorted order
	count  int
}

// Digest returns "sha256:<hex>" of the document bytes.
func (d *Data) Digest() string { return d.digest }

// Subjects returns how many subjects the document holds.
func (d *Data) Subjects() int { return d.subjects.count }

// Resources returns how many resources the document holds.
func (d *Data) Resources() int { return d.resources.count }

// SubjectProperties implements policy.Data.
func (d *Data) SubjectProperties(typ, id string) map[string]any {
	return d.subjects.byKey[typ+"\x00"+id]
}

// ResourceProperties implements policy.Data.
func (d *Data) ResourceProperties(typ, id string) map[string]any {
	return d.resources.byKey[typ+"\x00"+id]
}

// SubjectIDs returns the ids of the subjects of typ, sorted; the caller
// must not modify the slice.
func (d *Data) SubjectIDs(typ string) []string { return d.subjects.byType[typ] }

// ResourceIDs returns the ids of the resources of typ, sorted.
func (d *Data) ResourceIDs(typ string) []string { return d.resources.byType[typ] }

// LoadFile reads and validates a document.
func LoadFile(path string) (*Data, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(b)
}

// Parse validates a document (JSON, or YAML).
func Parse(src []byte) (*Data, error) {
	js, err := yamljson.ToJSON(src)
	if err != nil {
		return nil, fmt.Errorf("not valid JSON or YAML: %w", err)
	}
	var w wireFile
	if err := json.Unmarshal(js, &w, json.RejectUnknownMembers(true)); err != nil {
		return nil, describe(err)
	}
	switch {
	case w.Version == nil:
		return nil, errors.New("version: is required (1)")
	case *w.Version != Version:
		return nil, fmt.Errorf("version: %d is not supported (this build reads version %d)", *w.Version, Version)
	case len(w.Subjects)+len(w.Resources) > MaxEntities:
		return nil, fmt.Errorf("more than %d entities", MaxEntities)
	}
	d := &Data{digest: policy.Digest(src)}
	var errs []error
	d.subjects, errs = index("subjects", w.Subjects, errs)
	d.resources, errs = index("resources", w.Resources, errs)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return d, nil
}

func index(list string, recs []wireRecord, errs []error) (kind, []error) {
	k := kind{byKey: make(map[string]map[string]any, len(recs)), byType: map[string][]string{}}
	for i, r := range recs {
		where := list + "[" + strconv.Itoa(i) + "]"
		if r.Type != "" && r.ID != "" {
			where += fmt.Sprintf(" (%s %q)", r.Type, r.ID)
		}
		switch {
		case r.Type == "":
			errs = append(errs, fmt.Errorf("%s: type: is required", where))
			continue
		case r.ID == "":
			errs = append(errs, fmt.Errorf("%s: id: is required", where))
			continue
		}
		key := r.Type + "\x00" + r.ID
		if _, dup := k.byKey[key]; dup {
			errs = append(errs, fmt.Errorf("%s: duplicate entity (the same type and id appear earlier)", where))
			continue
		}
		props := map[string]any(r.Properties)
		if props == nil {
			props = map[string]any{}
		}
		k.byKey[key] = props
		k.byType[r.Type] = append(k.byType[r.Type], r.ID)
		k.count++
	}
	for _, ids := range k.byType {
		sort.Strings(ids)
	}
	return k, errs
}

// describe names the entity and field of a decoding error.
func describe(err error) error {
	var se *json.SemanticError
	var ae *attrs.Error
	if errors.As(err, &se) {
		path := string(se.JSONPointer)
		errors.As(err, &ae)
		problem := "wrong type"
		switch {
		case ae != nil:
			problem = ae.Problem
		case se.Err != nil && errors.Is(se.Err, json.ErrUnknownName):
			problem = "unknown field"
		case se.GoType != nil:
			problem = "must be a " + se.GoType.String()
		}
		return fmt.Errorf("%s: %s", pointerName(path), problem)
	}
	return fmt.Errorf("not valid: %v", err)
}

// pointerName turns "/subjects/3/properties" into "subjects[3].properties".
func pointerName(p string) string {
	out := ""
	seg := ""
	for i := 1; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			seg += string(p[i])
			continue
		}
		if _, err := strconv.Atoi(seg); err == nil && out != "" {
			out += "[" + seg + "]"
		} else if seg != "" {
			if out != "" {
				out += "."
			}
			out += seg
		}
		seg = ""
	}
	return out
}

// Walk calls f with the properties of every entity until f returns false;
// it reports whether f always returned true.
func (d *Data) Walk(f func(map[string]any) bool) bool {
	for _, k := range []*kind{&d.subjects, &d.resources} {
		for key, props := range k.byKey {
			if len(key) > 2*1024 || !f(props) {
				return false
			}
		}
	}
	return true
}
