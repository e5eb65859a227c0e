package proctest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// RawResponse is the answer to a raw HTTP/1.1 exchange.
type RawResponse struct {
	Status int
	Header http.Header
	// RawHeader is the header block as received, to check that nothing
	// was injected into it.
	RawHeader []byte
	Body      []byte
	// Elapsed is the time from the first byte sent to the end of the
	// response (or the connection's close).
	Elapsed time.Duration
}

// Raw sends head (request line and headers, as written) on a new
// connection to addr, then streams body (nil: nothing) while reading one
// response, all within timeout. A server that answers before the body is
// sent, and closes the connection, is fine: the response counts.
func Raw(addr string, head []byte, body io.Reader, timeout time.Duration) (RawResponse, error) {
	var r RawResponse
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return r, err
	}
	defer conn.Close()
	start := time.Now()
	_ = conn.SetDeadline(start.Add(timeout))
	if _, err := conn.Write(head); err != nil {
		return r, fmt.Errorf("write head: %w", err)
	}
	if body != nil {
		go func() { _, _ = io.Copy(conn, body) }() // stops when the connection closes
	}
	tee := &bytes.Buffer{}
	br := bufio.NewReader(io.TeeReader(conn, tee))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		r.Elapsed = time.Since(start)
		return r, fmt.Errorf("read response after %s: %w", r.Elapsed, err)
	}
	defer resp.Body.Close()
	if i := bytes.Index(tee.Bytes(), []byte("\r\n\r\n")); i >= 0 {
		r.RawHeader = append([]byte(nil), tee.Bytes()[:i]...)
	}
	r.Status, r.Header = resp.StatusCode, resp.Header
	r.Body, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	r.Elapsed = time.Since(start)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return r, fmt.Errorf("read body: %w", err)
	}
	return r, nil
}

// SlowHeaders opens a connection to addr, sends a request line and then
// one header byte every interval, never finishing the headers. It returns
// how long the server let the connection live (until it closed it or
// answered), bounded by limit; ok is false when the server still held the
// connection at limit.
func SlowHeaders(addr, path string, interval, limit time.Duration) (held time.Duration, ok bool, err error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, false, err
	}
	defer conn.Close()
	start := time.Now()
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nX-Slow: ", path, addr); err != nil {
		return 0, false, err
	}
	closed := make(chan struct{})
	go func() {
		// Any byte or EOF from the server ends the wait.
		var b [1]byte
		_ = conn.SetReadDeadline(start.Add(limit))
		_, _ = conn.Read(b[:])
		close(closed)
	}()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-closed:
			held = time.Since(start)
			return held, held < limit, nil
		case <-tick.C:
			_ = conn.SetWriteDeadline(time.Now().Add(interval))
			if _, err := conn.Write([]byte("a")); err != nil {
				<-closed
				return time.Since(start), true, nil
			}
		}
	}
}

// HostileCase is one hostile request for RunHostile.
type HostileCase struct {
	Name string
	// Head is the raw request line and headers, ending in "\r\n\r\n".
	Head string
	// Body, when set, returns the body to stream after Head.
	Body func() io.Reader
	// Check, when set, adds checks on the answer; every answer must in
	// any case be a 4xx within the timeout with no injected header.
	Check func(RawResponse) error
	// Gap, when set, names a known gap of the service for this input: an
	// answer that is not a 4xx is then logged as "GAP: ..." instead of
	// failing, and Check (which must then prove the answer safe, e.g. a
	// deny) decides.
	Gap string
}

// InjectedHeader is the header name hostile cases try to inject; it must
// never appear in a response.
const InjectedHeader = "X-Injected"

// RunHostile sends every case to addr in a subtest and counts it in fig:
// a 4xx within timeout with no InjectedHeader is a denial; anything else
// (2xx, 5xx, no answer in time, an injected header) is lost.
func RunHostile(t *testing.T, fig *Figures, addr string, timeout time.Duration, cases []HostileCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			var body io.Reader
			if c.Body != nil {
				body = c.Body()
			}
			fig.Sent()
			r, err := Raw(addr, []byte(c.Head), body, timeout)
			switch {
			case err != nil:
				fig.Lost()
				t.Errorf("no answer: %v", err)
				return
			case r.Status >= 200 && r.Status < 300 && c.Gap == "":
				fig.Allowed()
			default:
				fig.Denied() // a gap's 2xx is proven a deny by Check
			}
			if r.Status < 400 || r.Status >= 500 {
				if c.Gap == "" || c.Check == nil {
					fig.Lost()
					t.Errorf("status %d, want a 4xx: %.300s", r.Status, r.Body)
				} else {
					t.Logf("GAP: %s: status %d", c.Gap, r.Status)
				}
			}
			if bytes.Contains(bytes.ToLower(r.RawHeader), bytes.ToLower([]byte(InjectedHeader))) {
				fig.Lost()
				t.Errorf("injected header in the response:\n%s", r.RawHeader)
			}
			if c.Check != nil {
				if err := c.Check(r); err != nil {
					t.Error(err)
				}
			}
			t.Logf("%d in %s: %.160s", r.Status, r.Elapsed.Round(time.Millisecond), bytes.TrimSpace(r.Body))
		})
	}
}

// RunSlowloris holds conns slow-header connections to addr at once and
// checks that the server cuts every one within cut (its ReadHeaderTimeout
// plus a margin); each counts as one denied request, or lost when held
// longer. It returns the longest time a connection was held.
func RunSlowloris(t *testing.T, fig *Figures, addr, path string, conns int, cut time.Duration) time.Duration {
	t.Helper()
	var (
		mu      sync.Mutex
		longest time.Duration
		wg      sync.WaitGroup
	)
	for range conns {
		wg.Go(func() {
			held, ok, err := SlowHeaders(addr, path, 500*time.Millisecond, cut+5*time.Second)
			fig.Sent()
			mu.Lock()
			defer mu.Unlock()
			longest = max(longest, held)
			if err != nil || !ok || held > cut {
				fig.Lost()
				t.Errorf("slow-header connection held %s (cut within %s expected), err %v", held, cut, err)
				return
			}
			fig.Denied()
		})
	}
	wg.Wait()
	return longest
}

// RunHostileLoad runs cases rounds times at once against addr while
// slow slow-header connections are held on path (see RunSlowloris),
// calls legit meanwhile (a legitimate request that must still be
// served), and returns the longest time a slow connection was held.
func RunHostileLoad(t *testing.T, fig *Figures, addr, path string, rounds, slow int, cut time.Duration, cases []HostileCase, legit func()) time.Duration {
	t.Helper()
	var wg sync.WaitGroup
	var held time.Duration
	wg.Go(func() { held = RunSlowloris(t, fig, addr, path, slow, cut) })
	for range rounds {
		wg.Go(func() { RunHostile(t, fig, addr, 60*time.Second, cases) })
	}
	legit()
	wg.Wait()
	return held
}
