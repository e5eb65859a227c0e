package faults

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/httpx"
	"github.com/stellaops/authgate/pkg/testkit/proctest"
)

// TestHostileHTTP is scenario 8 for flex-auth: oversized headers and
// bodies, slow headers, thousands of parameters, deeply nested JSON,
// invalid UTF-8 and header injection attempts each get a 4xx in bounded
// time, and the server's memory stays bounded.
func TestHostileHTTP(t *testing.T) {
	fig := proctest.NewFigures("8-flex-auth")
	fa := startFlexAuth(t, "")
	ctx := context.Background()
	before, err := fa.Usage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	post := func(extraHeaders string, body []byte) string {
		return fmt.Sprintf("POST /v1/check HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\nConnection: close\r\n\r\n%s",
			fa.Addr, extraHeaders, len(body), body)
	}
	stream := func(n int64) func() io.Reader {
		return func() io.Reader { return io.LimitReader(proctest.Repeat('a'), n) }
	}
	many := &strings.Builder{}
	many.WriteString(`{"actor":"agt-state-hub-bridge","context":{`)
	for i := range 10_000 {
		if i > 0 {
			many.WriteByte(',')
		}
		fmt.Fprintf(many, `"k%d":%d`, i, i)
	}
	many.WriteString(`}}`)
	nested := `{"actor":"agt-state-hub-bridge","context":{"x":` + strings.Repeat("[", 30_000) + strings.Repeat("]", 30_000) + `}}`
	query := strings.Repeat("a=1&", 10_000)

	cases := []proctest.HostileCase{
		{Name: "header of 1 MiB", Head: post("X-Big: "+strings.Repeat("a", 1<<20)+"\r\n", allowBody),
			Check: status(431)},
		{Name: "10000 headers", Head: post(strings.Repeat("X-Many: a\r\n", 10_000), allowBody), Check: status(431)},
		{Name: "body of 64 MiB announced and sent", Head: fmt.Sprintf("POST /v1/check HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", fa.Addr, 64<<20),
			Body: stream(64 << 20), Check: status(400)},
		{Name: "chunked body without end", Head: fmt.Sprintf("POST /v1/check HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n", fa.Addr),
			Body: func() io.Reader {
				return io.MultiReader(strings.NewReader("400000\r\n"), io.LimitReader(proctest.Repeat('{'), 4<<20))
			}, Check: status(400)},
		{Name: "10000 query parameters", Head: fmt.Sprintf("POST /v1/check?%s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", query, fa.Addr, len(allowBody), allowBody),
			Check: status(431)},
		{Name: "10000 context members", Head: post("", []byte(many.String())), Check: status(400)},
		{Name: "JSON nested 30000 deep", Head: post("", []byte(nested)), Check: status(400)},
		{Name: "invalid UTF-8 in actor", Head: post("", []byte("{\"actor\":\"agt-\xff\xfe-bridge\"}")), Check: status(400)},
		{Name: "invalid UTF-8 in member name", Head: post("", []byte("{\"act\xffor\":\"x\"}")), Check: status(400)},
		{Name: "CR LF in an unknown member name", Head: post("", []byte(`{"actor":"x","a\r\nX-Injected: yes":1}`)), Check: status(400)},
		{Name: "CR LF in the path", Head: fmt.Sprintf("POST /v1/check%%0D%%0AX-Injected:%%20yes HTTP/1.1\r\nHost: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", fa.Addr),
			Check: status(404)},
		{Name: "not JSON", Head: post("", []byte("actor=x")), Check: status(400)},
	}
	proctest.RunHostile(t, fig, fa.Addr, 30*time.Second, cases)

	// The same at once, while 100 slow-header connections are held.
	cut := httpx.DefaultLimits.ReadHeaderTimeout + 2*time.Second
	held := proctest.RunHostileLoad(t, fig, fa.Addr, "/healthz", proctest.Pick(scale, 2, 10), proctest.Pick(scale, 100, 500), cut, cases, func() {
		// A legitimate check still gets through meanwhile.
		if a := check(ctx, newClient(1), fa.URL, allowBody); a.Status != 200 || a.Env.Effect != "allow" {
			t.Errorf("legitimate check during the hostile load: %d %v", a.Status, a.Err)
		}
	})

	after, err := fa.Usage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	peak, _ := fa.RSS()
	if after.RSS > before.RSS+64<<20 {
		t.Errorf("RSS grew from %s to %s", before, after)
	}
	t.Logf("slow headers cut after at most %s; before %s, after %s (VmRSS now %.1f MiB)", held.Round(time.Millisecond), before, after, float64(peak)/(1<<20))
	fig.Log(t)
}

// status checks the exact status of a hostile answer.
func status(want int) func(proctest.RawResponse) error {
	return func(r proctest.RawResponse) error {
		if r.Status != want {
			return fmt.Errorf("status %d, want %d: %.200s", r.Status, want, bytes.TrimSpace(r.Body))
		}
		return nil
	}
}
