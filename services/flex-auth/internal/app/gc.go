package app

// Garbage collector settings of "serve" (process.TuneGC applies them
// unless GOGC or GOMEMLIMIT is set). flex-auth's live heap is small (the
// snapshot, the compiled package and pooled buffers: a few MiB) while
// every decision allocates a few KiB, so Go's default of 100 runs dozens
// of collections a second under load; 400 cuts that by four for about
// 10 MiB more RSS. The soft memory limit keeps the heap under 48 MiB, so
// the process fits the 64 MiB its chart requests (the rest is the
// runtime, stacks and the binary); the chart sets GOMEMLIMIT to the
// container's memory limit instead.
const (
	DefaultGCPercent   = 400
	DefaultMemoryLimit = 48 << 20
)
