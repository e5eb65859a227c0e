package decisionlog

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// allocated is the disk space f's blocks take, and its size.
func allocated(t *testing.T, path string) (blocks, size int64) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Blocks * 512, fi.Size()
}

// supportsKeepSize reports whether dir's file system reserves blocks for
// FALLOC_FL_KEEP_SIZE (tmpfs and ext4 do; some overlay set-ups do not).
func supportsKeepSize(t *testing.T, dir string) bool {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "probe"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return preallocate(f, 0, 1<<20) == nil
}

// reserve is the Preallocate of the tests below.
const reserve = 1 << 20

// openReserving opens a log that reserves disk in a fresh directory whose
// file system supports FALLOC_FL_KEEP_SIZE, and returns it with its path.
func openReserving(t *testing.T) (*Log, string) {
	t.Helper()
	dir := t.TempDir()
	if !supportsKeepSize(t, dir) {
		t.Fatalf("the test directory's file system has no fallocate(FALLOC_FL_KEEP_SIZE); run the tests on ext4, xfs or tmpfs")
	}
	path := filepath.Join(dir, "decisions.jsonl")
	log, err := Open(Config{Path: path, Preallocate: reserve})
	if err != nil {
		t.Fatal(err)
	}
	return log, path
}

func TestPreallocatedTailIsInvisibleAndReleased(t *testing.T) {
	log, path := openReserving(t)
	for i := range 10 {
		if err := log.Append(record(i)); err != nil {
			t.Fatal(err)
		}
	}
	blocks, size := allocated(t, path)
	if blocks < reserve {
		t.Errorf("open log has %d bytes of blocks for %d bytes of lines, want at least the %d reserved", blocks, size, reserve)
	}
	if got := readLines(t, path); len(got) != 10 {
		t.Fatalf("readers see %d lines, want 10 and nothing after them", len(got))
	}

	// logrotate's copytruncate: the file shrinks under the open log.
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	for i := 10; i < 13; i++ {
		if err := log.Append(record(i)); err != nil {
			t.Fatal(err)
		}
	}
	if got := readLines(t, path); len(got) != 3 || got[0].ID != record(10).ID {
		t.Fatalf("after copytruncate readers see %d lines, want the 3 written since", len(got))
	}

	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	blocks, size = allocated(t, path)
	if blocks >= reserve {
		t.Errorf("closed log still holds %d bytes of blocks for %d bytes of lines: the reserve was not released", blocks, size)
	}
	if got := readLines(t, path); len(got) != 3 {
		t.Fatalf("closed log has %d lines, want 3", len(got))
	}
}

func TestReopenReleasesTheRotatedFilesReserve(t *testing.T) {
	log, path := openReserving(t)
	defer log.Close()
	if err := log.Append(record(1)); err != nil {
		t.Fatal(err)
	}
	rotated := path + ".1"
	if err := os.Rename(path, rotated); err != nil {
		t.Fatal(err)
	}
	if err := log.Reopen(); err != nil {
		t.Fatal(err)
	}
	if blocks, size := allocated(t, rotated); blocks >= reserve {
		t.Errorf("rotated file holds %d bytes of blocks for %d bytes of lines after reopen", blocks, size)
	}
	if err := log.Append(record(2)); err != nil {
		t.Fatal(err)
	}
	if got := readLines(t, path); len(got) != 1 || got[0].ID != record(2).ID {
		t.Fatalf("new file has %d lines, want only the entry appended after reopen", len(got))
	}
}

func TestNegativePreallocateReservesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "decisions.jsonl")
	log, err := Open(Config{Path: path, Preallocate: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	if err := log.Append(record(1)); err != nil {
		t.Fatal(err)
	}
	if blocks, _ := allocated(t, path); blocks >= 1<<20 {
		t.Errorf("log with preallocation off holds %d bytes of blocks", blocks)
	}
}
