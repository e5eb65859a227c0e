package app

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// tmpfs mounts a tmpfs of size bytes on a new directory for the test. It
// needs root (CI runs as root); elsewhere the test is skipped, and under
// CI it fails.
func tmpfs(t *testing.T, size int64) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("mount a tmpfs (CI runs as root): %v", err)
		}
		t.Skipf("cannot mount a tmpfs here: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}

func TestNearlyFullVolumeMakesReadyz503BeforeDecisionsFail(t *testing.T) {
	// The log reserves 16 MiB ahead of its end (preallocation), which
	// counts as used.
	vol := tmpfs(t, 64<<20)
	cfgFile := filepath.Join(t.TempDir(), "flex-auth.yaml")
	if err := os.WriteFile(cfgFile, []byte("decisionLog:\n  minFreeBytes: 25165824\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	in := start(t, "--config", cfgFile, "--log", filepath.Join(vol, "decisions.log"))
	ready := func() int {
		code, _ := in.get(t, "/readyz")
		return code
	}
	waitFor(t, func() bool { return ready() == http.StatusOK })
	in.check(t, `{"actor":"atm-backup-daily"}`)

	// Fill the volume to 20 MiB free: under the 24 MiB floor, with room left.
	filler := filepath.Join(vol, "filler")
	if err := os.WriteFile(filler, make([]byte, freeBytes(t, vol)-20<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return ready() == http.StatusServiceUnavailable })
	// Decisions still succeed: the pod left the Service before any failed.
	if d := in.check(t, `{"actor":"atm-backup-daily"}`); d.DecisionID == "" {
		t.Fatal("decision without an id while the disk still has room")
	}
	fams := metricFamilies(t, in)
	if free, floor := fams["flex_auth_decision_log_free_bytes"].get(""), fams["flex_auth_decision_log_min_free_bytes"].get(""); free <= 0 || free >= floor || floor != 25165824 {
		t.Fatalf("free bytes metric %v, floor %v", free, floor)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return ready() == http.StatusOK })
}

func TestFailedWriteMakesReadyz503(t *testing.T) {
	vol := tmpfs(t, 1<<20)
	cfgFile := filepath.Join(t.TempDir(), "flex-auth.yaml")
	if err := os.WriteFile(cfgFile, []byte("decisionLog:\n  minFreeBytes: 0\n  maxSize: 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	in := start(t, "--config", cfgFile, "--log", filepath.Join(vol, "decisions.log"))
	waitFor(t, func() bool { code, _ := in.get(t, "/readyz"); return code == http.StatusOK })
	// Fill the volume: the next decision cannot be written.
	f, err := os.Create(filepath.Join(vol, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			break
		}
	}
	_ = f.Close()
	for range 50 { // until the preallocated reserve of the log is used up
		if code, _ := in.post(t, "/v1/check", `{"actor":"atm-backup-daily"}`); code == http.StatusServiceUnavailable {
			break
		}
	}
	if code, _ := in.post(t, "/v1/check", `{"actor":"atm-backup-daily"}`); code != http.StatusServiceUnavailable {
		t.Fatalf("decision on a full disk: %d", code)
	}
	if code, _ := in.get(t, "/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz after a failed write: %d", code)
	}
}
