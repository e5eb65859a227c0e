package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/stellaops/authgate/services/flex-auth/internal/decisionlog"
	"github.com/stellaops/authgate/services/flex-auth/internal/engine"
)

// The contract tests of the AuthZEN 1.0 endpoints, written from the
// specification's rules and its certification scenario: its fixture
// (subjects alice and bob the admin, records with a status, actions read,
// write and delete with soft) is served by testdata/conformance.

func newConformance(t *testing.T) http.Handler {
	t.Helper()
	return newConformanceAt(t, "")
}

// newConformanceAt serves the fixture with publicURL configured.
func newConformanceAt(t *testing.T, publicURL string) http.Handler {
	t.Helper()
	return newServed(t, engine.Config{
		RegistryFile: cfgDir + "ops-warden/production_registry_snapshot.json",
		PolicyFile:   "testdata/conformance/policy.md",
		DataFile:     "testdata/conformance/entities.json",
	}, decisionlog.SyncOff, func(d *Deps) { d.PublicURL = publicURL }).h
}

func decisions(t *testing.T, out map[string]any) []bool {
	t.Helper()
	var got []bool
	evs, ok := out["evaluations"].([]any)
	if !ok {
		t.Fatalf("no evaluations array: %v", out)
	}
	for _, e := range evs {
		d, ok := e.(map[string]any)["decision"].(bool)
		if !ok {
			t.Fatalf("decision is not a boolean: %v", e)
		}
		got = append(got, d)
	}
	return got
}

const (
	alice   = `{"type":"user","id":"alice"}`
	bob     = `{"type":"user","id":"bob"}`
	record1 = `{"type":"record","id":"record-1"}`
	record2 = `{"type":"record","id":"record-2"}`
)

func eval(sub, act, res string) string {
	return `{"subject":` + sub + `,"action":` + act + `,"resource":` + res + `}`
}

// The eight fixture decisions, the optional context, extra properties and
// unknown members (access evaluation).
func TestContractEvaluation(t *testing.T) {
	h := newConformance(t)
	read, write := `{"name":"read"}`, `{"name":"write"}`
	archived2 := `{"type":"record","id":"record-2","properties":{"status":"archived"}}`
	for _, tc := range []struct {
		name, body string
		want       bool
	}{
		{"rule 1", eval(alice, read, record1), true},
		{"rule 2", eval(alice, write, record1), true},
		{"rule 3", eval(bob, read, record1), true},
		{"rule 4", eval(bob, write, record1), false},
		{"rule 5", eval(alice, write, archived2), false},
		{"rule 6", eval(`{"type":"user","id":"bob","properties":{"role":"admin"}}`, write, archived2), true},
		{"rule 7", eval(alice, `{"name":"delete","properties":{"soft":true}}`, record1), true},
		{"rule 8", eval(alice, `{"name":"delete","properties":{"soft":false}}`, record1), false},
		{"context", `{"subject":` + alice + `,"action":` + read + `,"resource":` + record1 + `,"context":{"time":"2025-06-27T18:03-07:00","ip":"192.168.1.1"}}`, true},
		{"more properties", eval(`{"type":"user","id":"alice","properties":{"department":"Sales","role":"manager"}}`,
			`{"name":"read","properties":{"method":"GET"}}`, `{"type":"record","id":"record-1","properties":{"status":"active","owner":"bob"}}`), true},
		{"unknown members", `{"subject":` + alice + `,"action":` + read + `,"resource":` + record1 + `,"foo":"bar","futureField":{"nested":true}}`, true},
		{"unknown subject", eval(`{"type":"user","id":"mallory"}`, read, record1), false},
		{"undecided action", eval(alice, `{"name":"fly"}`, record1), false},
	} {
		for range 2 { // idempotent
			rec, out := post(t, h, RouteAuthZEN, "application/json", tc.body)
			if rec.Code != 200 || out["decision"] != tc.want {
				t.Errorf("%s: %d %s", tc.name, rec.Code, rec.Body)
			}
			if _, ok := out["context"].(map[string]any); !ok {
				t.Errorf("%s: context is not an object", tc.name)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" && !strings.HasPrefix(ct, "application/json;") {
				t.Errorf("%s: content type %q", tc.name, ct)
			}
		}
	}
	for _, tc := range []struct{ name, ctype, body string }{
		{"missing subject", "application/json", `{"action":{"name":"read"},"resource":` + record1 + `}`},
		{"missing action", "application/json", `{"subject":` + alice + `,"resource":` + record1 + `}`},
		{"missing resource", "application/json", `{"subject":` + alice + `,"action":{"name":"read"}}`},
		{"subject without type", "application/json", eval(`{"id":"alice"}`, `{"name":"read"}`, record1)},
		{"subject without id", "application/json", eval(`{"type":"user"}`, `{"name":"read"}`, record1)},
		{"action without name", "application/json", eval(alice, `{}`, record1)},
		{"resource without type", "application/json", eval(alice, `{"name":"read"}`, `{"id":"record-1"}`)},
		{"resource without id", "application/json", eval(alice, `{"name":"read"}`, `{"type":"record"}`)},
		{"text/plain", "text/plain", eval(alice, `{"name":"read"}`, record1)},
		{"malformed JSON", "application/json", `{"subject":`},
		{"empty body", "application/json", ``},
		{"subject is a string", "application/json", eval(`"alice"`, `{"name":"read"}`, record1)},
		{"action.name is a number", "application/json", eval(alice, `{"name":123}`, record1)},
	} {
		rec, _ := post(t, h, RouteAuthZEN, tc.ctype, tc.body, HeaderRequestID, "req-"+tc.name)
		if rec.Code != 400 || rec.Header().Get(HeaderRequestID) != "req-"+tc.name {
			t.Errorf("%s: %d %q %s", tc.name, rec.Code, rec.Header().Get(HeaderRequestID), rec.Body)
		}
	}
}

// Access evaluations: ordering, defaults, per-item properties, whole-entity
// replacement with type and id falling back to the defaults, context
// inheritance, evaluation-level errors, the semantics, and the
// backwards-compatible forms.
func TestContractEvaluations(t *testing.T) {
	h := newConformance(t)
	for _, tc := range []struct {
		name, body string
		want       []bool
	}{
		{"defaults", `{"subject":` + alice + `,"action":{"name":"read"},"evaluations":[{"resource":` + record1 + `},{"resource":` + record2 + `}]}`, []bool{true, true}},
		{"order", `{"subject":` + bob + `,"resource":` + record1 + `,"evaluations":[{"action":{"name":"read"}},{"action":{"name":"write"}}]}`, []bool{true, false}},
		{"resource properties", `{"subject":` + alice + `,"action":{"name":"write"},"evaluations":[{"resource":{"type":"record","id":"record-1","properties":{"status":"active"}}},{"resource":{"type":"record","id":"record-2","properties":{"status":"archived"}}}]}`, []bool{true, false}},
		{"subject properties", `{"action":{"name":"write"},"resource":{"type":"record","id":"record-2","properties":{"status":"archived"}},"evaluations":[{"subject":` + alice + `},{"subject":{"type":"user","id":"bob","properties":{"role":"admin"}}}]}`, []bool{false, true}},
		{"no defaults", `{"evaluations":[` + eval(alice, `{"name":"read"}`, record1) + `,` + eval(bob, `{"name":"write"}`, record1) + `]}`, []bool{true, false}},
		{"context inheritance", `{"subject":` + alice + `,"action":{"name":"read"},"context":{"time":"2025-06-27T18:03-07:00"},"evaluations":[{"resource":` + record1 + `},{"resource":` + record2 + `,"context":{"time":"2025-06-27T19:00-07:00","source":"batch-override"}}]}`, []bool{true, true}},
		// whole-object override, no sub-field merging (certification c-3-2-7)
		{"top-level default inheritance", `{"subject":` + alice + `,"action":{"name":"write"},"resource":{"type":"record","id":"record-1","properties":{"status":"active"}},"evaluations":[{},{"resource":{"type":"record","id":"record-2","properties":{"status":"archived"}}}]}`, []bool{true, false}},
		{"no sub-field merging", `{"subject":` + alice + `,"action":{"name":"write"},"resource":{"type":"record","id":"record-1"},"evaluations":[{"resource":{"type":"record","properties":{"status":"active"}}},{"resource":` + record1 + `}]}`, []bool{false, true}},
		{"evaluation-level error", `{"subject":` + alice + `,"action":{"name":"read"},"evaluations":[{"resource":` + record1 + `},{}]}`, []bool{true, false}},
		{"deny_on_first_deny", `{"subject":` + bob + `,"resource":` + record1 + `,"options":{"evaluations_semantic":"deny_on_first_deny"},"evaluations":[{"action":{"name":"read"}},{"action":{"name":"write"}},{"action":{"name":"read"}}]}`, []bool{true, false}},
		{"permit_on_first_permit", `{"subject":` + bob + `,"resource":` + record1 + `,"options":{"evaluations_semantic":"permit_on_first_permit"},"evaluations":[{"action":{"name":"write"}},{"action":{"name":"read"}},{"action":{"name":"write"}}]}`, []bool{false, true}},
	} {
		rec, out := post(t, h, RouteEvaluations, "application/json", tc.body)
		if rec.Code != 200 {
			t.Fatalf("%s: %d %s", tc.name, rec.Code, rec.Body)
		}
		if got := decisions(t, out); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
		if _, ok := out["decision"]; ok {
			t.Errorf("%s: a top-level decision beside evaluations", tc.name)
		}
	}
	_, out := post(t, h, RouteEvaluations, "application/json", `{"subject":`+alice+`,"action":{"name":"read"},"evaluations":[{"resource":`+record1+`},{}]}`)
	failed := out["evaluations"].([]any)[1].(map[string]any)
	if msg, _ := failed["context"].(map[string]any)["error"].(map[string]any)["message"].(string); !strings.Contains(msg, "evaluations[1].resource") {
		t.Errorf("evaluation-level error %v", failed)
	}
	for _, body := range []string{eval(alice, `{"name":"read"}`, record1), `{"subject":` + alice + `,"action":{"name":"read"},"resource":` + record1 + `,"evaluations":[]}`} {
		rec, out := post(t, h, RouteEvaluations, "application/json", body)
		if rec.Code != 200 || out["decision"] != true {
			t.Errorf("%s: %d %s", body, rec.Code, rec.Body)
		}
	}
}

// Searches: the fixture results, properties, pagination, empty results
// for unknown ids and types, and the required members.
func TestContractSearch(t *testing.T) {
	h := newConformance(t)
	search := func(route, body string) ([]map[string]any, map[string]any) {
		t.Helper()
		rec, out := post(t, h, route, "application/json", body)
		if rec.Code != 200 {
			t.Fatalf("%s %s: %d %s", route, body, rec.Code, rec.Body)
		}
		res := []map[string]any{}
		for _, r := range out["results"].([]any) {
			res = append(res, r.(map[string]any))
		}
		page, _ := out["page"].(map[string]any)
		return res, page
	}
	ids := func(res []map[string]any, key string) string {
		var out []string
		for _, r := range res {
			out = append(out, r[key].(string))
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct{ name, route, body, key, want string }{
		{"subjects", RouteSearchSubject, `{"subject":{"type":"user"},"action":{"name":"read"},"resource":` + record1 + `}`, "id", "alice,bob"},
		{"subjects with context", RouteSearchSubject, `{"subject":{"type":"user"},"action":{"name":"read"},"resource":` + record1 + `,"context":{"time":"x"}}`, "id", "alice,bob"},
		{"resources", RouteSearchResource, `{"subject":` + alice + `,"action":{"name":"read"},"resource":{"type":"record"}}`, "id", "record-1,record-2"},
		{"actions", RouteSearchAction, `{"subject":` + alice + `,"resource":` + record1 + `}`, "name", "read,write"},
		{"actions with context", RouteSearchAction, `{"subject":` + alice + `,"resource":` + record1 + `,"context":{"a":1}}`, "name", "read,write"},
		{"subjects, resource properties", RouteSearchSubject, `{"subject":{"type":"user"},"action":{"name":"write"},"resource":{"type":"record","id":"record-2","properties":{"status":"archived"}}}`, "id", "bob"},
		{"resources, subject properties", RouteSearchResource, `{"subject":{"type":"user","id":"bob","properties":{"role":"admin"}},"action":{"name":"write"},"resource":{"type":"record"}}`, "id", "record-2"},
		{"actions, properties", RouteSearchAction, `{"subject":{"type":"user","id":"bob","properties":{"role":"admin"}},"resource":{"type":"record","id":"record-2","properties":{"status":"archived"}}}`, "name", "read,write"},
		// §8.4.1/§8.5.1: the searched id "SHOULD be omitted, and if
		// present, MUST be ignored" (certification c-4-2-3, c-4-3-3); the
		// action search request has no action (one sent is ignored)
		{"subjects, subject id ignored", RouteSearchSubject, `{"subject":` + alice + `,"action":{"name":"read"},"resource":` + record1 + `}`, "id", "alice,bob"},
		{"resources, resource id ignored", RouteSearchResource, `{"subject":` + alice + `,"action":{"name":"read"},"resource":` + record2 + `}`, "id", "record-1,record-2"},
		{"actions, action ignored", RouteSearchAction, `{"subject":` + alice + `,"action":{"name":"delete"},"resource":` + record1 + `}`, "name", "read,write"},
		{"unknown id", RouteSearchAction, `{"subject":{"type":"user","id":"nonexistent-user"},"resource":` + record1 + `}`, "name", ""},
		{"unknown type", RouteSearchSubject, `{"subject":{"type":"spaceship"},"action":{"name":"read"},"resource":` + record1 + `}`, "id", ""},
	} {
		res, page := search(tc.route, tc.body)
		if got := ids(res, tc.key); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
		if page["next_token"] != "" {
			t.Errorf("%s: page %v", tc.name, page)
		}
		for _, r := range res {
			if tc.key == "id" && (r["type"] == "" || r["type"] == nil) {
				t.Errorf("%s: result without type %v", tc.name, r)
			}
		}
	}
	// pages of one: every allowed subject exactly once, then an empty token
	var got []string
	token := ""
	for range 5 {
		body := `{"subject":{"type":"user"},"action":{"name":"read"},"resource":` + record1 + `,"page":{"limit":1,"token":"` + token + `"}}`
		res, page := search(RouteSearchSubject, body)
		for _, r := range res {
			got = append(got, r["id"].(string))
		}
		if page["count"] != float64(len(res)) {
			t.Errorf("count %v for %d results", page["count"], len(res))
		}
		if token, _ = page["next_token"].(string); token == "" {
			break
		}
	}
	if strings.Join(got, ",") != "alice,bob" {
		t.Errorf("paged subjects %v", got)
	}
	// §8.2: the follow-up request repeats the first one; the certification
	// harness (c-4-5-2) sends only the token, so the first limit holds.
	// A follow-up that changes an entity or the limit is refused ("PDPs
	// SHOULD return an error when any entity or parameter has been
	// changed").
	first := `{"subject":{"type":"user"},"action":{"name":"read"},"resource":` + record1 + `,"page":{"limit":1}}`
	res, page := search(RouteSearchSubject, first)
	token, _ = page["next_token"].(string)
	if len(res) != 1 || res[0]["id"] != "alice" || token == "" {
		t.Fatalf("first page %v %v", res, page)
	}
	res, page = search(RouteSearchSubject, `{"subject":{"type":"user","id":"ignored"},"action":{"name":"read"},"resource":`+record1+`,"page":{"token":"`+token+`"}}`)
	if len(res) != 1 || res[0]["id"] != "bob" || page["count"] != float64(1) {
		t.Fatalf("follow-up without limit %v %v", res, page)
	}
	for _, tc := range []struct{ body, field string }{
		{`{"subject":{"type":"user"},"action":{"name":"write"},"resource":` + record1 + `,"page":{"token":"` + token + `"}}`, "page.token"},
		{`{"subject":{"type":"user"},"action":{"name":"read"},"resource":` + record2 + `,"page":{"token":"` + token + `"}}`, "page.token"},
		{`{"subject":{"type":"user"},"action":{"name":"read"},"resource":` + record1 + `,"context":{"a":1},"page":{"token":"` + token + `"}}`, "page.token"},
		{`{"subject":{"type":"user"},"action":{"name":"read"},"resource":` + record1 + `,"page":{"limit":2,"token":"` + token + `"}}`, "page.limit"},
	} {
		rec, out := post(t, h, RouteSearchSubject, "application/json", tc.body)
		if rec.Code != 400 || out["field"] != tc.field {
			t.Errorf("changed follow-up %s: %d %s", tc.body, rec.Code, rec.Body)
		}
	}
	// §8.2.1: limit is a maximum; one above the service's page size is
	// answered with a page of at most that size, not refused
	if res, _ := search(RouteSearchSubject, `{"subject":{"type":"user"},"action":{"name":"read"},"resource":`+record1+`,"page":{"limit":100000}}`); len(res) != 2 {
		t.Errorf("large limit %v", res)
	}
	// §8.3: "It is RECOMMENDED that the page object be the first key in
	// the response"
	rec, _ := post(t, h, RouteSearchAction, "application/json", `{"subject":`+alice+`,"resource":`+record1+`}`)
	if !strings.HasPrefix(rec.Body.String(), `{"page":{"next_token":"",`) {
		t.Errorf("search response does not open with page: %s", rec.Body)
	}
	for _, tc := range []struct{ route, body, field string }{
		{RouteSearchSubject, `{"subject":{"type":"user"},"resource":` + record1 + `}`, "action"},
		{RouteSearchResource, `{"action":{"name":"read"},"resource":{"type":"record"}}`, "subject"},
		{RouteSearchAction, `{"subject":` + alice + `}`, "resource"},
		{RouteSearchSubject, `{"subject":{"type":"user"},"action":{"name":"read"},"resource":{"type":"record"}}`, "resource.id"},
		{RouteSearchResource, `{"subject":{"type":"user"},"action":{"name":"read"},"resource":{"type":"record"}}`, "subject.id"},
		{RouteSearchSubject, `{"subject":{"type":"user"},"action":{"name":"read"},"resource":` + record1 + `,"page":{"limit":-1}}`, "page.limit"},
		{RouteSearchSubject, `{"subject":{"type":"user"},"action":{"name":"read"},"resource":` + record1 + `,"page":{"token":"bogus"}}`, "page.token"},
	} {
		rec, out := post(t, h, tc.route, "application/json", tc.body)
		if rec.Code != 400 || out["field"] != tc.field {
			t.Errorf("%s %s: %d %s", tc.route, tc.body, rec.Code, rec.Body)
		}
	}
}

// §9.1: policy_decision_point is "a URL ... Policy Decision Point metadata
// is published at a location that is .well-known ... derived from this
// Policy Decision Point identifier", and §9.2.3: "The
// policy_decision_point value returned MUST be identical to the Policy
// Decision Point identifier value into which the well-known URI string
// was inserted": the metadata is fetched at the base callers use, so the
// metadata names it (the host asked, or the configured public URL, which
// a proxy's Host header does not change); every endpoint is an absolute
// URL on it; the answer is application/json.
func TestContractMetadata(t *testing.T) {
	for _, tc := range []struct{ publicURL, host, proto, base string }{
		{"", "pdp.mycompany.com", "", "http://pdp.mycompany.com"},
		// a client's forwarding header is not trusted: behind a proxy
		// that ends TLS, the public URL is configured
		{"", "pdp.mycompany.com", "https", "http://pdp.mycompany.com"},
		{"https://authz.example.com/", "10.0.0.7:8080", "", "https://authz.example.com"},
	} {
		h := newConformanceAt(t, tc.publicURL)
		req := httptest.NewRequest(http.MethodGet, RouteConfiguration, nil)
		req.Host = tc.host
		if tc.proto != "" {
			req.Header.Set("X-Forwarded-Proto", tc.proto)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var meta map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &meta); err != nil || rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("%d %q %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
		}
		want := map[string]string{
			"policy_decision_point":       tc.base,
			"access_evaluation_endpoint":  tc.base + "/access/v1/evaluation",
			"access_evaluations_endpoint": tc.base + "/access/v1/evaluations",
			"search_subject_endpoint":     tc.base + "/access/v1/search/subject",
			"search_resource_endpoint":    tc.base + "/access/v1/search/resource",
			"search_action_endpoint":      tc.base + "/access/v1/search/action",
		}
		if !reflect.DeepEqual(meta, want) {
			t.Errorf("%+v: metadata %v", tc, meta)
		}
	}
}
