package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
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
}

// Stats is the outcome of a load run.
type Stats struct {
	Connections int
	Elapsed     time.Duration
	OK          int64 // 200 answers with a body
	Errors      int64 // transport errors and non-200 answers
	// ByStatus counts answers by HTTP status (0: transport error).
	ByStatus map[int]int64
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
// is done, each with "Authorization: DPoP <OpTok>" and a fresh proof.
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
			r.lat = make([]time.Duration, 0, 1<<14)
			c := o.Callers[w%len(o.Callers)]
			for ctx.Err() == nil {
				t0 := time.Now()
				proof, err := c.Prover.Proof()
				r.proofTime += time.Since(t0)
				r.proofs++
				if err != nil {
					r.byStatus[0]++
					continue
				}
				status, d := once(o.Client, target, c.OpTok, proof)
				if ctx.Err() != nil && status == 0 {
					break // cancelled in flight: not an error of the service
				}
				r.byStatus[status]++
				if status == http.StatusOK {
					r.lat = append(r.lat, d)
				}
			}
		}()
	}
	wg.Wait()
	st := Stats{Connections: o.Connections, Elapsed: time.Since(start), ByStatus: map[int]int64{}}
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

// once sends one request and returns its status (0 on a transport error)
// and the time to the end of the body.
func once(c *http.Client, target, tok, proof string) (int, time.Duration) {
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		return 0, 0
	}
	req.Header.Set("Authorization", "DPoP "+tok)
	req.Header.Set("DPoP", proof)
	t0 := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return 0, 0
	}
	n, err := io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	d := time.Since(t0)
	if err != nil || (resp.StatusCode == http.StatusOK && n == 0) {
		return 0, d
	}
	return resp.StatusCode, d
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
	return fmt.Sprintf("connections=%d duration=%s ok=%d errors=%d tokens/s=%.0f p50=%s p90=%s p99=%s max=%s client-proof=%s statuses=%v",
		s.Connections, s.Elapsed.Round(time.Millisecond), s.OK, s.Errors, s.TokensPerSecond(),
		s.P50.Round(10*time.Microsecond), s.P90.Round(10*time.Microsecond), s.P99.Round(10*time.Microsecond), s.Max.Round(10*time.Microsecond),
		s.ProofCost.Round(time.Microsecond), s.ByStatus)
}
