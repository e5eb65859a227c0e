package entities

import (
	"os"
	"strings"
	"testing"
)

func TestTodoExample(t *testing.T) {
	d, err := LoadFile("../../../../configs/todo-app/entities.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if d.Subjects() != 5 || d.Resources() != 1 || !strings.HasPrefix(d.Digest(), "sha256:") {
		t.Fatalf("%d %d %s", d.Subjects(), d.Resources(), d.Digest())
	}
	roles, _ := d.SubjectProperties("user", "rick@the-citadel.com")["roles"].([]any)
	if len(roles) != 2 || roles[0] != "admin" {
		t.Fatalf("roles %v", roles)
	}
	if d.SubjectProperties("user", "nobody") != nil || d.ResourceProperties("user", "rick@the-citadel.com") != nil {
		t.Fatal("lookup of an unknown entity found something")
	}
	ids := d.SubjectIDs("user")
	if len(ids) != 5 || ids[0] != "beth@the-smiths.com" {
		t.Fatalf("ids %v", ids)
	}
}

func TestParseJSONAndIntegers(t *testing.T) {
	d, err := Parse([]byte(`{"version":1,"resources":[{"type":"doc","id":"1","properties":{"size":9007199254740993,"ratio":0.5}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	p := d.ResourceProperties("doc", "1")
	if p["size"] != int64(9007199254740993) || p["ratio"] != 0.5 {
		t.Fatalf("%#v", p)
	}
}

func TestParseRejects(t *testing.T) {
	deep := "{version: 1, subjects: [{type: u, id: a, properties: {x: " + strings.Repeat("[", 9) + strings.Repeat("]", 9) + "}}]}"
	for _, tc := range []struct{ doc, want string }{
		{`subjects: []`, "version: is required"},
		{`{version: 2}`, "version: 2 is not supported"},
		{`{version: 1, subjects: [{type: user}]}`, `subjects[0]: id: is required`},
		{`{version: 1, resources: [{id: x}]}`, `resources[0]: type: is required`},
		{`{version: 1, subjects: [{type: u, id: a}, {type: u, id: a}]}`, `subjects[1] (u "a"): duplicate entity`},
		{`{version: 1, subjects: [{type: u, id: a, extra: 1}]}`, "subjects[0].extra: unknown field"},
		{`{version: 1, subjects: [{type: u, id: a, properties: [1]}]}`, "subjects[0].properties: must be an object"},
		{deep, "subjects[0].properties.x[0][0][0][0][0][0][0]: nested deeper than 8 levels"},
		{`{version: 1, subjects: [{type: 7, id: a}]}`, "subjects[0].type: must be a string"},
		{"\t- not yaml: [", "not valid JSON or YAML"},
	} {
		_, err := Parse([]byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.doc, err, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("../../../../configs/todo-app/entities.yaml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"version":1,"subjects":[{"type":"u","id":"a","properties":{"r":[1,{"x":null}]}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Parse(b)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		for _, id := range d.SubjectIDs("u") {
			if d.SubjectProperties("u", id) == nil {
				t.Fatalf("listed subject %q has no entry", id)
			}
		}
	})
}
