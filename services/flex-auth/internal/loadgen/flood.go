package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// floodBatch is the size of the flooder's /access/v1/evaluations batches.
const floodBatch = 1000

// flood runs the per-caller limit scenario against a flex-auth with its
// default limits: one caller (from 127.0.0.2) sends 1,000-item batches as
// fast as it can over o.conns connections while a second caller (from
// 127.0.0.1) sends /v1/check one at a time; it reports what each got, the
// second caller's latency and how fast the decision log grew.
func flood(ctx context.Context, o options, stdout, log io.Writer) error {
	dir, err := os.MkdirTemp("", "flex-auth-flood-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	actors := append(fixtureActors(), syntheticActors(o.synthetic)...)
	o.limitsOn = true
	srv, err := startFlexAuth(ctx, o, dir, actors, log)
	if err != nil {
		return err
	}
	defer srv.stop()
	evals := flexAuthRequests(actors, true)
	checks := flexAuthRequests(actors, false)
	// The batch's members are the defaults of its items, which are empty
	// (about 3 bytes each): the smallest body that asks 1,000 decisions.
	var batchDoc map[string]any
	r := evals[0].raw
	if err := json.Unmarshal(r[bytes.Index(r, []byte("\r\n\r\n"))+4:], &batchDoc); err != nil {
		return err
	}
	batchDoc["evaluations"] = slices.Repeat([]map[string]any{{}}, floodBatch)
	batch, _ := json.Marshal(batchDoc)
	url := "http://" + srv.addr
	checker := clientFrom("127.0.0.1")
	checkBody := func(i int) []byte {
		r := checks[i%len(checks)].raw
		return r[bytes.Index(r, []byte("\r\n\r\n"))+4:]
	}
	// First the checker alone: its latency on this machine at this load,
	// which the flood should leave as it is.
	quiet := min(o.duration/3, 5*time.Second)
	qctx, qcancel := context.WithTimeout(ctx, quiet)
	alone, _ := checkLoop(qctx, checker, url, checkBody)
	qcancel()
	logs := filepath.Join(dir, "decisions*")
	size0, lines0 := logSize(logs)
	fmt.Fprintf(log, "flood: flex-auth at %s, flooder 127.0.0.2 x%d conns (%d-item batches of %d bytes), checker 127.0.0.1, %s (after %s of the checker alone)\n",
		srv.addr, o.conns, floodBatch, len(batch), o.duration, quiet)

	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	var ok, limited, other atomic.Int64
	var wg sync.WaitGroup
	flooder := clientFrom("127.0.0.2")
	for range o.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				switch code := post(ctx, flooder, url+"/access/v1/evaluations", batch); code {
				case http.StatusOK:
					ok.Add(1)
				case http.StatusTooManyRequests:
					limited.Add(1)
				case 0:
				default:
					other.Add(1)
				}
			}
		}()
	}
	start := time.Now()
	lat, checkBad := checkLoop(ctx, checker, url, checkBody)
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	size1, lines1 := logSize(logs)
	growth := float64(size1-size0) / elapsed
	lines := lines1 - lines0
	la, _ := os.ReadFile("/proc/loadavg")
	fmt.Fprintf(stdout, "flood (%s, load average %s):\n", o.duration, bytes.Join(bytes.Fields(la)[:3], []byte(" ")))
	fmt.Fprintf(stdout, "flooder  /access/v1/evaluations x%d: %d batches 200, %d batches 429, %d other\n", floodBatch, ok.Load(), limited.Load(), other.Load())
	fmt.Fprintf(stdout, "checker  /v1/check alone: %d requests, p50 %s, p99 %s\n", len(alone), pct(alone, 0.5), pct(alone, 0.99))
	fmt.Fprintf(stdout, "checker  /v1/check during the flood: %d requests, %d not 200, p50 %s, p99 %s, max %s\n", len(lat), checkBad, pct(lat, 0.5), pct(lat, 0.99), pct(lat, 1))
	fmt.Fprintf(stdout, "decision log (every file): %d lines, %.0f lines/s, %.2f MiB/s (bytes/line %.0f)\n", lines, float64(lines)/elapsed,
		growth/(1<<20), growth*elapsed/float64(max(lines, 1)))
	if limited.Load() == 0 || checkBad > 0 || pct(lat, 0.99) > 10*time.Millisecond {
		return fmt.Errorf("flood: the flooder was not limited, or the checker was refused or slow (p99 %s)", pct(lat, 0.99))
	}
	return nil
}

// checkLoop sends /v1/check one at a time (1 ms apart: a steady caller,
// not a second flood) until ctx ends; it returns the latencies, sorted,
// and how many answers were not 200.
func checkLoop(ctx context.Context, c *http.Client, url string, body func(int) []byte) ([]time.Duration, int) {
	var lat []time.Duration
	bad := 0
	for i := 0; ctx.Err() == nil; i++ {
		t0 := time.Now()
		code := post(ctx, c, url+"/v1/check", body(i))
		if code == 0 {
			break
		}
		lat = append(lat, time.Since(t0))
		if code != http.StatusOK {
			bad++
		}
		time.Sleep(time.Millisecond)
	}
	slices.Sort(lat)
	return lat, bad
}

// pct is the p-th quantile of sorted latencies.
func pct(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	return lat[int(p*float64(len(lat)-1))]
}

// logSize sums the sizes and lines of the decision log's files (the live
// one and those rotated beside it).
func logSize(pattern string) (int64, int) {
	files, _ := filepath.Glob(pattern)
	var size int64
	lines := 0
	for _, f := range files {
		size += fileSize(f)
		n, _ := countLines(f)
		lines += n
	}
	return size, lines
}

// clientFrom is an HTTP client whose connections leave from local (an
// address of the loopback range: each address is one caller).
func clientFrom(local string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 64}}
}

// post sends body and returns the status (0 when the run ended).
func post(ctx context.Context, c *http.Client, url string, body []byte) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}
