package loadgen

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"runtime"
	"syscall"
	"time"
)

// Floor is the CPU cost, measured on this machine, of the cryptography a
// token request pays when nothing is cached: two P-256 (ES256)
// verifications, the OpTok's and the DPoP proof's, and one P-256
// signature, the registry token's.
type Floor struct {
	Verify, Sign time.Duration
}

// PerToken is 2 × Verify + Sign.
func (f Floor) PerToken() time.Duration { return 2*f.Verify + f.Sign }

// Mean is the mean of two measurements (taken before and after a load).
func (f Floor) Mean(g Floor) Floor {
	return Floor{Verify: (f.Verify + g.Verify) / 2, Sign: (f.Sign + g.Sign) / 2}
}

func (f Floor) String() string {
	return fmt.Sprintf("P-256 verify=%s sign=%s, 2 x verify + sign=%s",
		f.Verify.Round(100*time.Nanosecond), f.Sign.Round(100*time.Nanosecond), f.PerToken().Round(100*time.Nanosecond))
}

// rusageThread is RUSAGE_THREAD (Linux): the CPU time of the calling thread.
const rusageThread = 1

// MeasureFloor runs P-256 verifications, then signatures, for about d
// each on one locked OS thread and returns the thread CPU time per
// operation (other processes on the machine do not inflate it).
func MeasureFloor(d time.Duration) (Floor, error) {
	if d <= 0 {
		return Floor{}, errors.New("loadgen: floor duration must be positive")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Floor{}, err
	}
	digest := sha256.Sum256([]byte("floor signing input"))
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		return Floor{}, err
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var f Floor
	if f.Verify, err = perOp(d, func() error {
		if !ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig) {
			return errors.New("loadgen: floor signature does not verify")
		}
		return nil
	}); err != nil {
		return f, err
	}
	f.Sign, err = perOp(d, func() error {
		_, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
		return err
	})
	return f, err
}

// perOp runs op in batches until d of wall time passed and returns the
// thread CPU time per call.
func perOp(d time.Duration, op func() error) (time.Duration, error) {
	cpu0, err := threadCPU()
	if err != nil {
		return 0, err
	}
	n := 0
	for end := time.Now().Add(d); n == 0 || time.Now().Before(end); {
		for range 16 {
			if err := op(); err != nil {
				return 0, err
			}
		}
		n += 16
	}
	cpu1, err := threadCPU()
	if err != nil {
		return 0, err
	}
	return (cpu1 - cpu0) / time.Duration(n), nil
}

func threadCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0, fmt.Errorf("loadgen: thread CPU time: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
