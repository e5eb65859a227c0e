package app

import (
	"runtime/debug"
	"strings"

	"go.uber.org/zap"
)

// Garbage collector settings of "serve". A token request allocates some
// tens of KiB and keeps almost nothing, so at Go's default (GOGC=100: a
// collection each time the small live heap has doubled) the collector
// runs several times a second under load and costs about a tenth of the
// CPU of a token. GOGC=400 collects a quarter as often; the soft memory
// limit makes the collector work harder rather than let the heap pass
// 64 MiB, so the resident set stays under 100 MiB.
const (
	DefaultGCPercent   = 400
	DefaultMemoryLimit = 64 << 20
)

// tuneGC applies DefaultGCPercent unless environ sets GOGC, and
// DefaultMemoryLimit unless it sets GOMEMLIMIT (the runtime has then
// applied the operator's choice), and returns the start-up log fields.
func tuneGC(environ []string) []zap.Field {
	var gogc, limit bool
	for _, kv := range environ {
		gogc = gogc || strings.HasPrefix(kv, "GOGC=")
		limit = limit || strings.HasPrefix(kv, "GOMEMLIMIT=")
	}
	var fields []zap.Field
	if !gogc {
		debug.SetGCPercent(DefaultGCPercent)
		fields = append(fields, zap.Int("gc_percent", DefaultGCPercent))
	}
	if !limit {
		debug.SetMemoryLimit(DefaultMemoryLimit)
		fields = append(fields, zap.Int64("memory_limit_bytes", DefaultMemoryLimit))
	}
	return fields
}
