package app

// Garbage collector settings of "serve" (process.TuneGC applies them
// unless GOGC or GOMEMLIMIT is set). A token request allocates some
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
