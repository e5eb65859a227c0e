package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"
)

// request is one prepared HTTP/1.1 request and the effect it must get.
type request struct {
	raw    []byte
	allow  bool
	reason []byte // `"reason":"<code>"`, which both servers' answers contain
}

func prepare(path string, body []byte, c check) request {
	var b bytes.Buffer
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", path, len(body))
	b.Write(body)
	return request{raw: b.Bytes(), allow: c.allow, reason: []byte(`"reason":"` + c.reason + `"`)}
}

// flexAuthRequests prepares the mix for /v1/check or, with evaluation,
// the same checks as AuthZEN evaluations (their decoder and the mapping
// onto the check request).
func flexAuthRequests(actors []actor, evaluation bool) []request {
	var out []request
	for _, c := range mix(actors) {
		if !evaluation {
			b, _ := json.Marshal(c)
			out = append(out, prepare("/v1/check", b, c))
			continue
		}
		subject := c.Subject
		if subject == "" {
			subject = c.Actor
		}
		ctx := map[string]any{}
		if c.Principal != "" {
			ctx["principal"] = c.Principal
		}
		if c.TTLHours != nil {
			ctx["ttl_hours"] = *c.TTLHours
		}
		b, _ := json.Marshal(map[string]any{
			"subject":  map[string]any{"type": "actor", "id": subject, "properties": map[string]any{"actor": c.Actor}},
			"action":   map[string]any{"name": "ssh.sign"},
			"resource": map[string]any{"type": "host", "id": "load"},
			"context":  ctx,
		})
		out = append(out, prepare("/access/v1/evaluation", b, c))
	}
	return out
}

func opaRequests(actors []actor) []request {
	var out []request
	for _, c := range mix(actors) {
		b, _ := json.Marshal(map[string]any{"input": c})
		out = append(out, prepare("/v1/data/opswarden/decision", b, c))
	}
	return out
}

var (
	allowMark = []byte(`"effect":"allow"`)
	denyMark  = []byte(`"effect":"deny"`)
)

// worker drives one keep-alive connection until the deadline, recording
// each request's latency.
func worker(ctx context.Context, addr string, reqs []request, offset int, deadline time.Time) ([]time.Duration, int, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, 0, err
	}
	defer conn.Close()
	r := bufio.NewReaderSize(conn, 16<<10)
	lat := make([]time.Duration, 0, 1<<16)
	body := make([]byte, 0, 4096)
	errs := 0
	for i := offset; ; i++ {
		if ctx.Err() != nil {
			return lat, errs, nil
		}
		start := time.Now()
		if !start.Before(deadline) {
			return lat, errs, nil
		}
		q := reqs[i%len(reqs)]
		if _, err := conn.Write(q.raw); err != nil {
			return lat, errs, err
		}
		status, n, err := readResponse(r, &body)
		if err != nil {
			return lat, errs, err
		}
		lat = append(lat, time.Since(start))
		want := denyMark
		if q.allow {
			want = allowMark
		}
		if status != 200 || !bytes.Contains(body[:n], want) || !bytes.Contains(body[:n], q.reason) {
			errs++
		}
	}
}

// readResponse reads one HTTP/1.1 response with a Content-Length body.
func readResponse(r *bufio.Reader, body *[]byte) (int, int, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return 0, 0, err
	}
	if len(line) < 12 {
		return 0, 0, errors.New("short status line")
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, 0, err
	}
	length := -1
	for {
		h, err := r.ReadSlice('\n')
		if err != nil {
			return 0, 0, err
		}
		if len(h) <= 2 {
			break
		}
		if k, v, ok := bytes.Cut(h, []byte(":")); ok && bytes.EqualFold(k, []byte("Content-Length")) {
			length, err = strconv.Atoi(string(bytes.TrimSpace(v)))
			if err != nil {
				return 0, 0, err
			}
		}
	}
	if length < 0 {
		return 0, 0, errors.New("response without Content-Length")
	}
	if cap(*body) < length {
		*body = make([]byte, length)
	}
	*body = (*body)[:length]
	if _, err := io.ReadFull(r, *body); err != nil {
		return 0, 0, err
	}
	return status, length, nil
}

// drive runs conns workers for d and aggregates their results.
func drive(ctx context.Context, addr string, reqs []request, conns int, d time.Duration) (*report, error) {
	start := time.Now()
	deadline := start.Add(d)
	var mu sync.Mutex
	var all []time.Duration
	var errs int
	var firstErr error
	var wg sync.WaitGroup
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat, e, err := worker(ctx, addr, reqs, w*(len(reqs)/conns+7), deadline)
			mu.Lock()
			defer mu.Unlock()
			all = append(all, lat...)
			errs += e
			if err != nil && firstErr == nil {
				firstErr = err
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return nil, firstErr
	}
	slices.Sort(all)
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[min(len(all)-1, int(p*float64(len(all))))].Microseconds()) / 1000
	}
	return &report{
		Connections: conns, Duration: d.String(), Requests: len(all), Errors: errs,
		PerSecond: float64(len(all)) / elapsed.Seconds(),
		P50ms:     pct(0.50), P99ms: pct(0.99), P999ms: pct(0.999), Maxms: pct(1),
	}, nil
}

// report is the result of one run.
type report struct {
	Target          string  `json:"target"`
	Connections     int     `json:"connections"`
	Duration        string  `json:"duration"`
	Actors          int     `json:"actors"`
	Requests        int     `json:"requests"`
	Errors          int     `json:"errors"`
	PerSecond       float64 `json:"decisions_per_second"`
	P50ms           float64 `json:"p50_ms"`
	P99ms           float64 `json:"p99_ms"`
	P999ms          float64 `json:"p999_ms"`
	Maxms           float64 `json:"max_ms"`
	PeakRSSMiB      float64 `json:"peak_rss_mib"`
	RSSMiB          float64 `json:"rss_mib"`
	LogSync         string  `json:"log_sync,omitempty"`
	LoggedDecisions int     `json:"logged_decisions,omitempty"`
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "target:        %s (%d actors, %d connections, %s)\n", r.Target, r.Actors, r.Connections, r.Duration)
	fmt.Fprintf(w, "decisions/s:   %.0f (%d requests, %d unexpected answers)\n", r.PerSecond, r.Requests, r.Errors)
	fmt.Fprintf(w, "latency ms:    p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n", r.P50ms, r.P99ms, r.P999ms, r.Maxms)
	fmt.Fprintf(w, "server RSS:    peak %.1f MiB, at end %.1f MiB\n", r.PeakRSSMiB, r.RSSMiB)
	if r.LogSync != "" {
		fmt.Fprintf(w, "decision log:  %d lines (sync %s)\n", r.LoggedDecisions, r.LogSync)
	}
}
