package engine

import (
	"slices"

	"github.com/stellaops/authgate/pkg/policy"
	"github.com/stellaops/authgate/services/flex-auth/internal/entities"
)

// newIndex indexes the entity data attributes that the packages'
// search filters test.
func newIndex(data *entities.Data, pkgs []*policy.Package) *entities.Index {
	var subj, res []string
	for _, p := range pkgs {
		subj = append(subj, p.SearchAttributes(policy.SearchSubjects)...)
		res = append(res, p.SearchAttributes(policy.SearchResources)...)
	}
	slices.Sort(subj)
	slices.Sort(res)
	return entities.NewIndex(data, slices.Compact(subj), slices.Compact(res))
}

// SearchCandidates returns the positions, in the sorted ids of the
// searched type (Data.SubjectIDs or ResourceIDs of ev's subject or
// resource type), of the entities a subject or resource search may
// allow: ev is the search's evaluation (the searched member's id is not
// read). The package that decides the search narrows them down by its
// filter (policy.Package.SearchFilter) over the index of the loaded
// data; every position it returns must still be decided, and every
// entity it skips would be denied.
func (s *Set) SearchCandidates(searched policy.Searched, ev *policy.Evaluation) entities.Iter {
	typ := ev.Subject.Type
	if searched == policy.SearchResources {
		typ = ev.Resource.Type
	}
	f := policy.Filter{Op: policy.FilterNone} // no package: every candidate is denied
	if pkg := s.Route(ev.Action.Name, ev.Resource.Type); pkg != nil {
		f = pkg.SearchFilter(searched, ev)
	}
	return s.index.Candidates(searched, typ, f)
}
