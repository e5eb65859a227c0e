package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"
)

// Caller is one client identity: a DPoP key (its prover, bound to the
// OpTok) and the OpTok.
type Caller struct {
	Prover *FastProver
	OpTok  string
}

// DriveOptions configures Drive.
type DriveOptions struct {
	// Client sends the requests; its transport should allow Connections
	// idle connections to the host.
	Client *http.Client
	// Realm is the token URL; Query its query string.
	Realm string
	Query url.Values
	// Callers are used round-robin by the workers (at least one); their
	// provers must sign for GET on Realm.
	Callers []Caller
	// Connections is the number of concurrent workers (default 32).
	Connections int
	// Duration is how long requests are started (required, > 0).
	Duration time.Duration
	// Mint, when set, makes every request bring a new OpTok, minted for
	// the caller's key thumbprint (as a client whose every request starts
	// a session); else each caller reuses its OpTok, as real clients do.
	Mint func(jkt string) (string, error)
}

// Stats is the outcome of a load run.
type Stats struct {
	Connections int
	Elapsed     time.Duration
	OK          int64 // 200 answers with a body
	Errors      int64 // transport errors and non-200 answers
	// ByStatus counts answers by HTTP status (0: transport error).
	ByStatus map[int]int64
	// ByReason counts the failed requests by status and reason: "503
	// replay_cache_full" (the problem's reason member), "0 transport"
	// (no answer), "200 empty body".
	ByReason map[string]int64
	// Latency percentiles of successful requests, measured from sending
	// the request to reading the whole body (proof signing excluded).
	P50, P90, P99, Max time.Duration
	// ProofCost is the mean client-side time to sign one proof.
	ProofCost time.Duration
}

// TokensPerSecond is OK / Elapsed.
func (s Stats) TokensPerSecond() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.OK) / s.Elapsed.Seconds()
}

// Drive sends GET requests to the realm until Duration has passed or ctx
// is done, each with "Authorization: DPoP <OpTok>" and a fresh proof (and
// a new OpTok with Mint).
func Drive(ctx context.Context, o DriveOptions) (Stats, error) {
	if o.Client == nil || o.Realm == "" || len(o.Callers) == 0 || o.Duration <= 0 {
		return Stats{}, errors.New("loadgen: Client, Realm, Callers and Duration are required")
	}
	if o.Connections <= 0 {
		o.Connections = 32
	}
	target := o.Realm + "?" + o.Query.Encode()
	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()

	type result struct {
		lat       []time.Duration
		byStatus  map[int]int64
		byReason  map[string]int64
		proofTime time.Duration
		proofs    int64
	}
	results := make([]result, o.Connections)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range o.Connections {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &results[w]
			r.byStatus = map[int]int64{}
			r.byReason = map[string]int64{}
			r.lat = make([]time.Duration, 0, 1<<14)
			c := o.Callers[w%len(o.Callers)]
			for ctx.Err() == nil {
				tok, err := c.OpTok, error(nil)
				if o.Mint != nil {
					if tok, err = o.Mint(c.Prover.JKT()); err != nil {
						r.byStatus[0]++
						r.byReason["0 minting the OpTok failed"]++
						continue
					}
				}
				t0 := time.Now()
				var proof string
				if o.Mint != nil {
					proof, err = c.Prover.ProofFor(tok)
				} else {
					proof, err = c.Prover.Proof()
				}
				r.proofTime += time.Since(t0)
				r.proofs++
				if err != nil {
					r.byStatus[0]++
					r.byReason["0 proof signing failed"]++
					continue
				}
				status, reason, d := once(o.Client, target, tok, proof)
				if ctx.Err() != nil && status == 0 {
					break // cancelled in flight: not an error of the service
				}
				r.byStatus[status]++
				if status == http.StatusOK {
					r.lat = append(r.lat, d)
				} else {
					r.byReason[fmt.Sprintf("%d %s", status, reason)]++
				}
			}
		}()
	}
	wg.Wait()
	st := Stats{Connections: o.Connections, Elapsed: time.Since(start), ByStatus: map[int]int64{}, ByReason: map[string]int64{}}
	var all []time.Duration
	var proofTime time.Duration
	var proofs int64
	for _, r := range results {
		all = append(all, r.lat...)
		for k, v := range r.byStatus {
			st.ByStatus[k] += v
			if k != http.StatusOK {
				st.Errors += v
			}
		}
		for k, v := range r.byReason {
			st.ByReason[k] += v
		}
		proofTime += r.proofTime
		proofs += r.proofs
	}
	st.OK = int64(len(all))
	if proofs > 0 {
		st.ProofCost = proofTime / time.Duration(proofs)
	}
	slices.Sort(all)
	st.P50, st.P90, st.P99 = pct(all, 0.50), pct(all, 0.90), pct(all, 0.99)
	if len(all) > 0 {
		st.Max = all[len(all)-1]
	}
	return st, nil
}

// once sends one request and returns its status (0 on a transport
// error), the reason of a failure and the time to the end of the body.
func once(c *http.Client, target, tok, proof string) (int, string, time.Duration) {
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		return 0, "bad request", 0
	}
	req.Header.Set("Authorization", "DPoP "+tok)
	req.Header.Set("DPoP", proof)
	t0 := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return 0, "transport", 0
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var problem struct {
			Reason string `json:"reason"`
			Error  string `json:"error"`
		}
		_ = json.NewDecoder(io.LimitReader(resp.Body, 16<<10)).Decode(&problem)
		_, _ = io.Copy(io.Discard, resp.Body)
		reason := problem.Reason
		if reason == "" {
			reason = problem.Error
		}
		if reason == "" {
			reason = "no problem body"
		}
		return resp.StatusCode, reason, time.Since(t0)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	d := time.Since(t0)
	switch {
	case err != nil:
		return 0, "transport (body)", d
	case n == 0:
		return http.StatusOK, "empty body", d
	}
	return http.StatusOK, "", d
}

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return sorted[i]
}

// String renders the stats on a few lines.
func (s Stats) String() string {
	reasons := ""
	if len(s.ByReason) > 0 {
		keys := slices.Sorted(maps.Keys(s.ByReason))
		reasons = "\nerrors by status and reason:"
		for _, k := range keys {
			reasons += fmt.Sprintf("\n  %s: %d", k, s.ByReason[k])
		}
	}
	return fmt.Sprintf("connections=%d duration=%s ok=%d errors=%d tokens/s=%.0f p50=%s p90=%s p99=%s max=%s client-proof=%s statuses=%v%s",
		s.Connections, s.Elapsed.Round(time.Millisecond), s.OK, s.Errors, s.TokensPerSecond(),
		s.P50.Round(10*time.Microsecond), s.P90.Round(10*time.Microsecond), s.P99.Round(10*time.Microsecond), s.Max.Round(10*time.Microsecond),
		s.ProofCost.Round(time.Microsecond), s.ByStatus, reasons)
}
