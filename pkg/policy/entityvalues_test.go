package policy

import (
	"fmt"
	"testing"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
)

// The converted entity values answer every expression as the lazily
// adapted maps did.
func TestEntityValuesAnswerAsAdapted(t *testing.T) {
	props := map[string]any{
		"roles": []any{"editor", "viewer"}, "level": int64(3), "ratio": 0.5, "on": true, "none": nil,
		"nested": map[string]any{"team": "a", "ids": []any{int64(1), 2.0}},
		"mixed":  []any{"x", int64(1), map[string]any{"k": "v"}, []any{}, nil},
	}
	env, err := cel.NewEnv(cel.Variable("m", propsType))
	if err != nil {
		t.Fatal(err)
	}
	var c entityValues
	for _, expr := range []string{
		`"editor" in m.roles`, `"admin" in m.roles`, `has(m.roles)`, `has(m.absent)`, `size(m)`, `size(m.roles)`,
		`m.level == 3`, `m.level == 3.0`, `m.level > 2`, `m.ratio == 0.5`, `m.on`, `m.none == null`,
		`m.nested.team == "a"`, `1 in m.nested.ids`, `2 in m.nested.ids`, `m.nested.ids == [1, 2]`,
		`m.roles == ["editor", "viewer"]`, `m.roles.exists(r, r == "viewer")`, `m.mixed[2].k`, `size(m.mixed[3])`,
		`m.mixed[4] == null`, `"team" in m.nested`, `m.absent`, `m.roles[5]`, `m["level"] + 1`, `m.nested == {"team": "a", "ids": [1, 2.0]}`,
		`m.keys().size()`, `m.roles + ["x"]`, `type(m.level) == int`, `type(m.roles) == list`,
	} {
		ast, iss := env.Compile(expr)
		if iss.Err() != nil {
			if _, iss := env.Parse(expr); iss.Err() != nil {
				t.Fatalf("%s: %v", expr, iss.Err())
			}
			continue // not for this env (m.keys())
		}
		prg, err := env.Program(ast)
		if err != nil {
			t.Fatal(err)
		}
		eval := func(v ref.Val) string {
			out, _, err := prg.Eval(map[string]any{"m": v})
			if err != nil {
				return "error"
			}
			return fmt.Sprint(out.Value())
		}
		want := eval(propsVal(props))
		for range 2 { // converted, then kept
			if got := eval(c.of(props)); got != want {
				t.Errorf("%s = %s, want %s", expr, got, want)
			}
		}
	}
	if c.n.Load() != 1 {
		t.Errorf("%d values kept, want 1", c.n.Load())
	}
	if v := c.of(nil); v.(interface{ Size() ref.Val }).Size() != types.Int(0) {
		t.Error("no entity: want an empty map")
	}
}

// Past maxEntityValues, maps are still converted, not kept.
func TestEntityValuesBounded(t *testing.T) {
	var c entityValues
	c.n.Store(maxEntityValues)
	m := map[string]any{"a": "b"}
	if c.of(m).(interface{ Size() ref.Val }).Size() != types.Int(1) {
		t.Error("want the map's value")
	}
	if _, ok := c.m.Load(mapKey(m)); ok {
		t.Error("a map kept past the bound")
	}
}
