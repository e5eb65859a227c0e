package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/stellaops/authgate/pkg/policy"
)

// ReasonNoPackage is the reason of the deny given to a request no loaded
// package decides.
const ReasonNoPackage = "no_package_decides"

// routes picks the package that decides a request: the one whose decides
// block matches it (at most one, checked at load), else the default
// package (the one without a decides block), else none.
type routes struct {
	declared []*policy.Package
	fallback *policy.Package
}

func (r routes) find(action, resourceType string) *policy.Package {
	for _, p := range r.declared {
		if p.Decides().Matches(action, resourceType) {
			return p
		}
	}
	return r.fallback
}

func newRoutes(pkgs []*policy.Package) (routes, error) {
	var r routes
	var errs []error
	names := map[string]string{}
	for _, p := range pkgs {
		if f, dup := names[p.Name()]; dup {
			errs = append(errs, fmt.Errorf("policy %s and %s both name the package %q", f, p.File(), p.Name()))
		}
		names[p.Name()] = p.File()
		if p.Decides() == nil {
			if r.fallback != nil {
				errs = append(errs, fmt.Errorf("policy %s (%s) and %s (%s) both decide every request (no decides block): give one of them a decides block",
					r.fallback.File(), r.fallback.Name(), p.File(), p.Name()))
				continue
			}
			r.fallback = p
			continue
		}
		for _, q := range r.declared {
			if why, ok := q.Decides().Overlaps(p.Decides()); ok {
				errs = append(errs, fmt.Errorf("policy %s (%s) and %s (%s) both decide some requests: %s overlap",
					q.File(), q.Name(), p.File(), p.Name(), why))
			}
		}
		r.declared = append(r.declared, p)
	}
	return r, errors.Join(errs...)
}

// loadPackages loads each named file, or each *.md file of a named
// directory in name order, compiled with data.
func loadPackages(paths []string, data policy.Data) ([]*policy.Package, error) {
	var files []string
	var errs []error
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("policy %s: %w", p, err))
			continue
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		md, _ := filepath.Glob(filepath.Join(p, "*.md"))
		sort.Strings(md)
		if len(md) == 0 {
			errs = append(errs, fmt.Errorf("policy %s: directory holds no .md package", p))
		}
		files = append(files, md...)
	}
	if len(paths) == 0 {
		errs = append(errs, errors.New("policy: no package named"))
	}
	var pkgs []*policy.Package
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err == nil {
			var pkg *policy.Package
			if pkg, err = policy.ParseWith(f, src, policy.Options{Data: data}); err == nil {
				pkgs = append(pkgs, pkg)
				continue
			}
		}
		errs = append(errs, fmt.Errorf("policy %s: %w", f, err))
	}
	return pkgs, errors.Join(errs...)
}

// noPackage is the deny of a request no package decides, about the
// request as it was asked (no defaults applied).
func (s *Set) noPackage(req *policy.Request) Decision {
	return Decision{
		Effect: policy.EffectDeny, Reason: ReasonNoPackage,
		Backend: s.First.Backend(), RegistryDigest: s.Snapshot.Digest(),
		Actor: req.Actor, Subject: req.Subject, Action: req.Action, Principal: req.Principal, Resource: req.Resource,
	}
}

// Route returns the package that decides action on a resource of
// resourceType, or nil.
func (s *Set) Route(action, resourceType string) *policy.Package {
	if len(s.Packages) == 1 && s.First.Decides() == nil {
		return s.First
	}
	return s.routes.find(action, resourceType)
}

// DataDigest returns the digest of the entity data, or "".
func (s *Set) DataDigest() string {
	if s.Data == nil {
		return ""
	}
	return s.Data.Digest()
}

// State names the loaded set, for search page tokens: it changes when
// any file is reloaded with new content.
func (s *Set) State() string {
	var b strings.Builder
	b.WriteString(s.Snapshot.Digest())
	for _, pkg := range s.Packages {
		b.WriteString(pkg.Digest())
	}
	b.WriteString(s.DataDigest())
	return policy.Digest([]byte(b.String()))[7:23]
}

// DecideAuthZEN decides an AuthZEN evaluation with the package routed by
// its action name and resource type. A package of the check shape sees
// the evaluation mapped by CheckRequest; an evaluation that does not map
// is refused with a *RequestError (and no decision). An authzen package
// sees the evaluation whole. The record names the entity data.
func (s *Set) DecideAuthZEN(ev *policy.Evaluation) (Decision, error) {
	var d Decision
	switch pkg := s.Route(ev.Action.Name, ev.Resource.Type); {
	case pkg == nil:
		d = s.noPackage(&policy.Request{Subject: ev.Subject.ID, Action: ev.Action.Name, Resource: ev.Resource.ID})
	case pkg.Shape() == policy.ShapeCheck:
		req, err := CheckRequest(ev)
		if err != nil {
			return Decision{}, err
		}
		d = s.decideCheck(pkg, req)
	default:
		d = Decision{RegistryDigest: s.Snapshot.Digest(), Subject: ev.Subject.ID, Action: ev.Action.Name, Resource: ev.Resource.ID}
		v, err := pkg.EvaluateAuthZEN(ev)
		d.decidedBy(pkg, v, err)
	}
	d.DataDigest = s.DataDigest()
	return d, nil
}
