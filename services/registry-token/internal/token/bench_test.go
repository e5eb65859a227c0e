package token_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"go.uber.org/zap/zapcore"
)

// BenchmarkGetToken serves GET /token through the service's echo stack
// (middleware, handler, OpTok validation from the verified-OpTok cache,
// proof verification, replay claim, signing, the JSON answer) on one
// goroutine, without the network: what a token costs the service above
// net/http. Each request brings a new proof (signed before the timer
// starts) and reuses the OpTok, as clients do. Run it under callgrind for
// instruction counts that do not depend on the machine's load:
//
//	go test -c -o token.test ./services/registry-token/internal/token
//	valgrind --tool=callgrind --toggle-collect='*serveRequests*' ./token.test -test.run '^$' -test.bench BenchmarkGetToken -test.benchtime 500x
func BenchmarkGetToken(b *testing.B) {
	f := newFixture(b, options{logLevel: zapcore.WarnLevel})
	tok := f.mint(f.claims())
	q := url.Values{"service": {service}, "scope": {"repository:stella-ops/public/base:pull"}}.Encode()
	reqs := make([]*http.Request, b.N)
	for i := range reqs {
		reqs[i] = request(q, "DPoP "+tok, f.proof(tok))
	}
	// One request before the timer: the OpTok is then in the cache.
	if rec := f.do(request(q, "DPoP "+tok, f.proof(tok))); rec.Code != http.StatusOK {
		b.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	b.ReportAllocs()
	b.ResetTimer()
	if failed := serveRequests(f, reqs); failed > 0 {
		b.Fatalf("%d of %d requests failed", failed, b.N)
	}
}

// serveRequests serves reqs in turn and returns how many failed.
//
//go:noinline
func serveRequests(f *fixture, reqs []*http.Request) int {
	failed := 0
	for _, r := range reqs {
		rec := httptest.NewRecorder()
		f.e.ServeHTTP(rec, r)
		if rec.Code != http.StatusOK {
			failed++
		}
	}
	return failed
}
