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
	logFile := filepath.Join(dir, "decisions.jsonl")
	size0 := fileSize(logFile)
	fmt.Fprintf(log, "flood: flex-auth at %s, flooder 127.0.0.2 x%d conns (%d-item batches of %d bytes), checker 127.0.0.1, %s\n",
		srv.addr, o.conns, floodBatch, len(batch), o.duration)

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
	checker := clientFrom("127.0.0.1")
	var lat []time.Duration
	checkBad := 0
	start := time.Now()
	for i := 0; ctx.Err() == nil; i++ {
		r := checks[i%len(checks)].raw
		t0 := time.Now()
		code := post(ctx, checker, url+"/v1/check", r[bytes.Index(r, []byte("\r\n\r\n"))+4:])
		if code == 0 {
			break
		}
		lat = append(lat, time.Since(t0))
		if code != http.StatusOK {
			checkBad++
		}
		time.Sleep(time.Millisecond) // a steady caller, not a second flood
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	growth := float64(fileSize(logFile)-size0) / elapsed
	lines, err := countLines(logFile)
	if err != nil {
		return err
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[int(p*float64(len(lat)-1))]
	}
	la, _ := os.ReadFile("/proc/loadavg")
	fmt.Fprintf(stdout, "flood (%s, load average %s):\n", o.duration, bytes.Join(bytes.Fields(la)[:3], []byte(" ")))
	fmt.Fprintf(stdout, "flooder  /access/v1/evaluations x%d: %d batches 200, %d batches 429, %d other\n", floodBatch, ok.Load(), limited.Load(), other.Load())
	fmt.Fprintf(stdout, "checker  /v1/check: %d requests, %d not 200, p50 %s, p99 %s, max %s\n", len(lat), checkBad, pct(0.5), pct(0.99), pct(1))
	fmt.Fprintf(stdout, "decision log: %d lines, %.0f decisions/s, %.2f MiB/s (bytes/decision %.0f)\n", lines, float64(lines)/elapsed,
		growth/(1<<20), growth*elapsed/float64(max(lines, 1)))
	if limited.Load() == 0 || checkBad > 0 || pct(0.99) > 10*time.Millisecond {
		return fmt.Errorf("flood: the flooder was not limited, or the checker was refused or slow (p99 %s)", pct(0.99))
	}
	return nil
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
