package replaystore

import (
	"testing"
	"time"
)

func TestReadyAt(t *testing.T) {
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		epoch time.Time
		want  time.Time
	}{
		{base, base.Add(5 * time.Second)},
		{base.Add(time.Nanosecond), base.Add(6 * time.Second)},
		{base.Add(999 * time.Millisecond), base.Add(6 * time.Second)},
		{time.Time{}, time.Time{}},
	} {
		s := &Store{Epoch: tc.epoch}
		if got := s.ReadyAt(5 * time.Second); !got.Equal(tc.want) {
			t.Errorf("ReadyAt with epoch %v = %v, want %v", tc.epoch, got, tc.want)
		}
	}
}
