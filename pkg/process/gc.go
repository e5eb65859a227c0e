package process

import (
	"runtime/debug"
	"strings"

	"go.uber.org/zap"
)

// GC is a service's garbage collector settings, applied at start unless
// the operator chose otherwise.
type GC struct {
	// Percent is the collector target (GOGC).
	Percent int
	// MemoryLimit is the soft memory limit in bytes (GOMEMLIMIT): the
	// collector works harder rather than let the heap pass it.
	MemoryLimit int64
}

// TuneGC applies gc.Percent unless environ sets GOGC, and gc.MemoryLimit
// unless it sets GOMEMLIMIT (the runtime has then applied the operator's
// choice), and returns the log fields of what it applied.
func TuneGC(environ []string, gc GC) []zap.Field {
	var gogc, limit bool
	for _, kv := range environ {
		gogc = gogc || strings.HasPrefix(kv, "GOGC=")
		limit = limit || strings.HasPrefix(kv, "GOMEMLIMIT=")
	}
	var fields []zap.Field
	if !gogc {
		debug.SetGCPercent(gc.Percent)
		fields = append(fields, zap.Int("gc_percent", gc.Percent))
	}
	if !limit {
		debug.SetMemoryLimit(gc.MemoryLimit)
		fields = append(fields, zap.Int64("memory_limit_bytes", gc.MemoryLimit))
	}
	return fields
}
