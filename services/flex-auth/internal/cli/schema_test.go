package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/stellaops/authgate/pkg/yamljson"
)

// TestSchemasMatchCommittedFiles regenerates the schemas into a temporary
// directory with the schema command and compares them with api/schemas.
func TestSchemasMatchCommittedFiles(t *testing.T) {
	dir := t.TempDir()
	if code, out, errOut := run(t, "schema", "--out", dir); code != ExitOK {
		t.Fatalf("exit %d %s %s", code, out, errOut)
	}
	generated, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(generated) != 5 {
		t.Fatalf("generated %v %v", generated, err)
	}
	committed, _ := filepath.Glob(filepath.Join(schemaDir, "*.schema.json"))
	var names []string
	for _, g := range generated {
		names = append(names, filepath.Base(g))
		got, _ := os.ReadFile(g)
		want, err := os.ReadFile(filepath.Join(schemaDir, filepath.Base(g)))
		if err != nil {
			t.Errorf("%s is not committed (run: go run ./services/flex-auth schema)", filepath.Base(g))
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("api/schemas/%s drifted from the Go types (run: go run ./services/flex-auth schema)", filepath.Base(g))
		}
	}
	if len(committed) != len(generated) {
		sort.Strings(names)
		t.Errorf("committed %v, generated %v", committed, names)
	}
}

// TestSchemasAcceptTheOpsWardenFiles validates the committed fixtures and
// sample documents against the exported schemas.
func TestSchemasAcceptTheOpsWardenFiles(t *testing.T) {
	schemas, err := Schemas()
	if err != nil {
		t.Fatal(err)
	}
	compile := func(name string) *jsonschema.Schema {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemas[name]))
		if err != nil {
			t.Fatal(err)
		}
		c := jsonschema.NewCompiler()
		if err := c.AddResource(name, doc); err != nil {
			t.Fatal(err)
		}
		s, err := c.Compile(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return s
	}
	check := func(name string, doc any, valid bool) {
		t.Helper()
		err := compile(name).Validate(doc)
		if (err == nil) != valid {
			t.Errorf("%s: valid=%v, err=%v", name, valid, err)
		}
	}
	raw, _ := os.ReadFile(opsRegistry)
	snap, _ := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	check("registry-snapshot.schema.json", snap, true)
	invalid, _ := os.ReadFile("testdata/invalid_snapshot.json")
	bad, _ := jsonschema.UnmarshalJSON(bytes.NewReader(invalid))
	check("registry-snapshot.schema.json", bad, false)

	cases, err := loadCases(opsCases)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(cases)
	doc, _ := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	check("simulation-cases.schema.json", doc, true)

	req, _ := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(`{"actor":"agt-state-hub-bridge","subject":"iam:agt-state-hub-bridge","action":"ssh.sign","principal":"agt-task-bridge","ttl_hours":24}`)))
	check("check-request.schema.json", req, true)
	noActor, _ := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(`{"subject":"x","extra":1}`)))
	check("check-request.schema.json", noActor, false)

	yamlDoc, err := os.ReadFile("../../../../configs/todo-app/entities.yaml")
	if err != nil {
		t.Fatal(err)
	}
	js, err := yamljson.ToJSON(yamlDoc)
	if err != nil {
		t.Fatal(err)
	}
	ents, _ := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	check("entities.schema.json", ents, true)
	noVersion, _ := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(`{"subjects":[{"type":"user"}]}`)))
	check("entities.schema.json", noVersion, false)
}
