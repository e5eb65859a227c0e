package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/parser"
)

// variableType returns the CEL type of a declarable variable type name and
// the decoder of its YAML value.
func variableType(name string) (*types.Type, func(*yamlValue) (any, error), bool) {
	switch name {
	case "bool":
		return types.BoolType, decodeAs[bool], true
	case "int":
		return types.IntType, decodeAs[int64], true
	case "double":
		return types.DoubleType, decodeAs[float64], true
	case "string":
		return types.StringType, decodeAs[string], true
	case "list(string)":
		return types.NewListType(types.StringType), decodeAs[[]string], true
	case "list(int)":
		return types.NewListType(types.IntType), decodeAs[[]int64], true
	case "map(string, string)":
		return types.NewMapType(types.StringType, types.StringType), decodeAs[map[string]string], true
	}
	return nil, nil, false
}

// compiled is the result of compiling one rule condition.
type compiled struct {
	prg       cel.Program // without cost tracking: for inputs within the estimate's bounds
	tracked   cel.Program // with the run-time cost limit: for any other input
	constant  *bool       // set when the condition is a literal true/false
	conjuncts []string    // top-level && operands, unparsed, for shadow detection
	checked   *cel.Ast
	// action is the action name a top-level operand of the condition
	// compares action.name with (authzen packages): for any other action
	// the condition is false.
	action   string
	byAction bool
}

// newEnv builds the CEL environment of a request shape: request and
// actor (check) or subject, resource, action, context and the entity data
// functions (authzen), and the package's declared variables.
func newEnv(shape string, vars map[string]*types.Type, data Data) (*cel.Env, error) {
	prov, err := newProvider()
	if err != nil {
		return nil, err
	}
	opts := []cel.EnvOption{cel.CustomTypeProvider(prov)}
	if shape == ShapeAuthZEN {
		opts = append(opts, authzenEnvOptions(data)...)
	} else {
		opts = append(opts, cel.Variable("request", requestType), cel.Variable("actor", actorType))
	}
	for name, t := range vars {
		opts = append(opts, cel.Variable(name, t))
	}
	return cel.NewEnv(opts...)
}

// declareVariables checks and converts the front matter's variables.
func declareVariables(s *diagSink, shape string, decls []variableDecl) (map[string]*types.Type, map[string]ref.Val) {
	typesByName := map[string]*types.Type{}
	values := map[string]ref.Val{}
	for i, d := range decls {
		line := 1 + d.Value.Line
		if d.Value.Line == 0 {
			line = 1
		}
		where := fmt.Sprintf("variables[%d]", i)
		switch {
		case !isIdent(d.Name):
			s.errorf(line, CodeInvalidVariable, "%s: name %q is not an identifier", where, d.Name)
			continue
		case slices.Contains(builtinNames(shape), d.Name):
			s.errorf(line, CodeInvalidVariable, "%s: %q is a built-in variable", where, d.Name)
			continue
		case typesByName[d.Name] != nil:
			s.errorf(line, CodeInvalidVariable, "%s: variable %q declared twice", where, d.Name)
			continue
		}
		celType, decode, ok := variableType(d.Type)
		if !ok {
			s.errorf(line, CodeInvalidVariable, "%s (%s): unsupported type %q (supported: %s)", where, d.Name, d.Type, supportedTypes())
			continue
		}
		if d.Value.Kind == 0 {
			s.errorf(line, CodeInvalidVariable, "%s (%s): missing value", where, d.Name)
			continue
		}
		native, err := decode(&yamlValue{&d.Value})
		if err != nil {
			s.errorf(line, CodeInvalidVariable, "%s (%s): value is not a %s: %s", where, d.Name, d.Type, yamlErrText(err))
			continue
		}
		typesByName[d.Name] = celType
		values[d.Name] = toCEL(native)
	}
	return typesByName, values
}

func supportedTypes() string {
	return "bool, int, double, string, list(string), list(int), map(string, string)"
}

// compileRule parses, type-checks, estimates the cost of and plans one
// condition.
func compileRule(s *diagSink, env *cel.Env, rb *ruleBlock, lim costLimits) *compiled {
	parsed, iss := env.Parse(rb.When)
	if iss.Err() != nil {
		reportCEL(s, rb, CodeCELParse, iss)
		return nil
	}
	checked, iss := env.Check(parsed)
	if iss.Err() != nil {
		reportCEL(s, rb, CodeCELCheck, iss)
		return nil
	}
	if !checked.OutputType().IsExactType(types.BoolType) {
		s.errorf(rb.line, CodeNonBool, "rule %q: condition has type %s, want bool", rb.ID, checked.OutputType())
		return nil
	}
	est, err := env.EstimateCost(checked, sizeEstimator{maxList: lim.maxList, vars: lim.vars})
	if err != nil {
		s.errorf(rb.line, CodeCost, "rule %q: cost cannot be estimated: %v", rb.ID, err)
		return nil
	}
	if est.Max > lim.limit {
		s.errorf(rb.line, CodeCost, "rule %q: estimated worst-case cost %d exceeds the limit %d (nested loops over request or data collections?)", rb.ID, est.Max, lim.limit)
		return nil
	}
	prg, err := env.Program(checked, cel.EvalOptions(cel.OptOptimize))
	var tracked cel.Program
	if err == nil {
		tracked, err = env.Program(checked, cel.EvalOptions(cel.OptOptimize), cel.CostLimit(lim.limit))
	}
	if err != nil {
		s.errorf(rb.line, CodeCELCheck, "rule %q: %v", rb.ID, err)
		return nil
	}
	native := checked.NativeRep()
	c := &compiled{
		prg:       prg,
		tracked:   tracked,
		constant:  constantValue(env, checked),
		conjuncts: conjuncts(native.Expr(), native.SourceInfo(), nil),
		checked:   checked,
	}
	if env.HasFunction("subject_data") { // the authzen shape
		c.action, c.byAction = actionGuard(native.Expr())
	}
	return c
}

// actionGuard returns the string s when e is action.name == s (or
// s == action.name), or a chain of && whose first operand is: the
// condition is then false for every other action name, without running
// anything else (the first operand is evaluated first, so not even a
// cost limit could be reached), and need not run.
func actionGuard(e celast.Expr) (string, bool) {
	if e.Kind() != celast.CallKind {
		return "", false
	}
	call := e.AsCall()
	switch call.FunctionName() {
	case "_&&_":
		return actionGuard(call.Args()[0])
	case "_==_":
		args := call.Args()
		for i := range 2 {
			if isActionName(args[i]) {
				if lit := args[1-i]; lit.Kind() == celast.LiteralKind {
					if s, ok := lit.AsLiteral().(types.String); ok {
						return string(s), true
					}
				}
			}
		}
	}
	return "", false
}

// isActionName reports whether e is the selection action.name.
func isActionName(e celast.Expr) bool {
	if e.Kind() != celast.SelectKind {
		return false
	}
	sel := e.AsSelect()
	op := sel.Operand()
	return !sel.IsTestOnly() && sel.FieldName() == "name" && op.Kind() == celast.IdentKind && op.AsIdent() == "action"
}

// constantValue folds the condition's constant parts and returns its value
// when the whole condition is constant (e.g. "true", "1 == 1",
// "true || request.subject == 'x'"), or nil.
func constantValue(env *cel.Env, checked *cel.Ast) *bool {
	folded := checked
	if folder, err := cel.NewConstantFoldingOptimizer(); err == nil {
		if opt, err := cel.NewStaticOptimizer(folder); err == nil {
			if out, iss := opt.Optimize(env, checked); iss.Err() == nil {
				folded = out
			}
		}
	}
	root := folded.NativeRep().Expr()
	if root.Kind() != celast.LiteralKind {
		return nil
	}
	b, ok := root.AsLiteral().(types.Bool)
	if !ok {
		return nil
	}
	v := bool(b)
	return &v
}

// conjuncts returns the unparsed top-level operands of a chain of &&.
func conjuncts(e celast.Expr, info *celast.SourceInfo, acc []string) []string {
	if e.Kind() == celast.CallKind && e.AsCall().FunctionName() == "_&&_" {
		for _, arg := range e.AsCall().Args() {
			acc = conjuncts(arg, info, acc)
		}
		return acc
	}
	str, err := parser.Unparse(e, info)
	if err != nil {
		return append(acc, fmt.Sprintf("#%d", e.ID()))
	}
	return append(acc, str)
}

// reportCEL turns CEL issues into diagnostics on document lines.
func reportCEL(s *diagSink, rb *ruleBlock, code string, iss *cel.Issues) {
	for _, e := range iss.Errors() {
		line := rb.whenLine
		if rb.literal && e.Location.Line() > 1 {
			line += e.Location.Line() - 1
		}
		msg := strings.Replace(e.Message, " (in container '')", "", 1)
		s.errorf(line, code, "rule %q: %s (condition %d:%d)", rb.ID, msg, e.Location.Line(), e.Location.Column()+1)
	}
}

func isIdent(name string) bool {
	if name == "" {
		return false
	}
	for i, c := range name {
		letter := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// isCode reports whether s is a snake_case identifier (reason codes) or,
// with dash allowed, a rule id.
func isCode(s string, dash bool) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, c := range s {
		ok := (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || (dash && c == '-')
		if !ok {
			return false
		}
	}
	return !strings.HasSuffix(s, "_") && !strings.HasSuffix(s, "-")
}

// toCEL converts a declared variable's value once, at load time, into a CEL
// value whose reads do not allocate during evaluation.
func toCEL(native any) ref.Val {
	switch v := native.(type) {
	case []string:
		return stringList{&v}
	case []int64:
		elems := make([]ref.Val, len(v))
		for i, n := range v {
			elems[i] = types.Int(n)
		}
		return types.NewRefValList(types.DefaultTypeAdapter, elems)
	case map[string]string:
		m := make(map[ref.Val]ref.Val, len(v))
		for k, e := range v {
			m[types.String(k)] = types.String(e)
		}
		return types.NewRefValMap(types.DefaultTypeAdapter, m)
	}
	return types.DefaultTypeAdapter.NativeToValue(native)
}
