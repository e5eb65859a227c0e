package loadgen

import (
	"crypto/sha256"
	"os"
	"testing"
)

func TestReadMemoryAndCPUOfSelf(t *testing.T) {
	m, err := ReadMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS <= 0 || m.Peak < m.RSS {
		t.Fatalf("memory %+v: want 0 < RSS <= Peak", m)
	}
	before, err := ReadCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Burn CPU until the tick-granular counter moves.
	sum := sha256.Sum256(nil)
	for i := 0; ; i++ {
		sum = sha256.Sum256(sum[:])
		if i%100000 != 0 {
			continue
		}
		after, err := ReadCPU(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if after > before {
			return
		}
		if i > 1e9 {
			t.Fatal("CPU time never advanced")
		}
	}
}

func TestReadMemoryMissingProcess(t *testing.T) {
	if _, err := ReadMemory(-1); err == nil {
		t.Fatal("no error for a missing process")
	}
	if _, err := ReadCPU(-1); err == nil {
		t.Fatal("no error for a missing process")
	}
}
