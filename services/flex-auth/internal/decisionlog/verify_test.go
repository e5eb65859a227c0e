package decisionlog

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// writeKey writes a PKCS #8 PEM private key and returns its path.
func writeKey(t *testing.T, key any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "signing.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func ed25519Signer(t *testing.T) *Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := LoadSigner(writeKey(t, priv))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// stepClock is a clock that moves on by step at every reading.
func stepClock(step time.Duration) func() time.Time {
	var mu sync.Mutex
	t := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(step)
		return t
	}
}

// rotatingLog writes n decisions from 8 goroutines into a log that rotates
// every few KiB and signs a checkpoint at every group, and returns the
// files, oldest first.
func rotatingLog(t *testing.T, signer *Signer, n int) []string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "decisions.log")
	l, err := Open(Config{Path: path, Signer: signer, MaxSize: 4 << 10, CheckpointInterval: time.Millisecond, Now: stepClock(time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := g; i < n; i += 8 {
				if err := l.Append(record(i)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	files, err := Rotated(path)
	if err != nil {
		t.Fatal(err)
	}
	return append(files, path)
}

func TestRotatedSignedSetVerifies(t *testing.T) {
	signer := ed25519Signer(t)
	files := rotatingLog(t, signer, 1500)
	if len(files) < 100 {
		t.Fatalf("%d files, want at least 100 rotations", len(files))
	}
	rep, err := Verify(files, signer.key.Public())
	if err != nil {
		t.Fatal(err)
	}
	decisions := 0
	seen := map[string]bool{}
	for _, f := range files {
		lines, err := ReadDecisions(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lines {
			seen[l.ID] = true
			decisions++
		}
	}
	if decisions != 1500 || len(seen) != 1500 {
		t.Fatalf("%d decision lines, %d distinct, want 1500 of each", decisions, len(seen))
	}
	if !rep.Closed || rep.Unsigned != 0 || rep.FirstSeq != 1 || rep.LastSeq != int64(rep.Lines) || rep.Signed < len(files) {
		t.Fatalf("report %+v", rep)
	}
}

func TestP256SignedRecordsVerify(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := LoadSigner(writeKey(t, priv))
	if err != nil {
		t.Fatal(err)
	}
	files := rotatingLog(t, signer, 200)
	if _, err := Verify(files, &priv.PublicKey); err != nil {
		t.Fatal(err)
	}
}

func TestSigningKeyTypes(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSigner(writeKey(t, priv)); err == nil || !strings.Contains(err.Error(), "Ed25519 or ECDSA P-256") {
		t.Fatalf("P-384 key: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "k.pem")
	_ = os.WriteFile(bad, []byte("not pem"), 0o600)
	if _, err := LoadSigner(bad); err == nil || !strings.Contains(err.Error(), "no PEM block") {
		t.Fatalf("garbage key: %v", err)
	}
}

// lineOf returns the 1-based number of the first line of file holding s.
func lineOf(t *testing.T, file, s string) int {
	t.Helper()
	b, _ := os.ReadFile(file)
	for i, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	t.Fatalf("%s holds no %q", file, s)
	return 0
}

func rewrite(t *testing.T, file string, f func(lines []string) []string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	out := strings.Join(f(lines), "\n")
	if out != "" {
		out += "\n"
	}
	if err := os.WriteFile(file, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyFindsTampering(t *testing.T) {
	signer := ed25519Signer(t)
	other := ed25519Signer(t)
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, files []string) []string
		kind   string
		// file and line of the problem, given the tampered files
		where func(t *testing.T, files []string) (string, int)
		key   *Signer
	}{
		{name: "edited decision", kind: ProblemEdited,
			tamper: func(t *testing.T, files []string) []string {
				rewrite(t, files[3], func(l []string) []string {
					i := lineOf(t, files[3], `"effect":"allow"`) - 1
					l[i] = strings.Replace(l[i], `"effect":"allow"`, `"effect":"deny"`, 1)
					return l
				})
				return files
			},
			where: func(t *testing.T, files []string) (string, int) { return "", lineOf(t, files[3], `"effect":"deny"`) }},
		{name: "deleted line", kind: ProblemDeleted,
			tamper: func(t *testing.T, files []string) []string {
				rewrite(t, files[3], func(l []string) []string { return append(l[:1], l[2:]...) })
				return files
			},
			where: func(*testing.T, []string) (string, int) { return "", 2 }},
		{name: "reordered lines", kind: ProblemReordered,
			tamper: func(t *testing.T, files []string) []string {
				rewrite(t, files[3], func(l []string) []string { l[1], l[2] = l[2], l[1]; return l })
				return files
			},
			where: func(*testing.T, []string) (string, int) { return "", 2 }},
		{name: "missing file", kind: ProblemMissing,
			tamper: func(_ *testing.T, files []string) []string { return append(files[:3:3], files[4:]...) },
			where:  func(_ *testing.T, files []string) (string, int) { return files[3], 1 }},
		{name: "files out of order", kind: ProblemReordered,
			tamper: func(_ *testing.T, files []string) []string {
				out := append([]string(nil), files...)
				out[3], out[4] = out[4], out[3]
				return out
			},
			where: func(_ *testing.T, files []string) (string, int) { return files[3], 1 }},
		{name: "tail truncated", kind: ProblemTruncated,
			tamper: func(t *testing.T, files []string) []string {
				rewrite(t, files[3], func(l []string) []string { return l[:len(l)-2] })
				return files
			},
			where: func(t *testing.T, files []string) (string, int) {
				b, _ := os.ReadFile(files[3])
				return "", bytes.Count(b, []byte{'\n'})
			}},
		{name: "forged signature", kind: ProblemSignature,
			tamper: func(t *testing.T, files []string) []string {
				rewrite(t, files[3], func(l []string) []string {
					i := len(l) - 1
					j := strings.Index(l[i], `"sig":"`) + len(`"sig":"`)
					c := "A"
					if l[i][j] == 'A' {
						c = "B"
					}
					l[i] = l[i][:j] + c + l[i][j+1:]
					return l
				})
				return files
			},
			where: func(t *testing.T, files []string) (string, int) {
				b, _ := os.ReadFile(files[3])
				return "", bytes.Count(b, []byte{'\n'})
			}},
		{name: "another key", kind: ProblemSignature, key: other,
			tamper: func(_ *testing.T, files []string) []string { return files },
			where:  func(t *testing.T, files []string) (string, int) { return files[0], lineOf(t, files[0], `"record":`) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := tc.tamper(t, rotatingLog(t, signer, 400))
			key := signer
			if tc.key != nil {
				key = tc.key
			}
			_, err := Verify(files, key.key.Public())
			var p *Problem
			if !errors.As(err, &p) {
				t.Fatalf("Verify = %v, want a %s problem", err, tc.kind)
			}
			file, line := tc.where(t, files)
			if file == "" {
				file = files[3]
			}
			if p.Kind != tc.kind || p.File != file || p.Line != line {
				t.Fatalf("problem %v, want %s at %s:%d", p, tc.kind, file, line)
			}
		})
	}
}

func TestTornTailIsReportedThenCutAndTheChainGoesOn(t *testing.T) {
	signer := ed25519Signer(t)
	path := filepath.Join(t.TempDir(), "decisions.log")
	l, err := Open(Config{Path: path, Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := l.Append(record(i)); err != nil {
			t.Fatal(err)
		}
	}
	// A crash: no close record, and half a line.
	l.fileMu.Lock()
	_, _ = l.f.Write([]byte(`{"time":"2026-12-07T12:00:00Z","decision_id":"decision:tor`))
	_ = l.f.Close()
	l.f = nil
	l.fileMu.Unlock()

	rep, err := Verify([]string{path}, signer.key.Public())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Torn.Line != 11 || rep.TornBytes == 0 || rep.Closed || rep.Unsigned != 10 {
		t.Fatalf("report %+v, want a torn line 11 after 10 unsigned decisions", rep)
	}
	l2, err := Open(Config{Path: path, Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	if err := l2.Append(record(11)); err != nil {
		t.Fatal(err)
	}
	if err := l2.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err = Verify([]string{path}, signer.key.Public())
	if err != nil || rep.TornBytes != 0 || !rep.Closed || rep.LastSeq != 12 {
		t.Fatalf("after restart: %+v, %v", rep, err)
	}
}

func TestChainGoesOnAfterReopenAndRestart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "d.log")
	l, err := Open(Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	_ = l.Append(record(1))
	moved := filepath.Join(dir, "d.log.1")
	if err := os.Rename(path, moved); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	_ = l.Append(record(2))
	_ = l.Close()
	// A restart after logrotate moved the file again: the new process
	// finds the chain's end in d.log.1.
	if err := os.Rename(moved, filepath.Join(dir, "d.log.2")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, moved); err != nil {
		t.Fatal(err)
	}
	l, err = Open(Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	_ = l.Append(record(3))
	_ = l.Close()
	rep, err := Verify([]string{filepath.Join(dir, "d.log.2"), moved, path}, nil)
	if err != nil || rep.LastSeq != 3 || rep.Lines != 3 || rep.SignaturesChecked {
		t.Fatalf("%+v %v", rep, err)
	}
}

func TestLinesBeforeTheChainAreCoveredByItsFirstLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.log")
	old := string(line(t, record(1))) + string(line(t, record(2)))
	if err := os.WriteFile(path, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Open(Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	_ = l.Append(record(3))
	_ = l.Close()
	rep, err := Verify([]string{path}, nil)
	if err != nil || rep.Legacy != 2 || rep.FirstSeq != 1 {
		t.Fatalf("%+v %v", rep, err)
	}
	rewrite(t, path, func(l []string) []string {
		l[1] = strings.Replace(l[1], "decision:", "decisioN:", 1)
		return l
	})
	if _, err := Verify([]string{path}, nil); err == nil || !strings.Contains(err.Error(), ":2: edited") {
		t.Fatalf("edited old line: %v", err)
	}
}

func TestMaxFilesKeepsTheNewest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.log")
	l, err := Open(Config{Path: path, MaxSize: 1024, MaxFiles: 3, Now: stepClock(time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if err := l.Append(record(i)); err != nil {
			t.Fatal(err)
		}
	}
	_ = l.Close()
	files, _ := Rotated(path)
	if len(files) != 3 {
		t.Fatalf("%d rotated files kept, want 3", len(files))
	}
	// The kept files and the live one still form one chain.
	if _, err := Verify(append(files, path), nil); err != nil {
		t.Fatal(err)
	}
}

func TestMaxAgeRotates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.log")
	l, err := Open(Config{Path: path, MaxAge: time.Hour, Now: stepClock(31 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		_ = l.Append(record(i))
	}
	_ = l.Close()
	if files, _ := Rotated(path); len(files) < 1 {
		t.Fatal("no rotation by age")
	}
}

func FuzzVerify(f *testing.F) {
	var c chain
	f.Add(c.sealAll(nil, append(line(f, record(1)), line(f, record(2))...)))
	f.Add([]byte("{\"seq\":1,\"prev\":\"\"}\n{\"seq\":1}\n"))
	f.Add([]byte("not json\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "d.log")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Verify([]string{path}, nil)
		var p *Problem
		if err != nil && !errors.As(err, &p) {
			t.Fatalf("not a Problem: %v", err)
		}
	})
}

// BenchmarkVerify reports how many lines a second log verify checks, and
// the bytes a decision line costs with and without its chain members.
func BenchmarkVerify(b *testing.B) {
	signer, err := LoadSigner(writeKeyB(b))
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "d.log")
	l, err := Open(Config{Path: path, Signer: signer, Sync: SyncOff})
	if err != nil {
		b.Fatal(err)
	}
	const n = 100_000
	for i := range n {
		if err := l.Append(record(i)); err != nil {
			b.Fatal(err)
		}
	}
	_ = l.Close()
	fi, _ := os.Stat(path)
	for b.Loop() {
		if _, err := Verify([]string{path}, signer.key.Public()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(float64(fi.Size())/n, "bytes/line")
	b.ReportMetric(float64(len(line(b, record(n)))), "bytes/line-unchained")
}

func writeKeyB(b *testing.B) string {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	path := filepath.Join(b.TempDir(), "k.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}
