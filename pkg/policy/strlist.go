package policy

import (
	"reflect"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// stringList is a CEL list(string) over a Go []string that answers `in`
// without converting elements. It holds a pointer to the slice so that it
// boxes into an interface without allocating; other list operations
// delegate to CEL's own string list.
type stringList struct{ s *[]string }

func (l stringList) list() traits.Lister { return types.NewStringList(types.DefaultTypeAdapter, *l.s) }

// Contains implements traits.Container without allocation.
func (l stringList) Contains(v ref.Val) ref.Val {
	str, ok := v.(types.String)
	if !ok {
		return l.list().Contains(v)
	}
	for _, e := range *l.s {
		if e == string(str) {
			return types.True
		}
	}
	return types.False
}

func (l stringList) Add(o ref.Val) ref.Val                       { return l.list().Add(o) }
func (l stringList) Get(i ref.Val) ref.Val                       { return l.list().Get(i) }
func (l stringList) Iterator() traits.Iterator                   { return l.list().Iterator() }
func (l stringList) Size() ref.Val                               { return types.Int(len(*l.s)) }
func (l stringList) ConvertToNative(t reflect.Type) (any, error) { return l.list().ConvertToNative(t) }
func (l stringList) ConvertToType(t ref.Type) ref.Val            { return l.list().ConvertToType(t) }
func (l stringList) Equal(o ref.Val) ref.Val                     { return l.list().Equal(o) }
func (l stringList) Type() ref.Type                              { return types.ListType }
func (l stringList) Value() any                                  { return *l.s }
