package decisionlog

import (
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
)

func TestFailedWriteIsReportedAndTheTornPartCut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.jsonl")
	var failing atomic.Bool
	var reported atomic.Int64
	log, err := Open(Config{Path: path,
		OnError: func(error) { reported.Add(1) },
		Open: func(p string) (File, error) {
			f, err := OpenAppend(p)
			if err != nil {
				return nil, err
			}
			cf := &countingFile{File: f.(*os.File)}
			if failing.Load() {
				cf.failWrite, cf.partial = syscall.ENOSPC, true
			}
			return cf, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	if err := log.Append(record(1)); err != nil {
		t.Fatal(err)
	}
	failing.Store(true)
	if err := log.Reopen(); err != nil { // the new file handle fails its writes
		t.Fatal(err)
	}
	if err := log.Append(record(2)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("err = %v, want ENOSPC", err)
	}
	if reported.Load() != 1 {
		t.Fatalf("OnError called %d times", reported.Load())
	}
	failing.Store(false)
	if err := log.Append(record(3)); err != nil {
		t.Fatal(err)
	}
	if log.TornBytes() == 0 {
		t.Fatal("the half-written line was not cut on reopen")
	}
	lines := readLines(t, path)
	if len(lines) != 2 || lines[0].ID != record(1).ID || lines[1].ID != record(3).ID {
		t.Fatalf("lines = %+v", lines)
	}
}

// A real full disk: /dev/full answers every write with ENOSPC.
func TestDiskFull(t *testing.T) {
	log, err := Open(Config{Path: "/dev/full", Open: func(p string) (File, error) {
		return os.OpenFile(p, os.O_RDWR, 0)
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	if err := log.Append(record(1)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("err = %v, want ENOSPC", err)
	}
}

// A real read-only file: the handle is opened O_RDONLY (the test runs as
// any user, root included, so file modes alone cannot make it fail).
func TestReadOnlyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.jsonl")
	if err := os.WriteFile(path, line(t, record(0)), 0o444); err != nil {
		t.Fatal(err)
	}
	log, err := Open(Config{Path: path, Open: func(p string) (File, error) { return os.Open(p) }})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	if err := log.Append(record(1)); !errors.Is(err, syscall.EBADF) {
		t.Fatalf("err = %v, want EBADF", err)
	}
	if got := readLines(t, path); len(got) != 1 {
		t.Fatalf("%d lines", len(got))
	}
}

func TestRemovedFileFailsThenIsCreatedAgain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.jsonl")
	log, err := Open(Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	if err := log.Append(record(1)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := log.Append(record(2)); !errors.Is(err, ErrRemoved) {
		t.Fatalf("err = %v, want ErrRemoved", err)
	}
	if err := log.Append(record(3)); err != nil {
		t.Fatal(err)
	}
	if lines := readLines(t, path); len(lines) != 1 || lines[0].ID != record(3).ID {
		t.Fatalf("lines = %+v", lines)
	}
}

func TestReopenAfterRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "d.jsonl")
	log, err := Open(Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	if err := log.Append(record(1)); err != nil {
		t.Fatal(err)
	}
	rotated := filepath.Join(dir, "d.jsonl.1")
	if err := os.Rename(path, rotated); err != nil {
		t.Fatal(err)
	}
	if err := log.Append(record(2)); err != nil { // still the renamed file
		t.Fatal(err)
	}
	if err := log.Reopen(); err != nil {
		t.Fatal(err)
	}
	if err := log.Append(record(3)); err != nil {
		t.Fatal(err)
	}
	if got := readLines(t, rotated); len(got) != 2 {
		t.Fatalf("rotated file has %d lines", len(got))
	}
	if got := readLines(t, path); len(got) != 1 || got[0].ID != record(3).ID {
		t.Fatalf("new file = %+v", got)
	}
}

func TestTornFinalLineIsCutOnOpen(t *testing.T) {
	for _, tc := range []struct {
		name, content string
		keep          int
	}{
		{"complete", string(line(t, record(1))), 1},
		{"torn after a line", string(line(t, record(1))) + `{"time":"2026-`, 1},
		{"only a torn line", `{"decision_id":"decision:00`, 0},
		{"empty", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "d.jsonl")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			log, err := Open(Config{Path: path})
			if err != nil {
				t.Fatal(err)
			}
			if err := log.Append(record(9)); err != nil {
				t.Fatal(err)
			}
			log.Close()
			if got := readLines(t, path); len(got) != tc.keep+1 || got[tc.keep].ID != record(9).ID {
				t.Fatalf("lines = %+v", got)
			}
		})
	}
}

func TestLastNewlineAcrossChunks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.jsonl")
	big := make([]byte, 100<<10)
	for i := range big {
		big[i] = 'x'
	}
	big[10] = '\n'
	if err := os.WriteFile(path, big, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cut, err := repairTail(f)
	if err != nil || cut != int64(len(big)-11) {
		t.Fatalf("cut=%d err=%v", cut, err)
	}
}
