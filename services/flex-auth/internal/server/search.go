package server

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/stellaops/authgate/pkg/policy"
	"github.com/stellaops/authgate/services/flex-auth/internal/checkapi"
	"github.com/stellaops/authgate/services/flex-auth/internal/engine"
	"github.com/stellaops/authgate/services/flex-auth/internal/entities"
)

// search answers POST /access/v1/search/{kind}: it evaluates the
// candidates (the entities of the asked type in the entity data, or the
// actions the packages name exactly) from the page offset on, keeps those
// allowed, and logs the search (request, package, returned ids) before
// answering. A next_token is returned only when a further result exists
// (AuthZEN 1.0 §8.2: "If no more results exist, page.next_token is an
// empty string"): the page goes on to find it, and the next page starts
// there.
func (s *Server) search(kind string) echo.HandlerFunc {
	return func(c echo.Context) error {
		caller := Caller(c)
		if err := s.limited(c, s.deps.Limits.SearchCandidates.Admit(caller)); err != nil {
			return err
		}
		if err := s.takeDecisions(c, 1); err != nil { // the search's record
			return err
		}
		body, release, err := s.readBody(c)
		if err != nil {
			return err
		}
		defer release()
		q, err := checkapi.DecodeSearch(kind, body)
		if err != nil {
			return err
		}
		set := s.deps.Engine.Active()
		cur, err := s.deps.Pager.Cursor(q, set.State(), caller)
		if err != nil {
			return err
		}
		start := s.deps.Now()
		cands, walk := candidates(set, kind, q)
		res := checkapi.SearchResponse{Results: []checkapi.SearchResult{}}
		ids := []string{} // a search record lists its results, even none
		var last engine.Decision
		limit := cur.Max()
		next, more, partial := walk.Seek(cur.Offset), false, false
		budget := s.deps.SearchBudget
		evaluated := 0
		defer func() { s.deps.Limits.SearchCandidates.Charge(caller, float64(evaluated)) }()
		for ; next < len(cands); next = walk.Seek(next + 1) {
			if budget > 0 && evaluated == budget { // partial: the next page goes on from here
				more, partial = true, true
				break
			}
			evaluated++
			ev := probe(kind, q, cands[next])
			d, err := decideAuthZEN(set, ev)
			if err != nil {
				return err
			}
			if d.Err != nil {
				s.deps.Metrics.EvalError()
			}
			if d.PolicyPackage != "" {
				last = d
			}
			if !d.Allowed() {
				continue
			}
			if len(res.Results) == limit { // a further result: the next page starts with it
				more = true
				break
			}
			res.Results = append(res.Results, result(kind, ev))
			ids = append(ids, cands[next])
		}
		if more {
			res.Page.NextToken = s.deps.Pager.Token(q, cur, next, set.State(), caller)
		}
		res.Page.Count = len(res.Results)
		e := engine.Decision{
			Subject: entityKey(q.Subject), Action: actionName(q.Action), Resource: entityKey(q.Resource),
			Effect: policy.EffectAllow, Reason: "search", Backend: last.Backend,
			PolicyPackage: last.PolicyPackage, PolicyDigest: last.PolicyDigest, RegistryDigest: set.Snapshot.Digest(),
			DataDigest: set.DataDigest(), Results: ids,
		}
		if len(ids) == 0 {
			e.Effect = policy.EffectDeny
		}
		s.stamp(&e, start, "/access/v1/search/"+kind)
		if err := s.record(c.Request().Context(), start, e); err != nil {
			return err
		}
		res.Context = map[string]any{"decision_id": e.ID}
		if partial {
			res.Context["partial"] = true
		}
		if set.Data != nil {
			res.Context["data"] = checkapi.DataRef{Digest: set.DataDigest()}
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusOK, res)
	}
}

// candidates lists what a search tries, in a stable order, and walks the
// positions in it that may be allowed: for a subject or resource search
// those the entity data index leaves (engine.Set.SearchCandidates), for
// an action search (a few names) every one.
func candidates(set *engine.Set, kind string, q *checkapi.Search) ([]string, entities.Iter) {
	switch kind {
	case checkapi.SearchSubject, checkapi.SearchResource:
		if set.Data == nil {
			return nil, entities.Every(0)
		}
		searched, ids := policy.SearchSubjects, set.Data.SubjectIDs(q.Subject.Type)
		if kind == checkapi.SearchResource {
			searched, ids = policy.SearchResources, set.Data.ResourceIDs(q.Resource.Type)
		}
		return ids, set.SearchCandidates(searched, probe(kind, q, "").Policy())
	}
	var out []string
	for _, p := range set.Packages {
		if d := p.Decides(); d != nil {
			for _, a := range d.ExactActions() {
				if len(d.ResourceTypes) == 0 || slices.Contains(d.ResourceTypes, q.Resource.Type) {
					out = append(out, a)
				}
			}
		} else if p.Shape() == policy.ShapeCheck && set.Route(policy.DefaultAction, q.Resource.Type) == p {
			out = append(out, policy.DefaultAction)
		}
	}
	slices.Sort(out)
	out = slices.Compact(out)
	return out, entities.Every(len(out))
}

// probe is the evaluation of one candidate: the searched member replaced
// by the candidate (with its properties from the entity data).
func probe(kind string, q *checkapi.Search, cand string) *checkapi.Evaluation {
	ev := &checkapi.Evaluation{Subject: q.Subject, Action: q.Action, Resource: q.Resource, Context: q.Context}
	switch kind {
	case checkapi.SearchSubject:
		ev.Subject = &checkapi.Entity{Type: q.Subject.Type, ID: cand, Properties: q.Subject.Properties}
	case checkapi.SearchResource:
		ev.Resource = &checkapi.Entity{Type: q.Resource.Type, ID: cand, Properties: q.Resource.Properties}
	default:
		ev.Action = &checkapi.Action{Name: cand}
	}
	return ev
}

func result(kind string, ev *checkapi.Evaluation) checkapi.SearchResult {
	switch kind {
	case checkapi.SearchSubject:
		return checkapi.SearchResult{Type: ev.Subject.Type, ID: ev.Subject.ID}
	case checkapi.SearchResource:
		return checkapi.SearchResult{Type: ev.Resource.Type, ID: ev.Resource.ID}
	}
	return checkapi.SearchResult{Name: ev.Action.Name}
}

func entityKey(e *checkapi.Entity) string {
	if e == nil {
		return ""
	}
	if e.ID == "" {
		return e.Type
	}
	return e.Type + ":" + e.ID
}

func actionName(a *checkapi.Action) string {
	if a == nil {
		return ""
	}
	return a.Name
}

// Configuration is the AuthZEN PDP metadata (GET
// /.well-known/authzen-configuration).
type Configuration struct {
	PolicyDecisionPoint       string `json:"policy_decision_point"`
	AccessEvaluationEndpoint  string `json:"access_evaluation_endpoint"`
	AccessEvaluationsEndpoint string `json:"access_evaluations_endpoint"`
	SearchSubjectEndpoint     string `json:"search_subject_endpoint"`
	SearchResourceEndpoint    string `json:"search_resource_endpoint"`
	SearchActionEndpoint      string `json:"search_action_endpoint"`
}

// metadataPath is where the metadata of publicURL lives (AuthZEN 1.0
// §9.2, as RFC 8414 §3.1): the well-known string inserted between the
// host and the path, so https://pdp.example/tenant1 has its metadata at
// /.well-known/authzen-configuration/tenant1. Without a path (or without
// publicURL) it is RouteConfiguration itself.
func metadataPath(publicURL string) string {
	u, err := url.Parse(publicURL)
	if err != nil {
		return RouteConfiguration
	}
	return RouteConfiguration + strings.TrimSuffix(u.EscapedPath(), "/")
}

// configuration names this instance's endpoints as absolute URLs on the
// configured public URL, else on the connection's scheme (https with TLS;
// X-Forwarded-Proto and the like never count: flex-auth has no trusted
// proxies, so behind one that ends TLS auth.publicUrl is set) and the
// request's host.
func (s *Server) configuration(c echo.Context) error {
	base := strings.TrimSuffix(s.deps.PublicURL, "/")
	if base == "" {
		base = c.Scheme() + "://" + c.Request().Host
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, Configuration{
		PolicyDecisionPoint:       base,
		AccessEvaluationEndpoint:  base + RouteAuthZEN,
		AccessEvaluationsEndpoint: base + RouteEvaluations,
		SearchSubjectEndpoint:     base + RouteSearchSubject,
		SearchResourceEndpoint:    base + RouteSearchResource,
		SearchActionEndpoint:      base + RouteSearchAction,
	})
}
