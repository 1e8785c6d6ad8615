package api

import (
	"fmt"
	"strings"

	"github.com/google/cel-go/cel"
)

// missingVariable starts cel-go's error for an undeclared name.
const missingVariable = "undeclared reference to '"

// Expr is a compiled CEL routing expression (daprd pkg/expr): every name
// the expression uses is declared as a dynamic variable, so a rule may
// test "event.type" as well as any other top-level name (which is then
// unset when evaluated). It is immutable and safe for concurrent use.
type Expr struct {
	src string
	prg cel.Program
}

// CompileExpr compiles src.
func CompileExpr(src string) (*Expr, error) {
	var vars []cel.EnvOption
	found := map[string]bool{}
	for {
		env, err := cel.NewEnv(vars...)
		if err != nil {
			return nil, err
		}
		ast, iss := env.Compile(src)
		if iss.Err() == nil {
			prg, err := env.Program(ast)
			if err != nil {
				return nil, err
			}
			return &Expr{src: src, prg: prg}, nil
		}
		added := false
		for _, e := range iss.Errors() {
			rest, ok := strings.CutPrefix(e.Message, missingVariable)
			if !ok {
				return nil, iss.Err()
			}
			name := rest[:strings.IndexByte(rest, '\'')]
			if found[name] {
				continue
			}
			found[name] = true
			added = true
			vars = append(vars, cel.Variable(name, cel.DynType))
		}
		if !added {
			return nil, iss.Err()
		}
	}
}

// String returns the source text.
func (e *Expr) String() string {
	if e == nil {
		return ""
	}
	return e.src
}

// Eval evaluates the expression over vars and requires a boolean (daprd's
// "the result of match expression %s was not a boolean").
func (e *Expr) Eval(vars map[string]any) (bool, error) {
	out, _, err := e.prg.Eval(vars)
	if err != nil {
		return false, err
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("the result of match expression %s was not a boolean", e.src)
	}
	return b, nil
}
