package entities

import (
	"math"
	"slices"
	"sort"

	"github.com/stellaops/authgate/pkg/policy"
)

// End is what Iter.Seek answers when no candidate is left.
const End = math.MaxInt

// Iter walks the positions of a search's candidates in the sorted ids of
// the searched type.
type Iter interface {
	// Seek returns the first candidate position at or after pos, or End.
	Seek(pos int) int
}

// Index lists, per entity type and for each attribute the loaded
// packages' searches test (policy.Package.SearchAttributes), which
// entities have it, which hold each scalar value in it, and which hold
// each value as a list element or map key. Positions are those of the
// entities in the sorted ids of their type, so a search walks them in
// the order of a scan and pages by the same offsets. It is built once
// per loaded set and immutable.
type Index struct {
	subjects, resources map[string]*typeIndex
	data                *Data
}

type typeIndex struct {
	has    map[string][]int
	equal  map[string]map[string][]int
	member map[string]map[string][]int
}

// NewIndex indexes the attributes subjectAttrs of every subject and
// resourceAttrs of every resource of d (which may be nil: no entities).
func NewIndex(d *Data, subjectAttrs, resourceAttrs []string) *Index {
	x := &Index{data: d, subjects: map[string]*typeIndex{}, resources: map[string]*typeIndex{}}
	if d == nil {
		return x
	}
	build := func(k *kind, attrs []string, out map[string]*typeIndex) {
		if len(attrs) == 0 {
			return
		}
		for typ, ids := range k.byType {
			ti := &typeIndex{has: map[string][]int{}, equal: map[string]map[string][]int{}, member: map[string]map[string][]int{}}
			for _, a := range attrs {
				ti.equal[a] = map[string][]int{}
				ti.member[a] = map[string][]int{}
			}
			for pos, id := range ids {
				props := k.byKey[typ+"\x00"+id]
				for _, a := range attrs {
					v, ok := props[a]
					if !ok {
						continue
					}
					ti.has[a] = append(ti.has[a], pos)
					if key, ok := policy.ValueKey(v); ok {
						ti.equal[a][key] = append(ti.equal[a][key], pos)
					}
					ti.addMembers(a, v, pos)
				}
			}
			out[typ] = ti
		}
	}
	build(&d.subjects, subjectAttrs, x.subjects)
	build(&d.resources, resourceAttrs, x.resources)
	return x
}

// addMembers records the keys of v's list elements or map keys.
func (ti *typeIndex) addMembers(attr string, v any, pos int) {
	var keys []string
	switch c := v.(type) {
	case []any:
		for _, e := range c {
			if k, ok := policy.ValueKey(e); ok {
				keys = append(keys, k)
			}
		}
	case map[string]any:
		for k := range c {
			keys = append(keys, "s"+k)
		}
	}
	slices.Sort(keys)
	for _, k := range slices.Compact(keys) {
		ti.member[attr][k] = append(ti.member[attr][k], pos)
	}
}

// Candidates returns the positions, among the sorted ids of the searched
// type, of the entities that satisfy f; what the index does not hold
// (an attribute it was not built for) counts as every entity.
func (x *Index) Candidates(s policy.Searched, typ string, f policy.Filter) Iter {
	var ids []string
	var ti *typeIndex
	if x.data != nil {
		if s == policy.SearchSubjects {
			ids, ti = x.data.SubjectIDs(typ), x.subjects[typ]
		} else {
			ids, ti = x.data.ResourceIDs(typ), x.resources[typ]
		}
	}
	return x.iter(f, ids, ti)
}

func (x *Index) iter(f policy.Filter, ids []string, ti *typeIndex) Iter {
	n := len(ids)
	switch f.Op {
	case policy.FilterNone:
		return postings(nil)
	case policy.FilterID:
		var ps postings
		for _, id := range f.Keys {
			if i, ok := slices.BinarySearch(ids, id); ok {
				ps = append(ps, i)
			}
		}
		slices.Sort(ps)
		return ps
	case policy.FilterHas:
		if ti != nil {
			if ps, ok := ti.has[f.Attr]; ok || ti.indexed(f.Attr) {
				return postings(ps)
			}
		}
	case policy.FilterEqual, policy.FilterMember:
		if ti == nil || !ti.indexed(f.Attr) {
			break
		}
		m := ti.equal[f.Attr]
		if f.Op == policy.FilterMember {
			m = ti.member[f.Attr]
		}
		var u union
		for _, k := range f.Keys {
			if ps := m[k]; len(ps) > 0 {
				u = append(u, postings(ps))
			}
		}
		return u.simple()
	case policy.FilterAnd:
		var a and
		for _, sub := range f.Subs {
			a = append(a, x.iter(sub, ids, ti))
		}
		return a
	case policy.FilterOr:
		var u union
		for _, sub := range f.Subs {
			u = append(u, x.iter(sub, ids, ti))
		}
		return u.simple()
	}
	return all(n)
}

// indexed reports whether the attribute was indexed for this type.
func (ti *typeIndex) indexed(attr string) bool {
	_, ok := ti.equal[attr]
	return ok
}

// Every walks every position below n.
func Every(n int) Iter { return all(n) }

// all is every position below it.
type all int

func (a all) Seek(pos int) int {
	if pos < int(a) {
		return pos
	}
	return End
}

// postings is a sorted list of positions.
type postings []int

func (p postings) Seek(pos int) int {
	i := sort.Search(len(p), func(i int) bool { return p[i] >= pos })
	if i == len(p) {
		return End
	}
	return p[i]
}

// union is the positions of any of its iterators.
type union []Iter

func (u union) simple() Iter {
	if len(u) == 1 {
		return u[0]
	}
	return u
}

func (u union) Seek(pos int) int {
	best := End
	for _, it := range u {
		if p := it.Seek(pos); p < best {
			best = p
		}
	}
	return best
}

// and is the positions of all of its iterators (leapfrog: each seeks to
// the largest position so far until they agree).
type and []Iter

func (a and) Seek(pos int) int {
	for pos != End {
		agreed := true
		for _, it := range a {
			if p := it.Seek(pos); p != pos {
				pos, agreed = p, false
				break
			}
		}
		if agreed {
			return pos
		}
	}
	return End
}
