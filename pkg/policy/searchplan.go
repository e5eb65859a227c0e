package policy

import (
	"math"
	"slices"
	"strconv"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// Searched names the member of an AuthZEN evaluation a search enumerates.
type Searched int

// The members a search enumerates from the entity data.
const (
	SearchSubjects Searched = iota
	SearchResources
)

// FilterOp is the kind of a Filter.
type FilterOp int

// Filter kinds.
const (
	// FilterAll: every candidate may be allowed (no index applies).
	FilterAll FilterOp = iota
	// FilterNone: no candidate is allowed.
	FilterNone
	// FilterID: the candidate's id is one of Keys.
	FilterID
	// FilterEqual: the candidate's entity data attribute Attr equals a
	// value whose ValueKey is one of Keys.
	FilterEqual
	// FilterMember: Attr is a list with an element, or a map with a key,
	// whose ValueKey is one of Keys.
	FilterMember
	// FilterHas: the candidate's entity data has Attr.
	FilterHas
	// FilterAnd: every one of Subs holds.
	FilterAnd
	// FilterOr: one of Subs holds.
	FilterOr
)

// Filter is a necessary condition for a candidate of a search to be
// allowed, in terms of the candidate's id and its entity data: every
// candidate the package allows satisfies it (the converse need not hold,
// so each candidate that satisfies it is still evaluated).
type Filter struct {
	Op   FilterOp
	Attr string
	Keys []string
	Subs []Filter
}

// planOp extends FilterOp with the nodes a plan evaluates per search.
type planOp = FilterOp

// opTest is a plan node whose condition does not depend on the candidate:
// evaluated once per search, false excludes the rule.
const opTest planOp = -1

// planNode is the load-time form of a Filter: conditions and values that
// do not depend on the candidate are programs run once per search.
type planNode struct {
	op   planOp
	attr string
	val  cel.Program // FilterID, FilterEqual, FilterMember: the value(s) compared
	list bool        // val is a collection whose elements (or keys) are the values
	def  cel.Program // data.?attr.orValue(def): the value an entity without attr gets
	test cel.Program // opTest
	subs []planNode
}

// searchPlans is the plan of one rule for each kind of search.
type searchPlans [2]*planNode

// planner derives the plan of one rule's condition for one kind of search.
type planner struct {
	env      *cel.Env
	root     *celast.AST
	limit    uint64
	searched string          // "subject" or "resource"
	dataFn   string          // subject_data or resource_data
	known    map[string]bool // identifiers that do not depend on the candidate
}

// planRule derives both search plans of an authzen rule's condition.
func planRule(env *cel.Env, checked *cel.Ast, names []string, limit uint64) searchPlans {
	native := checked.NativeRep()
	var out searchPlans
	for s, who := range []string{"subject", "resource"} {
		known := map[string]bool{}
		for _, n := range names {
			known[n] = true
		}
		delete(known, who)
		p := &planner{env: env, root: native, limit: limit, searched: who, dataFn: who + "_data", known: known}
		n := p.plan(native.Expr())
		out[s] = &n
	}
	return out
}

var allNode = planNode{op: FilterAll}

func (p *planner) plan(e celast.Expr) planNode {
	if p.independent(e, nil) {
		if prg := p.program(e); prg != nil {
			return planNode{op: opTest, test: prg}
		}
		return allNode
	}
	switch e.Kind() {
	case celast.CallKind:
		c := e.AsCall()
		args := c.Args()
		switch c.FunctionName() {
		case "_&&_", "_||_":
			op := FilterAnd
			if c.FunctionName() == "_||_" {
				op = FilterOr
			}
			n := planNode{op: op}
			for _, a := range args {
				n.subs = append(n.subs, p.plan(a))
			}
			return n
		case "_==_":
			for _, ab := range [][2]celast.Expr{{args[0], args[1]}, {args[1], args[0]}} {
				if p.isID(ab[0]) {
					return p.valued(FilterID, "", ab[1], false)
				}
				if attr, ok := p.attrOf(ab[0]); ok {
					return p.valued(FilterEqual, attr, ab[1], false)
				}
				if attr, def, ok := p.optionalAttrOf(ab[0]); ok {
					return p.withDefault(p.valued(FilterEqual, attr, ab[1], false), def)
				}
			}
		case "@in":
			if p.isID(args[0]) {
				return p.valued(FilterID, "", args[1], true)
			}
			if attr, ok := p.attrOf(args[1]); ok {
				return p.valued(FilterMember, attr, args[0], false)
			}
			if attr, def, ok := p.optionalAttrOf(args[1]); ok {
				return p.withDefault(p.valued(FilterMember, attr, args[0], false), def)
			}
			if p.isData(args[1]) && args[0].Kind() == celast.LiteralKind {
				if s, ok := args[0].AsLiteral().(types.String); ok {
					return planNode{op: FilterHas, attr: string(s)}
				}
			}
		}
	case celast.SelectKind:
		if sel := e.AsSelect(); sel.IsTestOnly() && p.isData(sel.Operand()) {
			return planNode{op: FilterHas, attr: sel.FieldName()}
		}
	case celast.ComprehensionKind:
		return p.exists(e.AsComprehension())
	}
	return allNode
}

// exists plans data.attr.exists(x, x in L) and data.attr.exists(x, x ==
// V); any other exists() over the attribute needs it to be present.
func (p *planner) exists(c celast.ComprehensionExpr) planNode {
	attr, ok := p.attrOf(c.IterRange())
	var def celast.Expr
	if !ok {
		// data.?attr.orValue(def).exists(...): as data.attr, unless def
		// satisfies the predicate (checked per search)
		if attr, def, ok = p.optionalAttrOf(c.IterRange()); !ok {
			return allNode
		}
	}
	init := c.AccuInit()
	step := c.LoopStep()
	if !ok || c.HasIterVar2() || init.Kind() != celast.LiteralKind || init.AsLiteral() != types.False ||
		step.Kind() != celast.CallKind || step.AsCall().FunctionName() != "_||_" ||
		c.Result().AsIdent() != c.AccuVar() {
		return allNode
	}
	has := planNode{op: FilterHas, attr: attr}
	if def != nil {
		has = allNode // without attr the default is iterated
	}
	x := c.IterVar()
	if p.known[x] || x == p.searched {
		return has // the loop variable hides a name: stay with presence
	}
	pred := step.AsCall().Args()[1]
	if pred.Kind() != celast.CallKind {
		return has
	}
	args := pred.AsCall().Args()
	isX := func(e celast.Expr) bool { return e.Kind() == celast.IdentKind && e.AsIdent() == x }
	switch pred.AsCall().FunctionName() {
	case "@in":
		if isX(args[0]) && p.independent(args[1], nil) {
			return p.withDefault(p.valued(FilterMember, attr, args[1], true), def)
		}
	case "_==_":
		for _, ab := range [][2]celast.Expr{{args[0], args[1]}, {args[1], args[0]}} {
			if isX(ab[0]) && p.independent(ab[1], nil) {
				return p.withDefault(p.valued(FilterMember, attr, ab[1], false), def)
			}
		}
	}
	return has
}

// optionalAttrOf matches data.?attr.orValue(def) with def independent of
// the candidate.
func (p *planner) optionalAttrOf(e celast.Expr) (string, celast.Expr, bool) {
	if e.Kind() != celast.CallKind {
		return "", nil, false
	}
	c := e.AsCall()
	if c.FunctionName() != "orValue" || !c.IsMemberFunction() || len(c.Args()) != 1 || !p.independent(c.Args()[0], nil) {
		return "", nil, false
	}
	opt := c.Target()
	if opt.Kind() != celast.CallKind || opt.AsCall().FunctionName() != "_?._" || len(opt.AsCall().Args()) != 2 {
		return "", nil, false
	}
	oa := opt.AsCall().Args()
	if !p.isData(oa[0]) || oa[1].Kind() != celast.LiteralKind {
		return "", nil, false
	}
	name, ok := oa[1].AsLiteral().(types.String)
	return string(name), c.Args()[0], ok
}

// withDefault gives a valued node the default its attribute takes when an
// entity lacks it: a search whose value the default matches cannot use
// the index (every entity without the attribute matches).
func (p *planner) withDefault(n planNode, def celast.Expr) planNode {
	if def == nil || n.op != FilterEqual && n.op != FilterMember {
		return n
	}
	if n.def = p.program(def); n.def == nil {
		return allNode
	}
	return n
}

// valued is a node comparing the candidate with the value of e, which
// must not depend on the candidate.
func (p *planner) valued(op FilterOp, attr string, e celast.Expr, list bool) planNode {
	if !p.independent(e, nil) {
		return allNode
	}
	prg := p.program(e)
	if prg == nil {
		return allNode
	}
	return planNode{op: op, attr: attr, val: prg, list: list}
}

// program plans a sub-expression of the checked condition on its own.
func (p *planner) program(e celast.Expr) cel.Program {
	sub := celast.NewCheckedAST(celast.NewAST(e, p.root.SourceInfo()), p.root.TypeMap(), p.root.ReferenceMap())
	prg, err := p.env.PlanProgram(sub, cel.EvalOptions(cel.OptOptimize), cel.CostLimit(p.limit))
	if err != nil {
		return nil
	}
	return prg
}

// isSearched reports whether e is the searched variable itself.
func (p *planner) isSearched(e celast.Expr) bool {
	return e.Kind() == celast.IdentKind && e.AsIdent() == p.searched
}

// isID reports whether e is the candidate's id (subject.id in a subject
// search).
func (p *planner) isID(e celast.Expr) bool {
	if e.Kind() != celast.SelectKind {
		return false
	}
	sel := e.AsSelect()
	return !sel.IsTestOnly() && sel.FieldName() == "id" && p.isSearched(sel.Operand())
}

// isData reports whether e is the candidate's entity data:
// subject_data(subject.type, subject.id) in a subject search.
func (p *planner) isData(e celast.Expr) bool {
	if e.Kind() != celast.CallKind {
		return false
	}
	c := e.AsCall()
	if c.FunctionName() != p.dataFn || c.IsMemberFunction() || len(c.Args()) != 2 {
		return false
	}
	t := c.Args()[0]
	return t.Kind() == celast.SelectKind && !t.AsSelect().IsTestOnly() && t.AsSelect().FieldName() == "type" &&
		p.isSearched(t.AsSelect().Operand()) && p.isID(c.Args()[1])
}

// attrOf returns the attribute of the candidate's entity data that e
// reads: data.attr or data["attr"].
func (p *planner) attrOf(e celast.Expr) (string, bool) {
	switch e.Kind() {
	case celast.SelectKind:
		if sel := e.AsSelect(); !sel.IsTestOnly() && p.isData(sel.Operand()) {
			return sel.FieldName(), true
		}
	case celast.CallKind:
		c := e.AsCall()
		if c.FunctionName() == "_[_]" && len(c.Args()) == 2 && p.isData(c.Args()[0]) && c.Args()[1].Kind() == celast.LiteralKind {
			if s, ok := c.Args()[1].AsLiteral().(types.String); ok {
				return string(s), true
			}
		}
	}
	return "", false
}

// independent reports whether e has the same value for every candidate:
// it reads the searched variable only through its type and properties
// (the request's), and no name bound outside it other than the
// package's variables, the other members and the loop variables in
// scope.
func (p *planner) independent(e celast.Expr, bound []string) bool {
	switch e.Kind() {
	case celast.LiteralKind:
		return true
	case celast.IdentKind:
		n := e.AsIdent()
		return p.known[n] || slices.Contains(bound, n)
	case celast.SelectKind:
		sel := e.AsSelect()
		if p.isSearched(sel.Operand()) && !slices.Contains(bound, p.searched) {
			return !sel.IsTestOnly() && (sel.FieldName() == "type" || sel.FieldName() == "properties")
		}
		return p.independent(sel.Operand(), bound)
	case celast.CallKind:
		c := e.AsCall()
		if c.IsMemberFunction() && !p.independent(c.Target(), bound) {
			return false
		}
		for _, a := range c.Args() {
			if !p.independent(a, bound) {
				return false
			}
		}
		return true
	case celast.ListKind:
		for _, el := range e.AsList().Elements() {
			if !p.independent(el, bound) {
				return false
			}
		}
		return true
	case celast.MapKind:
		for _, en := range e.AsMap().Entries() {
			me := en.AsMapEntry()
			if !p.independent(me.Key(), bound) || !p.independent(me.Value(), bound) {
				return false
			}
		}
		return true
	case celast.ComprehensionKind:
		c := e.AsComprehension()
		if !p.independent(c.IterRange(), bound) || !p.independent(c.AccuInit(), bound) {
			return false
		}
		inner := append(slices.Clone(bound), c.IterVar(), c.AccuVar())
		if c.HasIterVar2() {
			inner = append(inner, c.IterVar2())
		}
		return p.independent(c.LoopCondition(), inner) && p.independent(c.LoopStep(), inner) && p.independent(c.Result(), inner)
	}
	return false
}

// SearchAttributes returns the entity data attributes of the searched
// entities that the package's search filters name, for the index a
// search uses.
func (p *Package) SearchAttributes(s Searched) []string {
	var out []string
	var walk func(n *planNode)
	walk = func(n *planNode) {
		if n.attr != "" {
			out = append(out, n.attr)
		}
		for i := range n.subs {
			walk(&n.subs[i])
		}
	}
	for i := range p.rules {
		if n := p.rules[i].plans[s]; n != nil {
			walk(n)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// SearchFilter returns a necessary condition for a candidate of a search
// to be allowed by the package: ev is the search's evaluation with the
// searched member's type and properties (its id is not read). A candidate
// is allowed only when an allow rule's condition holds for it, so the
// filter is the union over the allow rules of what each condition
// requires of the candidate; conditions that do not depend on the
// candidate are evaluated here once, and a rule they make false drops
// out. What the filter cannot express (negations, computed attribute
// names, values that fail to evaluate) allows every candidate. A package
// of the check shape gets FilterAll.
func (p *Package) SearchFilter(s Searched, ev *Evaluation) Filter {
	if p.shape != ShapeAuthZEN {
		return Filter{Op: FilterAll}
	}
	act := &authzenActivation{ev: ev, extras: p.extras}
	or := Filter{Op: FilterOr}
	for i := range p.rules {
		r := &p.rules[i]
		if r.info.Effect != EffectAllow {
			continue
		}
		if r.plans[s] == nil {
			return Filter{Op: FilterAll}
		}
		or.Subs = append(or.Subs, r.plans[s].filter(act))
	}
	return simplify(or)
}

// filter evaluates the node's programs for one search.
func (n *planNode) filter(act *authzenActivation) Filter {
	switch n.op {
	case opTest:
		out, _, err := n.test.Eval(act)
		if err == nil && out == types.False {
			return Filter{Op: FilterNone}
		}
		return Filter{Op: FilterAll}
	case FilterAnd, FilterOr:
		f := Filter{Op: n.op}
		for i := range n.subs {
			f.Subs = append(f.Subs, n.subs[i].filter(act))
		}
		return simplify(f)
	case FilterHas:
		return Filter{Op: FilterHas, Attr: n.attr}
	case FilterID, FilterEqual, FilterMember:
		out, _, err := n.val.Eval(act)
		if err != nil {
			return Filter{Op: FilterAll}
		}
		keys, ok := valueKeys(out, n.list, n.op == FilterID)
		if !ok {
			return Filter{Op: FilterAll}
		}
		if n.def != nil {
			def, _, err := n.def.Eval(act)
			if err != nil || defaultMatches(def, keys, n.op == FilterMember) {
				return Filter{Op: FilterAll}
			}
		}
		return Filter{Op: n.op, Attr: n.attr, Keys: keys}
	}
	return Filter{Op: FilterAll}
}

// valueKeys returns the keys of v, or of its elements (map keys) with
// list; ids are strings only.
func valueKeys(v ref.Val, list, ids bool) ([]string, bool) {
	one := func(v ref.Val) (string, bool) {
		if ids {
			s, ok := v.(types.String)
			return string(s), ok
		}
		if v == types.NullValue {
			return "n", true
		}
		return ValueKey(v.Value())
	}
	if !list {
		k, ok := one(v)
		return []string{k}, ok
	}
	var it traits.Iterator
	switch c := v.(type) {
	case traits.Lister:
		it = c.Iterator()
	case traits.Mapper:
		it = c.Iterator()
	default:
		return nil, false
	}
	var keys []string
	for it.HasNext() == types.True {
		k, ok := one(it.Next())
		if !ok {
			return nil, false
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return slices.Compact(keys), true
}

// defaultMatches reports whether the default def of an attribute may
// satisfy the comparison with keys: equal one of them, or (member) hold
// one of them as an element or map key. When unsure it answers true.
func defaultMatches(def ref.Val, keys []string, member bool) bool {
	var defKeys []string
	if member {
		switch def.(type) {
		case traits.Lister, traits.Mapper:
		default:
			return false // `in` a scalar is an error, never true
		}
		k, ok := valueKeys(def, true, false)
		if !ok {
			return true
		}
		defKeys = k
	} else {
		k, ok := valueKeys(def, false, false)
		if !ok {
			return false // a list or map never equals a scalar
		}
		defKeys = k
	}
	for _, k := range defKeys {
		if slices.Contains(keys, k) {
			return true
		}
	}
	return false
}

// simplify folds FilterAll and FilterNone out of an And or Or.
func simplify(f Filter) Filter {
	absorb, unit := FilterNone, FilterAll // And: None absorbs, All is the unit
	if f.Op == FilterOr {
		absorb, unit = FilterAll, FilterNone
	}
	var subs []Filter
	for _, s := range f.Subs {
		switch s.Op {
		case absorb:
			return Filter{Op: absorb}
		case unit:
			continue
		}
		subs = append(subs, s)
	}
	switch len(subs) {
	case 0:
		return Filter{Op: unit}
	case 1:
		return subs[0]
	}
	return Filter{Op: f.Op, Subs: subs}
}

// ValueKey returns the index key of a scalar attribute value (string,
// bool, null, or a number: values CEL compares equal, such as 1 and 1.0,
// have the same key); lists and maps have none.
func ValueKey(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return "s" + x, true
	case bool:
		if x {
			return "t", true
		}
		return "f", true
	case nil:
		return "n", true
	case int64:
		return numberKey(float64(x)), true
	case uint64:
		return numberKey(float64(x)), true
	case float64:
		return numberKey(x), true
	case int:
		return numberKey(float64(x)), true
	}
	return "", false
}

// numberKey keys a number by its float64 value: an integer beyond 2^53
// may share its key with a neighbour, which only widens a filter.
func numberKey(f float64) string {
	if f == 0 {
		f = 0 // -0 == 0
	}
	if math.IsNaN(f) {
		return "#NaN"
	}
	return "#" + strconv.FormatFloat(f, 'g', -1, 64)
}

// searchNames lists the identifiers a condition of an authzen package
// may read (nil for a check package, which searches do not plan).
func searchNames(shape string, vars map[string]ref.Val) []string {
	if shape != ShapeAuthZEN {
		return nil
	}
	names := []string{"subject", "resource", "action", "context"}
	for n := range vars {
		names = append(names, n)
	}
	return names
}
