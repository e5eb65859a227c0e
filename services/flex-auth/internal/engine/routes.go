package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/stellaops/authgate/pkg/policy"
	"github.com/stellaops/authgate/services/flex-auth/internal/checkapi"
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

// noPackage is the deny of a request no package decides.
func (p *Pair) noPackage(in *checkapi.Request) checkapi.Decision {
	return checkapi.Decision{
		Effect: string(policy.EffectDeny), Reason: ReasonNoPackage, Backend: p.Policy.Backend(),
		Registry: checkapi.RegistryRef{Digest: p.Snapshot.Digest()},
		Actor:    in.Actor, Subject: in.Subject, Action: in.Action, Principal: in.Principal,
	}
}

// Route returns the package that decides action on a resource of
// resourceType, or nil.
func (p *Pair) Route(action, resourceType string) *policy.Package {
	if len(p.Packages) == 1 && p.Policy.Decides() == nil {
		return p.Policy
	}
	return p.routes.find(action, resourceType)
}

// DataDigest returns the digest of the entity data, or "".
func (p *Pair) DataDigest() string {
	if p.Data == nil {
		return ""
	}
	return p.Data.Digest()
}

// State names the loaded set, for search page tokens: it changes when
// any file is reloaded with new content.
func (p *Pair) State() string {
	var b strings.Builder
	b.WriteString(p.Snapshot.Digest())
	for _, pkg := range p.Packages {
		b.WriteString(pkg.Digest())
	}
	b.WriteString(p.DataDigest())
	return policy.Digest([]byte(b.String()))[7:23]
}

// DecideAuthZEN decides an AuthZEN evaluation with the package routed by
// its action name and resource type. A package of the check shape sees
// the evaluation mapped by checkapi.Evaluation.CheckRequest (whose error
// is a bad request); an authzen package sees it whole.
func (p *Pair) DecideAuthZEN(ev *checkapi.Evaluation) (checkapi.Decision, error, error) {
	pkg := p.Route(ev.Action.Name, ev.Resource.Type)
	if pkg == nil {
		d := p.noPackage(&checkapi.Request{Subject: ev.Subject.ID, Action: ev.Action.Name})
		d.DataDigest = p.DataDigest()
		return d, nil, nil
	}
	if pkg.Shape() == policy.ShapeCheck {
		req, err := ev.CheckRequest()
		if err != nil {
			return checkapi.Decision{}, nil, err
		}
		d, evalErr := p.decideWith(pkg, &req)
		d.DataDigest = p.DataDigest()
		return d, evalErr, nil
	}
	d, evalErr := pkg.EvaluateAuthZEN(ev.Policy())
	if evalErr != nil || !d.Effect.Valid() {
		d.Effect = policy.EffectDeny
	}
	return checkapi.Decision{
		Effect: string(d.Effect), Reason: d.Reason, Backend: pkg.Backend(),
		Policy:     checkapi.PolicyRef{Package: pkg.Name(), Version: pkg.Version(), Digest: pkg.Digest()},
		Registry:   checkapi.RegistryRef{Digest: p.Snapshot.Digest()},
		Subject:    ev.Subject.ID,
		Action:     ev.Action.Name,
		DataDigest: p.DataDigest(),
	}, evalErr, nil
}
