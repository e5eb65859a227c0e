package policy

import (
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/interpreter"
)

// Request shapes a package can decide, named by the front matter's
// `request` key.
const (
	// ShapeCheck is the ops-warden check request (the default): conditions
	// see `request` and `actor`.
	ShapeCheck = "check"
	// ShapeAuthZEN is the whole OpenID AuthZEN 1.0 request: conditions see
	// `subject`, `resource`, `action`, `context`, and the entity data
	// through subject_data() and resource_data().
	ShapeAuthZEN = "authzen"
)

// Entity is an AuthZEN subject or resource. Properties holds JSON values
// as decoded: string, bool, int64 (integral numbers), float64, nil,
// []any and map[string]any.
type Entity struct {
	Type       string
	ID         string
	Properties map[string]any
}

// Action is an AuthZEN action.
type Action struct {
	Name       string
	Properties map[string]any
}

// Evaluation is one AuthZEN access evaluation as conditions see it.
type Evaluation struct {
	Subject  Entity
	Action   Action
	Resource Entity
	Context  map[string]any
}

// Data is the entity data conditions can read by type and id. Properties
// returns nil when the document has no such entity, and a non-nil (maybe
// empty) map when it has. The maps are never modified: a package keeps
// the CEL value of each map it has read (see entityValues).
type Data interface {
	SubjectProperties(typ, id string) map[string]any
	ResourceProperties(typ, id string) map[string]any
}

// CEL object type names of the AuthZEN variables.
const (
	entityTypeName = "flexauth.Entity"
	actionTypeName = "flexauth.Action"
)

var (
	entityType = types.NewObjectType(entityTypeName)
	actionType = types.NewObjectType(actionTypeName)
	propsType  = types.NewMapType(types.StringType, types.DynType)
)

// authzenFieldNames lists the fields of the two AuthZEN object types.
var authzenFieldNames = map[string][]string{
	entityTypeName: {"type", "id", "properties"},
	actionTypeName: {"name", "properties"},
}

func propsVal(m map[string]any) ref.Val {
	if m == nil {
		m = map[string]any{}
	}
	return types.NewStringInterfaceMap(types.DefaultTypeAdapter, m)
}

// authzenField returns the CEL field of an AuthZEN object type.
func authzenField(typeName, name string) (*types.FieldType, bool) {
	switch typeName + "." + name {
	case entityTypeName + ".type":
		return strField(func(e *Entity) string { return e.Type }), true
	case entityTypeName + ".id":
		return strField(func(e *Entity) string { return e.ID }), true
	case entityTypeName + ".properties":
		return &types.FieldType{Type: propsType,
			GetFrom: func(t any) (any, error) { return propsVal(t.(*Entity).Properties), nil },
			IsSet:   func(t any) bool { return len(t.(*Entity).Properties) > 0 }}, true
	case actionTypeName + ".name":
		return &types.FieldType{Type: types.StringType,
			GetFrom: func(t any) (any, error) { return types.String(t.(*Action).Name), nil },
			IsSet:   func(t any) bool { return t.(*Action).Name != "" }}, true
	case actionTypeName + ".properties":
		return &types.FieldType{Type: propsType,
			GetFrom: func(t any) (any, error) { return propsVal(t.(*Action).Properties), nil },
			IsSet:   func(t any) bool { return len(t.(*Action).Properties) > 0 }}, true
	}
	return nil, false
}

func strField(f func(*Entity) string) *types.FieldType {
	return &types.FieldType{Type: types.StringType,
		GetFrom: func(t any) (any, error) { return types.String(f(t.(*Entity))), nil },
		IsSet:   func(t any) bool { return f(t.(*Entity)) != "" }}
}

// entityVal and actionVal are the CEL values of the AuthZEN variables.
type entityVal struct{ e *Entity }

func (v entityVal) ConvertToNative(t reflect.Type) (any, error) { return convertNative(v.e, t) }
func (v entityVal) ConvertToType(t ref.Type) ref.Val            { return convertType(v, entityType, t) }
func (v entityVal) Equal(other ref.Val) ref.Val {
	o, ok := other.(entityVal)
	return types.Bool(ok && o.e.Type == v.e.Type && o.e.ID == v.e.ID)
}
func (v entityVal) Type() ref.Type { return entityType }
func (v entityVal) Value() any     { return v.e }

type actionVal struct{ a *Action }

func (v actionVal) ConvertToNative(t reflect.Type) (any, error) { return convertNative(v.a, t) }
func (v actionVal) ConvertToType(t ref.Type) ref.Val            { return convertType(v, actionType, t) }
func (v actionVal) Equal(other ref.Val) ref.Val {
	o, ok := other.(actionVal)
	return types.Bool(ok && o.a.Name == v.a.Name)
}
func (v actionVal) Type() ref.Type { return actionType }
func (v actionVal) Value() any     { return v.a }

// authzenActivation resolves the variables of one AuthZEN evaluation.
type authzenActivation struct {
	ev     *Evaluation
	extras map[string]ref.Val
}

func (a *authzenActivation) ResolveName(name string) (any, bool) {
	switch name {
	case "subject":
		return entityVal{&a.ev.Subject}, true
	case "resource":
		return entityVal{&a.ev.Resource}, true
	case "action":
		return actionVal{&a.ev.Action}, true
	case "context":
		return propsVal(a.ev.Context), true
	}
	v, ok := a.extras[name]
	return v, ok
}

func (a *authzenActivation) Parent() interpreter.Activation { return nil }

// authzenEnvOptions declares the AuthZEN variables and the entity data
// functions, bound to data (the document loaded together with the
// package); nil data answers empty maps.
func authzenEnvOptions(data Data) []cel.EnvOption {
	// entity binds a (type, id) function over the subject (or resource)
	// properties of data: answer maps what the lookup found (nil: none).
	entity := func(subject bool, answer func(map[string]any) ref.Val) func(typ, id ref.Val) ref.Val {
		return func(typ, id ref.Val) ref.Val {
			t, ok1 := typ.(types.String)
			i, ok2 := id.(types.String)
			if !ok1 || !ok2 {
				return types.NewErr("entity lookup needs (string, string)")
			}
			if data == nil {
				return answer(nil)
			}
			if subject {
				return answer(data.SubjectProperties(string(t), string(i)))
			}
			return answer(data.ResourceProperties(string(t), string(i)))
		}
	}
	values := &entityValues{}
	lookup := func(subject bool) func(typ, id ref.Val) ref.Val { return entity(subject, values.of) }
	known := func(subject bool) func(typ, id ref.Val) ref.Val {
		return entity(subject, func(m map[string]any) ref.Val { return types.Bool(m != nil) })
	}
	return []cel.EnvOption{
		cel.Function("subject_known", cel.Overload("subject_known_string_string",
			[]*types.Type{types.StringType, types.StringType}, types.BoolType,
			cel.BinaryBinding(known(true)))),
		cel.Function("resource_known", cel.Overload("resource_known_string_string",
			[]*types.Type{types.StringType, types.StringType}, types.BoolType,
			cel.BinaryBinding(known(false)))),
		// optional field selection: subject_data(t, id).?roles.orValue([])
		cel.OptionalTypes(),
		cel.Variable("subject", entityType),
		cel.Variable("resource", entityType),
		cel.Variable("action", actionType),
		cel.Variable("context", propsType),
		cel.Function("subject_data", cel.Overload("subject_data_string_string",
			[]*types.Type{types.StringType, types.StringType}, propsType,
			cel.BinaryBinding(lookup(true)))),
		cel.Function("resource_data", cel.Overload("resource_data_string_string",
			[]*types.Type{types.StringType, types.StringType}, propsType,
			cel.BinaryBinding(lookup(false)))),
	}
}

// builtinNames returns the variables a package of the shape declares, which
// its own variables may not reuse.
func builtinNames(shape string) []string {
	if shape == ShapeAuthZEN {
		return []string{"subject", "resource", "action", "context", "subject_data", "resource_data", "subject_known", "resource_known"}
	}
	return []string{"request", "actor"}
}

func validShape(s string) error {
	if s == ShapeCheck || s == ShapeAuthZEN {
		return nil
	}
	return fmt.Errorf("request %q must be %s or %s", s, ShapeCheck, ShapeAuthZEN)
}

// entityValues keeps the CEL values of the entity data's property maps,
// converted once (every nested list and map too) instead of at every
// lookup and every member read: up to maxEntityValues maps, after which
// the others are converted at each lookup as before. An entry is keyed
// by the map's address and holds the map, so that the address cannot be
// reused by another map while the entry exists.
type entityValues struct {
	m sync.Map // map address -> *entityValue
	n atomic.Int64
}

type entityValue struct {
	props map[string]any
	val   ref.Val
}

// maxEntityValues bounds the maps an entityValues keeps (about 16 MiB for
// entities of a few short properties each).
const maxEntityValues = 1 << 15

// of returns the CEL value of m (an empty map for nil).
func (c *entityValues) of(m map[string]any) ref.Val {
	if m == nil {
		return propsVal(nil)
	}
	key := mapKey(m)
	if e, ok := c.m.Load(key); ok {
		return e.(*entityValue).val
	}
	v := celValue(m)
	if c.n.Load() < maxEntityValues {
		if _, loaded := c.m.LoadOrStore(key, &entityValue{props: m, val: v}); !loaded {
			c.n.Add(1)
		}
	}
	return v
}

// mapKey is the address of m.
func mapKey(m map[string]any) unsafe.Pointer { return reflect.ValueOf(m).UnsafePointer() }

// celValue converts a JSON value as decoded (see Entity) into a CEL
// value, lists and maps element by element.
func celValue(v any) ref.Val {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[ref.Val]ref.Val, len(v))
		for k, e := range v {
			m[types.String(k)] = celValue(e)
		}
		return types.NewRefValMap(types.DefaultTypeAdapter, m)
	case []any:
		l := make([]ref.Val, len(v))
		for i, e := range v {
			l[i] = celValue(e)
		}
		return types.NewRefValList(types.DefaultTypeAdapter, l)
	}
	return types.DefaultTypeAdapter.NativeToValue(v)
}
