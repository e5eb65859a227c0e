package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/invopop/jsonschema"

	"github.com/stellaops/authgate/services/flex-auth/internal/checkapi"
	"github.com/stellaops/authgate/services/flex-auth/internal/entities"
	"github.com/stellaops/authgate/services/flex-auth/internal/snapshot"
)

// SchemaBaseURI prefixes the $id of every exported schema.
const SchemaBaseURI = "https://schemas.stellaops.dev/flex-auth/"

// DefaultSchemaDir is where the schemas are committed.
const DefaultSchemaDir = "api/schemas"

// Schemas returns the JSON Schemas (draft 2020-12) generated from the Go
// types, keyed by file name.
func Schemas() (map[string][]byte, error) {
	defs := []struct {
		file, title, description string
		v                        any
	}{
		{"registry-snapshot.schema.json", "flex-auth registry snapshot",
			"Actors generated from the ops-warden inventory; read by flex-auth load-registry and serve.", &snapshot.File{}},
		{"check-request.schema.json", "flex-auth check request",
			"Body of POST /v1/check. Unknown fields are rejected.", &checkapi.Request{}},
		{"decision-envelope.schema.json", "flex-auth decision envelope",
			"Answer of POST /v1/check.", &checkapi.Decision{}},
		{"entities.schema.json", "flex-auth entity data",
			"Subjects and resources by type and id with properties; read by flex-auth serve --data. Ids are unique per type.", &entities.File{}},
		{"simulation-cases.schema.json", "flex-auth simulation case file",
			"Cases for flex-auth policy simulate: check requests with the decision each must get.", &CaseFile{}},
	}
	out := make(map[string][]byte, len(defs))
	for _, d := range defs {
		r := &jsonschema.Reflector{}
		s := r.Reflect(d.v)
		s.ID = jsonschema.ID(SchemaBaseURI + d.file)
		s.Title = d.title
		s.Description = d.description
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(s); err != nil {
			return nil, fmt.Errorf("schema %s: %w", d.file, err)
		}
		// Schema.MarshalJSON escapes <, > and & itself; undo it for readers.
		b := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(buf.String())
		out[d.file] = []byte(b)
	}
	return out, nil
}

func runSchema(_ context.Context, env Env, args []string) int {
	fs := newFlags(env, "schema", "[--out DIR]")
	dir := fs.String("out", DefaultSchemaDir, "directory to write the schema files into")
	rest, code, ok := parseFlags(fs, args)
	switch {
	case !ok:
		return code
	case len(rest) > 0:
		return usageError(env, fs, "unexpected argument %q", rest[0])
	}
	schemas, err := Schemas()
	if err != nil {
		fmt.Fprintf(env.Stderr, "flex-auth schema: %v\n", err)
		return ExitFailure
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil { //nolint:gosec // G301: published schemas, readable by all
		fmt.Fprintf(env.Stderr, "flex-auth schema: %v\n", err)
		return ExitFailure
	}
	names := make([]string, 0, len(schemas))
	for name := range schemas {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		path := filepath.Join(*dir, name)
		if err := os.WriteFile(path, schemas[name], 0o644); err != nil { //nolint:gosec // G306: published schemas, readable by all
			fmt.Fprintf(env.Stderr, "flex-auth schema: %v\n", err)
			return ExitFailure
		}
		fmt.Fprintln(env.Stdout, path)
	}
	return ExitOK
}
