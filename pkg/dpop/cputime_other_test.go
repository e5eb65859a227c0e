//go:build !unix

package dpop

import "time"

func processCPU() time.Duration { return 0 }
