package policy

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/interpreter"
)

// CEL object type names of the two built-in variables.
const (
	requestTypeName = "flexauth.Request"
	actorTypeName   = "flexauth.Actor"
)

// The CEL types of the two built-in variables. They are immutable
// descriptors, shared like sentinel errors.
var (
	requestType = types.NewObjectType(requestTypeName)
	actorType   = types.NewObjectType(actorTypeName)
)

var errNullActor = errors.New("actor is null (not in the registry); guard the condition with `actor == null ||` or has(actor.name)")

// Slots of the per-evaluation value cache: each field a condition reads is
// converted to a CEL value once per Evaluate, however many rules read it.
const (
	slotReqActor = iota
	slotReqSubject
	slotReqAction
	slotReqPrincipal
	slotReqResource
	slotReqTTL
	slotReqContext
	slotActName
	slotActType
	slotActPrincipal
	slotActMaxTTL
	slotActDefaultTTL
	slotActSubjects
	numSlots
)

// field describes one CEL-visible field: its CEL type, its cache slot and
// a direct accessor, so evaluation reads the struct without reflection.
type field struct {
	typ   *types.Type
	slot  int
	value func(*activation) (ref.Val, error)
	isSet func(*activation) bool
}

// objectDef is a CEL object type backed by a Go struct.
type objectDef struct {
	typ    *types.Type
	names  []string
	fields map[string]field
}

func reqStr(slot int, f func(*Request) string) field {
	return field{
		typ:   types.StringType,
		slot:  slot,
		value: func(a *activation) (ref.Val, error) { return types.String(f(a.req)), nil },
		isSet: func(a *activation) bool { return f(a.req) != "" },
	}
}

func actStr(slot int, f func(*Actor) string) field {
	return field{
		typ:   types.StringType,
		slot:  slot,
		value: func(a *activation) (ref.Val, error) { return types.String(f(a.act)), nil },
		isSet: func(a *activation) bool { return f(a.act) != "" },
	}
}

func actInt(slot int, f func(*Actor) int64) field {
	return field{
		typ:   types.IntType,
		slot:  slot,
		value: func(a *activation) (ref.Val, error) { return types.Int(f(a.act)), nil },
		isSet: func(a *activation) bool { return f(a.act) != 0 },
	}
}

func requestFields() objectDef {
	fs := map[string]field{
		"actor":     reqStr(slotReqActor, func(r *Request) string { return r.Actor }),
		"subject":   reqStr(slotReqSubject, func(r *Request) string { return r.Subject }),
		"action":    reqStr(slotReqAction, func(r *Request) string { return r.Action }),
		"principal": reqStr(slotReqPrincipal, func(r *Request) string { return r.Principal }),
		"resource":  reqStr(slotReqResource, func(r *Request) string { return r.Resource }),
		"ttl_hours": {
			typ:   types.IntType,
			slot:  slotReqTTL,
			value: func(a *activation) (ref.Val, error) { return types.Int(a.req.TTLHours), nil },
			isSet: func(a *activation) bool { return a.req.HasTTL },
		},
		"context": {
			typ:  types.NewMapType(types.StringType, types.DynType),
			slot: slotReqContext,
			value: func(a *activation) (ref.Val, error) {
				if a.req.Context == nil {
					return types.NewStringInterfaceMap(types.DefaultTypeAdapter, map[string]any{}), nil
				}
				return types.NewStringInterfaceMap(types.DefaultTypeAdapter, a.req.Context), nil
			},
			isSet: func(a *activation) bool { return len(a.req.Context) > 0 },
		},
	}
	return objectDef{
		typ:    requestType,
		names:  []string{"actor", "subject", "action", "principal", "resource", "ttl_hours", "context"},
		fields: fs,
	}
}

func actorFields() objectDef {
	fs := map[string]field{
		"name":              actStr(slotActName, func(a *Actor) string { return a.Name }),
		"type":              actStr(slotActType, func(a *Actor) string { return a.Type }),
		"principal":         actStr(slotActPrincipal, func(a *Actor) string { return a.Principal }),
		"max_ttl_hours":     actInt(slotActMaxTTL, func(a *Actor) int64 { return a.MaxTTLHours }),
		"default_ttl_hours": actInt(slotActDefaultTTL, func(a *Actor) int64 { return a.DefaultTTLHours }),
		"allowed_subjects": {
			typ:   types.NewListType(types.StringType),
			slot:  slotActSubjects,
			value: func(a *activation) (ref.Val, error) { return stringList{&a.act.AllowedSubjects}, nil },
			isSet: func(a *activation) bool { return len(a.act.AllowedSubjects) > 0 },
		},
	}
	return objectDef{
		typ:    actorType,
		names:  []string{"name", "type", "principal", "max_ttl_hours", "default_ttl_hours", "allowed_subjects"},
		fields: fs,
	}
}

// getter and tester adapt a field to the accessors CEL calls with the
// object being selected from: the *activation behind a requestVal or
// actorVal, or something else (a null actor) that has no fields.
func (f field) getter(isActor bool) ref.FieldGetter {
	return func(target any) (any, error) {
		a, ok := target.(*activation)
		if !ok || a == nil || (isActor && a.act == nil) || (!isActor && a.req == nil) {
			if isActor {
				return nil, errNullActor
			}
			return nil, fmt.Errorf("request: unexpected value %T", target)
		}
		if v := a.cache[f.slot]; v != nil {
			return v, nil
		}
		v, err := f.value(a)
		if err == nil {
			a.cache[f.slot] = v
		}
		return v, err
	}
}

func (f field) tester(isActor bool) ref.FieldTester {
	return func(target any) bool {
		a, ok := target.(*activation)
		if !ok || a == nil || (isActor && a.act == nil) || (!isActor && a.req == nil) {
			return false
		}
		return f.isSet(a)
	}
}

// provider adds the Request and Actor object types to a CEL type registry.
type provider struct {
	*types.Registry
	objects map[string]objectDef
}

func newProvider() (*provider, error) {
	reg, err := types.NewRegistry()
	if err != nil {
		return nil, err
	}
	return &provider{Registry: reg, objects: map[string]objectDef{
		requestTypeName: requestFields(),
		actorTypeName:   actorFields(),
	}}, nil
}

// FindStructType implements types.Provider.
func (p *provider) FindStructType(name string) (*types.Type, bool) {
	if o, ok := p.objects[name]; ok {
		return types.NewTypeTypeWithParam(o.typ), true
	}
	switch name {
	case entityTypeName:
		return types.NewTypeTypeWithParam(entityType), true
	case actionTypeName:
		return types.NewTypeTypeWithParam(actionType), true
	}
	return p.Registry.FindStructType(name)
}

// FindStructFieldNames implements types.Provider.
func (p *provider) FindStructFieldNames(name string) ([]string, bool) {
	if o, ok := p.objects[name]; ok {
		return append([]string(nil), o.names...), true
	}
	if names, ok := authzenFieldNames[name]; ok {
		return append([]string(nil), names...), true
	}
	return p.Registry.FindStructFieldNames(name)
}

// FindStructFieldType implements types.Provider.
func (p *provider) FindStructFieldType(name, fieldName string) (*types.FieldType, bool) {
	o, ok := p.objects[name]
	if !ok {
		if _, authzen := authzenFieldNames[name]; authzen {
			return authzenField(name, fieldName)
		}
		return p.Registry.FindStructFieldType(name, fieldName)
	}
	f, ok := o.fields[fieldName]
	if !ok {
		return nil, false
	}
	isActor := name == actorTypeName
	return &types.FieldType{Type: f.typ, GetFrom: f.getter(isActor), IsSet: f.tester(isActor)}, true
}

// NewValue implements types.Provider; policy conditions cannot construct
// requests or actors.
func (p *provider) NewValue(name string, fields map[string]ref.Val) ref.Val {
	_, authzen := authzenFieldNames[name]
	if _, ok := p.objects[name]; ok || authzen {
		return types.NewErr("%s values cannot be constructed in a condition", name)
	}
	return p.Registry.NewValue(name, fields)
}

// requestVal and actorVal are the CEL values of the request and of a known
// actor. Each wraps the evaluation's activation (a single pointer, so boxing
// it in an interface does not allocate); field reads go through its cache.
type requestVal struct{ a *activation }

func (v requestVal) ConvertToNative(t reflect.Type) (any, error) { return convertNative(v.a.req, t) }
func (v requestVal) ConvertToType(t ref.Type) ref.Val            { return convertType(v, requestType, t) }
func (v requestVal) Equal(other ref.Val) ref.Val {
	o, ok := other.(requestVal)
	return types.Bool(ok && o.a.req == v.a.req)
}
func (v requestVal) Type() ref.Type { return requestType }
func (v requestVal) Value() any     { return v.a }

type actorVal struct{ a *activation }

func (v actorVal) ConvertToNative(t reflect.Type) (any, error) { return convertNative(v.a.act, t) }
func (v actorVal) ConvertToType(t ref.Type) ref.Val            { return convertType(v, actorType, t) }
func (v actorVal) Equal(other ref.Val) ref.Val {
	o, ok := other.(actorVal)
	return types.Bool(ok && o.a.act == v.a.act)
}
func (v actorVal) Type() ref.Type { return actorType }
func (v actorVal) Value() any     { return v.a }

func convertNative(ptr any, t reflect.Type) (any, error) {
	if reflect.TypeOf(ptr).AssignableTo(t) {
		return ptr, nil
	}
	return nil, fmt.Errorf("type conversion error from %T to %v", ptr, t)
}

func convertType(v ref.Val, own *types.Type, t ref.Type) ref.Val {
	switch {
	case t == types.TypeType:
		return own
	case t.TypeName() == own.TypeName():
		return v
	}
	return types.NewErr("type conversion error from '%s' to '%s'", own.TypeName(), t.TypeName())
}

// activation resolves the variables of one evaluation directly from the
// caller's structs; nothing is copied into maps. It also caches the CEL
// values of the fields read so far.
type activation struct {
	req    *Request
	act    *Actor // nil when the actor is unknown
	extras map[string]ref.Val
	cache  [numSlots]ref.Val
}

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "request":
		return requestVal{a}, true
	case "actor":
		if a.act == nil {
			return types.NullValue, true
		}
		return actorVal{a}, true
	}
	v, ok := a.extras[name]
	return v, ok
}

func (a *activation) Parent() interpreter.Activation { return nil }
