package decisionlog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/stellaops/authgate/services/flex-auth/internal/engine"
)

func record(i int) *engine.Decision {
	ttl := int64(24)
	return &engine.Decision{
		Time: time.Date(2026, 6, 23, 10, 0, 0, i, time.UTC), ID: fmt.Sprintf("decision:%016x", i),
		Actor: "agt-state-hub-bridge", Subject: "iam:agt-state-hub-bridge", Action: "ssh.sign",
		Principal: "agt-task-bridge", TTLHours: &ttl, Effect: "allow", Reason: "signing_policy_matched",
		Backend: "flex-auth-cel", PolicyPackage: "ops-warden", PolicyDigest: "sha256:aa", RegistryDigest: "sha256:bb",
		LatencyUS: 42,
	}
}

// readLines parses the log strictly: every line a complete JSON object
// with the members of a decision record and its chain, and no other.
func readLines(t *testing.T, path string) []engine.Decision {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Fatalf("log does not end with a newline: %q", b[max(0, len(b)-40):])
	}
	lines, err := ReadDecisions(path)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]engine.Decision, len(lines))
	for i := range lines {
		out[i] = lines[i].Decision
	}
	return out
}

// countingFile counts writes and syncs and can hold the first write until
// released, or fail on demand.
type countingFile struct {
	*os.File
	writes, syncs atomic.Int64
	gate          chan struct{}
	failWrite     error
	partial       bool
}

func (c *countingFile) Write(b []byte) (int, error) {
	if c.writes.Add(1) == 1 && c.gate != nil {
		<-c.gate
	}
	if c.failWrite != nil {
		n := 0
		if c.partial {
			n, _ = c.File.Write(b[:len(b)/2])
		}
		return n, c.failWrite
	}
	return c.File.Write(b)
}

func (c *countingFile) Sync() error { c.syncs.Add(1); return c.File.Sync() }

// queued is the number of entries waiting for the next group.
func (l *Log) queued() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.queue)
}

// line is the log line of d.
func line(t testing.TB, d *engine.Decision) []byte {
	t.Helper()
	var w lines
	w.reset(1)
	w.add(d)
	return w.bytes()
}

func TestLineIsCompleteJSON(t *testing.T) {
	e := record(1)
	e.Actor = "we\"ird\n<actor>"
	var l engine.Decision
	if err := json.Unmarshal(line(t, e), &l, json.RejectUnknownMembers(true)); err != nil {
		t.Fatal(err)
	}
	if l.Actor != e.Actor || l.ID != e.ID || *l.TTLHours != 24 || l.LatencyUS != 42 || !l.Time.Equal(e.Time) {
		t.Fatalf("round trip: %+v", l)
	}
}

// The lines are what readers of the log have always parsed: the members
// in this order, empty ones left out as here, strings escaped as
// encoding/json escapes them, the time in UTC.
func TestLineFormat(t *testing.T) {
	ttl := int64(24)
	for _, tc := range []struct {
		d    engine.Decision
		want string
	}{
		{engine.Decision{Time: time.Date(2026, 6, 23, 12, 0, 0, 120000, time.FixedZone("x", 7200)), ID: "decision:00000000000000ff", Endpoint: "/v1/check",
			Actor: "we\"ird\n<actor>&\u2028", Subject: "iam:a", Action: "ssh.sign", Principal: "p", Resource: "host:1", TTLHours: &ttl,
			Effect: "allow", Reason: "signing_policy_matched", Backend: "flex-auth", PolicyPackage: "ops-warden", PolicyVersion: "1.0.0", PolicyDigest: "sha256:aa",
			RegistryDigest: "sha256:bb", DataDigest: "sha256:cc", LatencyUS: 42, RuleID: "r1", Err: errors.New("not logged")},
			"{\"time\":\"2026-06-23T10:00:00.00012Z\",\"decision_id\":\"decision:00000000000000ff\",\"endpoint\":\"/v1/check\",\"actor\":\"we\\\"ird\\n\\u003cactor\\u003e\\u0026\\u2028\",\"subject\":\"iam:a\",\"action\":\"ssh.sign\",\"principal\":\"p\",\"resource\":\"host:1\",\"ttl_hours\":24,\"effect\":\"allow\",\"reason\":\"signing_policy_matched\",\"backend\":\"flex-auth\",\"policy_package\":\"ops-warden\",\"policy_digest\":\"sha256:aa\",\"registry_digest\":\"sha256:bb\",\"data_digest\":\"sha256:cc\",\"latency_us\":42}\n"},
		{engine.Decision{Time: time.Date(2026, 6, 23, 12, 0, 0, 0, time.UTC), ID: "decision:0000000000000001", Endpoint: "/access/v1/search/subject",
			Subject: "user", Action: "can_read", Resource: "todo:1", Effect: "deny", Reason: "search", RegistryDigest: "sha256:bb", Results: []string{}},
			"{\"time\":\"2026-06-23T12:00:00Z\",\"decision_id\":\"decision:0000000000000001\",\"endpoint\":\"/access/v1/search/subject\",\"actor\":\"\",\"subject\":\"user\",\"action\":\"can_read\",\"principal\":\"\",\"resource\":\"todo:1\",\"effect\":\"deny\",\"reason\":\"search\",\"backend\":\"\",\"policy_package\":\"\",\"policy_digest\":\"\",\"registry_digest\":\"sha256:bb\",\"results\":[],\"latency_us\":0}\n"},
		{engine.Decision{Time: time.Date(2026, 6, 23, 12, 0, 0, 0, time.UTC), ID: "decision:0000000000000002", Results: []string{"a", "b<"}, LatencyUS: -3},
			"{\"time\":\"2026-06-23T12:00:00Z\",\"decision_id\":\"decision:0000000000000002\",\"actor\":\"\",\"subject\":\"\",\"action\":\"\",\"principal\":\"\",\"effect\":\"\",\"reason\":\"\",\"backend\":\"\",\"policy_package\":\"\",\"policy_digest\":\"\",\"registry_digest\":\"\",\"results\":[\"a\",\"b\\u003c\"],\"latency_us\":-3}\n"},
	} {
		if got := string(line(t, &tc.d)); got != tc.want {
			t.Errorf("line\n got %s\nwant %s", got, tc.want)
		}
	}
}

func TestConcurrentEntriesShareOneSync(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.jsonl")
	cf := &countingFile{gate: make(chan struct{})}
	log, err := Open(Config{Path: path, Open: func(p string) (File, error) {
		f, err := OpenAppend(p)
		if err != nil {
			return nil, err
		}
		cf.File = f.(*os.File)
		return cf, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	wg.Add(1)
	go func() { defer wg.Done(); errs <- log.Append(record(0)) }()
	for cf.writes.Load() == 0 { // the writer holds entry 0 in its first write
		time.Sleep(time.Millisecond)
	}
	for i := 1; i < n; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- log.Append(record(i)) }()
	}
	for log.queued() < n-1 { // every other entry is queued behind it
		time.Sleep(time.Millisecond)
	}
	close(cf.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Decision 0 alone, then the other 49 in one write and one sync.
	if w, s := cf.writes.Load(), cf.syncs.Load(); w != 2 || s != 2 {
		t.Fatalf("writes=%d syncs=%d, want 2 writes and 2 syncs for %d entries", w, s, n)
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, path)
	seen := map[string]bool{}
	for _, l := range lines {
		seen[l.ID] = true
	}
	if len(lines) != n || len(seen) != n {
		t.Fatalf("%d lines, %d distinct ids, want %d", len(lines), len(seen), n)
	}
}

func TestSyncModes(t *testing.T) {
	for _, tc := range []struct {
		mode  SyncMode
		syncs int64
	}{{SyncAlways, 5}, {SyncOff, 0}} {
		t.Run(string(tc.mode), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "d.jsonl")
			cf := &countingFile{}
			log, err := Open(Config{Path: path, Sync: tc.mode, Open: func(p string) (File, error) {
				f, err := OpenAppend(p)
				cf.File, _ = f.(*os.File)
				return cf, err
			}})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 5 {
				if err := log.Append(record(i)); err != nil {
					t.Fatal(err)
				}
			}
			log.Close()
			if got := cf.syncs.Load(); got != tc.syncs {
				t.Fatalf("syncs = %d, want %d", got, tc.syncs)
			}
			if got := len(readLines(t, path)); got != 5 {
				t.Fatalf("%d lines", got)
			}
		})
	}
	if _, err := ParseSyncMode("sometimes"); err == nil {
		t.Fatal("ParseSyncMode accepted an unknown mode")
	}
}

func TestAppendAfterCloseFails(t *testing.T) {
	log, err := Open(Config{Path: filepath.Join(t.TempDir(), "d.jsonl")})
	if err != nil {
		t.Fatal(err)
	}
	log.Close()
	if err := log.Append(record(1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("err = %v", err)
	}
}
