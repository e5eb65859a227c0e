package plans

import (
	"errors"
	"testing"
)

type planCases struct {
	Plans map[string][]Rule `yaml:"plans"`
	Cases []struct {
		Name           string     `yaml:"name"`
		Plan           string     `yaml:"plan"`
		Scopes         []string   `yaml:"scopes"`
		Granted        []Resource `yaml:"granted"`
		NothingGranted bool       `yaml:"nothingGranted"`
	} `yaml:"cases"`
}

func TestAuthorize(t *testing.T) {
	var pc planCases
	loadYAML(t, "plans.yaml", &pc)
	if len(pc.Cases) == 0 {
		t.Fatal("no cases in testdata/plans.yaml")
	}
	cat, err := NewCatalog(pc.Plans)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range pc.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			plan, ok := cat.Plan(tc.Plan)
			if !ok {
				t.Fatalf("unknown plan %q", tc.Plan)
			}
			req, err := ParseScopes(tc.Scopes)
			if err != nil {
				t.Fatal(err)
			}
			got := plan.Authorize(req)
			if !equalResources(got, tc.Granted) {
				t.Fatalf("Authorize(%v)\n got %v\nwant %v", req, got, tc.Granted)
			}
			d := plan.Decide(req)
			if !equalResources(d.Granted, got) {
				t.Fatalf("Decide granted %v, Authorize %v", d.Granted, got)
			}
			if d.GrantedNothing() != tc.NothingGranted {
				t.Fatalf("GrantedNothing() = %v, want %v", d.GrantedNothing(), tc.NothingGranted)
			}
			if tc.NothingGranted != errors.Is(d.Err(), ErrNothingGranted) {
				t.Fatalf("Err() = %v", d.Err())
			}
			// Every granted action was requested and entitled.
			for _, g := range got {
				if g.Type != TypeRepository {
					continue
				}
				ent := plan.Entitled(g.Name)
				for _, a := range g.Actions {
					if !contains(ent, a) {
						t.Errorf("%s granted %q, entitled only %v", g.Name, a, ent)
					}
				}
			}
		})
	}
}

type invalidPlanCase struct {
	Name   string            `yaml:"name"`
	Plans  map[string][]Rule `yaml:"plans"`
	Errors []RuleError       `yaml:"errors"`
}

func TestNewCatalogRejects(t *testing.T) {
	var cases []invalidPlanCase
	loadYAML(t, "invalid_plans.yaml", &cases)
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			cat, err := NewCatalog(tc.Plans)
			if err == nil || cat != nil {
				t.Fatalf("NewCatalog accepted %v", tc.Plans)
			}
			if !errors.Is(err, ErrInvalidRule) {
				t.Errorf("error %v does not match ErrInvalidRule", err)
			}
			joined, ok := err.(interface{ Unwrap() []error })
			if !ok {
				t.Fatalf("error %T is not a joined error", err)
			}
			errs := joined.Unwrap()
			if len(errs) != len(tc.Errors) {
				t.Fatalf("got %d errors, want %d: %v", len(errs), len(tc.Errors), err)
			}
			for i, e := range errs {
				var re *RuleError
				if !errors.As(e, &re) {
					t.Fatalf("error %d is %T, want *RuleError", i, e)
				}
				if *re != tc.Errors[i] {
					t.Errorf("error %d = %+v, want %+v", i, *re, tc.Errors[i])
				}
			}
		})
	}
}

func TestEntitled(t *testing.T) {
	cat, err := NewCatalog(map[string][]Rule{
		"p": {
			{Repository: "org/*"},
			{Repository: "org/app", Actions: []string{"push"}},
			{Repository: "*/app", Actions: []string{"delete"}},
			{Repository: "org/*/base", Actions: []string{"*"}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := cat.Plan("p")
	tests := []struct {
		name string
		want []string
	}{
		{"org/app", []string{"pull", "push", "delete"}},
		{"org/other", []string{"pull"}},
		{"else/app", []string{"delete"}},
		{"org/x/base", []string{"pull", "push", "delete"}},
		{"org/x/y", nil},
		{"org", nil},
		{"org/app/", nil},
		{"org/*", nil},
		{"", nil},
	}
	for _, tt := range tests {
		got := p.Entitled(tt.name)
		if len(got) != len(tt.want) || (len(got) > 0 && !equalResources([]Resource{{Actions: got}}, []Resource{{Actions: tt.want}})) {
			t.Errorf("Entitled(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
	if p.GrantsCatalog() {
		t.Error("repository rules granted the catalog")
	}
	if _, ok := cat.Plan("missing"); ok {
		t.Error("unknown plan found")
	}
}

func TestAuthorizeIgnoresForeignResources(t *testing.T) {
	cat, err := NewCatalog(map[string][]Rule{"p": {{Repository: "*", Actions: []string{"*"}}, {Catalog: true}}})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := cat.Plan("p")
	req := []Resource{
		{Type: "image", Name: "a", Actions: []string{"pull"}},
		{Type: TypeRepository, Name: "a", Actions: []string{"steal"}},
		{Type: TypeRepository, Name: "A", Actions: []string{"pull"}},
		{Type: TypeRegistry, Name: "users", Actions: []string{"*"}},
	}
	d := p.Decide(req)
	if len(d.Granted) != 0 || !d.GrantedNothing() || len(d.Denied) != len(req) {
		t.Fatalf("Decide(%v) = %+v", req, d)
	}
}

func TestAuthorizeConcurrent(t *testing.T) {
	cat, err := NewCatalog(map[string][]Rule{"p": realisticRules(500)})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := cat.Plan("p")
	req, err := ParseScopes([]string{"repository:org1/team2/base:pull repository:org3/team4/tools5:*"})
	if err != nil {
		t.Fatal(err)
	}
	want := p.Authorize(req)
	done := make(chan []Resource)
	for range 4 {
		go func() {
			var got []Resource
			for range 200 {
				got = p.Authorize(req)
			}
			done <- got
		}()
	}
	for range 4 {
		if got := <-done; !equalResources(got, want) {
			t.Errorf("concurrent Authorize = %v, want %v", got, want)
		}
	}
}
