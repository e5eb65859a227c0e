package proctest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
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
