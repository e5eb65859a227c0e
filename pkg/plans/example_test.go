package plans_test

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/stellaops/authgate/pkg/plans"
)

func Example() {
	catalog, err := plans.NewCatalog(map[string][]plans.Rule{
		"community": {
			{Repository: "stella-ops/public/*"}, // actions default to pull
		},
		"enterprise": {
			{Repository: "stella-ops/*/*", Actions: []string{"pull", "push"}},
			{Catalog: true}, // registry:catalog:*
		},
	})
	if err != nil {
		panic(err)
	}
	requested, err := plans.ParseScopes([]string{
		"repository:stella-ops/public/base:pull,push registry:catalog:*",
	})
	if err != nil {
		panic(err) // a *plans.ScopeError or plans.ErrTooManyScopes: 400
	}
	for _, name := range []string{"community", "enterprise"} {
		plan, _ := catalog.Plan(name)
		access, _ := json.Marshal(plan.Authorize(requested))
		fmt.Printf("%s: %s\n", name, access)
	}
	// Output:
	// community: [{"type":"repository","name":"stella-ops/public/base","actions":["pull"]}]
	// enterprise: [{"type":"repository","name":"stella-ops/public/base","actions":["pull","push"]},{"type":"registry","name":"catalog","actions":["*"]}]
}

func ExamplePlan_Decide() {
	catalog, _ := plans.NewCatalog(map[string][]plans.Rule{
		"community": {{Repository: "stella-ops/public/*"}},
	})
	plan, _ := catalog.Plan("community")
	requested, _ := plans.ParseScopes([]string{"repository:stella-ops/private/app:pull"})
	d := plan.Decide(requested)
	fmt.Println(errors.Is(d.Err(), plans.ErrNothingGranted), d.Denied)

	login, _ := plans.ParseScopes(nil)
	access, _ := json.Marshal(plan.Authorize(login))
	fmt.Println(string(access))
	// Output:
	// true [repository:stella-ops/private/app:pull]
	// []
}

func ExampleParseScopes_error() {
	_, err := plans.ParseScopes([]string{"repository:stella-ops/public/base:pul"})
	var se *plans.ScopeError
	fmt.Println(errors.As(err, &se), se.Reason)
	fmt.Println(err)
	// Output:
	// true unknown action "pul"
	// invalid scope "repository:stella-ops/public/base:pul": unknown action "pul"
}
