package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/stellaops/authgate/pkg/obs"
	"github.com/stellaops/authgate/services/flex-auth/internal/decisionlog"
	"github.com/stellaops/authgate/services/flex-auth/internal/engine"
	"github.com/stellaops/authgate/services/flex-auth/internal/metrics"
)

// The contract tests of the AuthZEN 1.0 endpoints, written from the
// specification's rules and the conformance fixture (subjects alice, bob
// the admin; records with a status), served by testdata/conformance.

func newConformance(t *testing.T) http.Handler {
	t.Helper()
	eng, err := engine.New(engine.Config{
		RegistryFile: cfgDir + "ops-warden/production_registry_snapshot.json",
		PolicyFile:   "testdata/conformance/policy.md",
		DataFile:     "testdata/conformance/entities.json",
	})
	if err != nil {
		t.Fatal(err)
	}
	om, err := obs.NewMetrics()
	if err != nil {
		t.Fatal(err)
	}
	m, err := metrics.New(om.Meter("test"), func() int64 { return 4 })
	if err != nil {
		t.Fatal(err)
	}
	log, err := decisionlog.Open(decisionlog.Config{Path: filepath.Join(t.TempDir(), "d.jsonl"), Sync: decisionlog.SyncOff})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = log.Close() })
	_, h := New(Deps{Engine: eng, Log: log, LogSync: decisionlog.SyncOff, Metrics: m, Logger: zap.NewNop(), Exporter: om.Handler()})
	return h
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

// §6: one evaluation; the decision is a boolean; properties and context
// reach the policy.
func TestContractEvaluation(t *testing.T) {
	h := newConformance(t)
	for _, tc := range []struct {
		body string
		want bool
	}{
		{`{"subject":{"type":"user","id":"bob"},"action":{"name":"can_delete"},"resource":{"type":"record","id":"record-2"}}`, true},
		{`{"subject":{"type":"user","id":"alice"},"action":{"name":"can_read"},"resource":{"type":"record","id":"record-1"}}`, true},
		{`{"subject":{"type":"user","id":"alice"},"action":{"name":"can_read"},"resource":{"type":"record","id":"record-2"}}`, false},
		{`{"subject":{"type":"user","id":"alice"},"action":{"name":"can_read"},"resource":{"type":"record","id":"record-9","properties":{"status":"active"}}}`, true},
		{`{"subject":{"type":"user","id":"alice","properties":{"department":"Sales"}},"action":{"name":"can_write","properties":{"method":"PUT"}},"resource":{"type":"record","id":"record-9","properties":{"owner":"alice"}},"context":{"time":"1985-10-26T01:22-07:00","ip":{"v4":"10.0.0.1"}}}`, true},
		{`{"subject":{"type":"user","id":"mallory"},"action":{"name":"can_read"},"resource":{"type":"record","id":"record-1"}}`, false},
		{`{"subject":{"type":"user","id":"alice"},"action":{"name":"can_fly"},"resource":{"type":"record","id":"record-1"}}`, false},
	} {
		rec, out := post(t, h, RouteAuthZEN, "application/json; charset=utf-8", tc.body)
		if rec.Code != 200 || out["decision"] != tc.want {
			t.Errorf("%s: %d %s", tc.body, rec.Code, rec.Body)
		}
		if rec.Header().Get("Content-Type") != "application/json" && !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json;") {
			t.Errorf("content type %q", rec.Header().Get("Content-Type"))
		}
	}
}

// §7: defaults, overrides (an item's member replaces the default whole),
// request order, the three semantics, and an empty array as one evaluation.
func TestContractEvaluations(t *testing.T) {
	h := newConformance(t)
	base := `"subject":{"type":"user","id":"alice"},"action":{"name":"can_read"},"resource":{"type":"record","id":"record-1","properties":{"owner":"alice"}}`
	items := `[{"resource":{"type":"record","id":"record-2"}},{},{"action":{"name":"can_write"}},{"subject":{"type":"user","id":"bob"},"resource":{"type":"record","id":"record-2"}},{"action":{"name":"can_write"},"resource":{"type":"record","id":"record-3"}}]`
	for _, tc := range []struct {
		sem  string
		want []bool
	}{
		{``, []bool{false, true, true, true, false}},
		{`,"options":{"evaluations_semantic":"execute_all"}`, []bool{false, true, true, true, false}},
		{`,"options":{"evaluations_semantic":"deny_on_first_deny"}`, []bool{false}},
		{`,"options":{"evaluations_semantic":"permit_on_first_permit"}`, []bool{false, true}},
		{`,"options":{"evaluations_semantic":"execute_all","unknown_option":1}`, []bool{false, true, true, true, false}},
	} {
		rec, out := post(t, h, RouteEvaluations, "application/json", `{`+base+`,"evaluations":`+items+tc.sem+`}`)
		if rec.Code != 200 {
			t.Fatalf("%s: %d %s", tc.sem, rec.Code, rec.Body)
		}
		if got := decisions(t, out); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.sem, got, tc.want)
		}
	}
	rec, out := post(t, h, RouteEvaluations, "application/json", `{`+base+`,"evaluations":[]}`)
	if rec.Code != 200 || out["decision"] != true {
		t.Fatalf("empty evaluations: %d %s", rec.Code, rec.Body)
	}
}

// §8: the three searches, their result shapes and pagination.
func TestContractSearch(t *testing.T) {
	h := newConformance(t)
	search := func(route, body string) ([]map[string]any, map[string]any) {
		t.Helper()
		rec, out := post(t, h, route, "application/json", body)
		if rec.Code != 200 {
			t.Fatalf("%s %s: %d %s", route, body, rec.Code, rec.Body)
		}
		var res []map[string]any
		for _, r := range out["results"].([]any) {
			res = append(res, r.(map[string]any))
		}
		return res, out["page"].(map[string]any)
	}
	res, page := search(RouteSearchSubject, `{"subject":{"type":"user"},"action":{"name":"can_delete"},"resource":{"type":"record","id":"record-1"}}`)
	if len(res) != 1 || !reflect.DeepEqual(res[0], map[string]any{"type": "user", "id": "bob"}) || page["next_token"] != "" {
		t.Errorf("subject search: %v %v", res, page)
	}
	res, _ = search(RouteSearchResource, `{"subject":{"type":"user","id":"alice"},"action":{"name":"can_read"},"resource":{"type":"record"}}`)
	if len(res) != 2 || res[0]["id"] != "record-1" || res[1]["id"] != "record-3" || res[0]["type"] != "record" {
		t.Errorf("resource search: %v", res)
	}
	res, _ = search(RouteSearchAction, `{"subject":{"type":"user","id":"bob"},"resource":{"type":"record","id":"record-2"}}`)
	if len(res) != 3 || !reflect.DeepEqual(res[0], map[string]any{"name": "can_delete"}) {
		t.Errorf("action search: %v", res)
	}
	res, _ = search(RouteSearchAction, `{"subject":{"type":"user","id":"alice"},"resource":{"type":"record","id":"record-1"}}`)
	if len(res) != 1 || res[0]["name"] != "can_read" {
		t.Errorf("action search for alice: %v", res)
	}
	// pages of one: every allowed subject exactly once, then an empty token
	var ids []string
	token := ""
	for range 5 {
		body := `{"subject":{"type":"user"},"action":{"name":"can_read"},"resource":{"type":"record","id":"record-1"},"page":{"limit":1,"token":"` + token + `"}}`
		res, page := search(RouteSearchSubject, body)
		for _, r := range res {
			ids = append(ids, r["id"].(string))
		}
		if page["count"] != float64(len(res)) {
			t.Errorf("count %v for %d results", page["count"], len(res))
		}
		if token, _ = page["next_token"].(string); token == "" {
			break
		}
	}
	if strings.Join(ids, ",") != "alice,bob,carol" {
		t.Errorf("paged subjects %v", ids)
	}
	// searched entity types the data does not have: no results
	res, page = search(RouteSearchResource, `{"subject":{"type":"user","id":"bob"},"action":{"name":"can_read"},"resource":{"type":"record-archive"}}`)
	if len(res) != 0 || page["next_token"] != "" {
		t.Errorf("unknown type: %v %v", res, page)
	}
	for _, tc := range []struct{ route, body, field string }{
		{RouteSearchSubject, `{"action":{"name":"can_read"},"resource":{"type":"record","id":"r"}}`, "subject"},
		{RouteSearchSubject, `{"subject":{"type":"user"},"action":{"name":"can_read"},"resource":{"type":"record"}}`, "resource.id"},
		{RouteSearchResource, `{"subject":{"type":"user"},"action":{"name":"can_read"},"resource":{"type":"record"}}`, "subject.id"},
		{RouteSearchResource, `{"subject":{"type":"user","id":"a"},"resource":{"type":"record"}}`, "action"},
		{RouteSearchAction, `{"subject":{"type":"user","id":"a"},"resource":{"id":"r"}}`, "resource.type"},
		{RouteSearchSubject, `{"subject":{"type":"user"},"action":{"name":"can_read"},"resource":{"type":"record","id":"r"},"page":{"limit":-1}}`, "page.limit"},
	} {
		rec, out := post(t, h, tc.route, "application/json", tc.body)
		if rec.Code != 400 || out["field"] != tc.field {
			t.Errorf("%s %s: %d %s", tc.route, tc.body, rec.Code, rec.Body)
		}
	}
}

// §9: the metadata names every endpoint as an absolute URL on the host
// asked, and needs no body.
func TestContractMetadata(t *testing.T) {
	h := newConformance(t)
	req := httptest.NewRequest(http.MethodGet, RouteConfiguration, nil)
	req.Host = "pdp.mycompany.com"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var meta map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &meta); err != nil || rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	want := map[string]string{
		"policy_decision_point":       "http://pdp.mycompany.com",
		"access_evaluation_endpoint":  "http://pdp.mycompany.com/access/v1/evaluation",
		"access_evaluations_endpoint": "http://pdp.mycompany.com/access/v1/evaluations",
		"search_subject_endpoint":     "http://pdp.mycompany.com/access/v1/search/subject",
		"search_resource_endpoint":    "http://pdp.mycompany.com/access/v1/search/resource",
		"search_action_endpoint":      "http://pdp.mycompany.com/access/v1/search/action",
	}
	if !reflect.DeepEqual(meta, want) {
		t.Fatalf("metadata %v", meta)
	}
}
