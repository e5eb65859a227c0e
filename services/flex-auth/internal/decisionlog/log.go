package decisionlog

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stellaops/authgate/services/flex-auth/internal/engine"
)

// SyncMode says when a line counts as written.
type SyncMode string

// Sync modes. Batch is the default: one fsync per group of concurrent
// entries. Always syncs every entry on its own; Off acknowledges after the
// write(2), leaving durability to the kernel.
const (
	SyncAlways SyncMode = "always"
	SyncBatch  SyncMode = "batch"
	SyncOff    SyncMode = "off"
)

// ParseSyncMode accepts always, batch or off.
func ParseSyncMode(s string) (SyncMode, error) {
	switch m := SyncMode(s); m {
	case SyncAlways, SyncBatch, SyncOff:
		return m, nil
	}
	return "", fmt.Errorf("log sync mode %q: must be always, batch or off", s)
}

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("decision log is closed")

// Config configures a Log.
type Config struct {
	Path string
	Sync SyncMode
	// Open opens Path; OpenAppend when nil. Tests inject failing files.
	Open OpenFunc
	// OnError is called (from the appending goroutine that writes the
	// batch) for every failed write or sync.
	OnError func(error)
	// MaxBatch bounds the entries of one write; 1024 when zero.
	MaxBatch int
	// Preallocate is how many bytes of disk the log reserves past its end
	// at a time (fallocate with FALLOC_FL_KEEP_SIZE, so the file's size
	// and content are unchanged); DefaultPreallocate when zero, none when
	// negative. Appending into reserved blocks makes each fdatasync
	// cheaper. The reserve is released when the file is closed.
	Preallocate int64

	// MaxSize rotates the file before a write would take it past this
	// many bytes; MaxAge rotates it once its first line is this old.
	// Zero turns either off. MaxFiles is how many rotated files are kept
	// (the oldest are removed); zero keeps them all. See rotate.go.
	MaxSize  int64
	MaxAge   time.Duration
	MaxFiles int
	// Signer, when set, signs a checkpoint record every
	// CheckpointInterval (DefaultCheckpointInterval when zero) while
	// lines are written, a rotate record at the end of every rotated
	// file and a close record on Close (checkpoint.go).
	Signer             *Signer
	CheckpointInterval time.Duration
	// MinFreeBytes is the free space below which Health fails
	// (DefaultMinFreeBytes when zero, none when negative).
	MinFreeBytes int64
	// OnRotate is called with the rotated file's new name after each
	// rotation.
	OnRotate func(rotated string)
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// DefaultCheckpointInterval is the default Config.CheckpointInterval.
const DefaultCheckpointInterval = 10 * time.Second

// DefaultPreallocate is the default Config.Preallocate: 16 MiB, about two
// seconds of decisions at full load.
const DefaultPreallocate = 16 << 20

type pending struct {
	lines lines
	done  chan error
}

// errLead is sent to a queued entry's Append instead of its result: it
// commits the next group (and then receives its own result).
var errLead = errors.New("decision log: lead the next group")

// Log is an append-only JSON Lines decision log, safe for concurrent use.
//
// Appends commit in groups without a writer goroutine: an Append that
// finds no group in progress leads one; it writes every queued line in
// one write(2), syncs as the mode requires, and answers each entry. While
// it does, later Appends queue; when it is done, it hands the lead to the
// first of them, which commits all of them together. A decision thus
// costs no hop to a writer or syncer goroutine, and one fdatasync covers
// everything that arrived during the previous one.
type Log struct {
	cfg  Config
	pool sync.Pool

	mu      sync.Mutex // guards closed, queue and leading
	closed  bool
	queue   []*pending
	leading bool           // a group is being committed, or its leader was chosen
	appends sync.WaitGroup // Appends in progress, waited for by Close

	// fileMu is held by the leader while it commits and by Reopen and
	// Close; it guards the fields below.
	fileMu sync.Mutex
	f      File
	gen    uint64 // incremented on every open, from 1
	buf    []byte
	batch  []*pending
	torn   atomic.Int64
	// size is the file's size as last seen (at open, after each write and
	// at each sync's stat); reserved is where its preallocated blocks end.
	size, reserved int64
	// chain is the last line handed to the file, written is the last
	// line known to be in it (after a failed write the file is read
	// again). opened is the time of the file's first line (for MaxAge),
	// signed the time of the last signed record, unsigned the lines
	// since.
	chain, written chain
	opened, signed time.Time
	unsigned       int

	// Health: the last failure (unix nanoseconds, 0 for none) and its
	// error, and the free space last read.
	failedAt atomic.Int64
	lastErr  atomic.Pointer[error]
	healthMu sync.Mutex
	free     int64
	freeAt   time.Time
}

// Open opens (creating if needed) the log at cfg.Path and cuts a torn
// final line.
func Open(cfg Config) (*Log, error) {
	if cfg.Sync == "" {
		cfg.Sync = SyncBatch
	}
	if _, err := ParseSyncMode(string(cfg.Sync)); err != nil {
		return nil, err
	}
	if cfg.Open == nil {
		cfg.Open = OpenAppend
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 1024
	}
	if cfg.Preallocate == 0 {
		cfg.Preallocate = DefaultPreallocate
	}
	if cfg.CheckpointInterval <= 0 {
		cfg.CheckpointInterval = DefaultCheckpointInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MinFreeBytes == 0 {
		cfg.MinFreeBytes = DefaultMinFreeBytes
	}
	l := &Log{cfg: cfg}
	l.pool.New = func() any { return &pending{done: make(chan error, 1)} }
	if err := l.openFile(); err != nil {
		return nil, err
	}
	if !l.chain.linked {
		l.chain = predecessor(cfg.Path)
		l.written = l.chain
	}
	l.signed = cfg.Now()
	return l, nil
}

// TornBytes is how many bytes of an unterminated final line were cut when
// the file was last opened.
func (l *Log) TornBytes() int64 { return l.torn.Load() }

// Append writes d and returns once it is written as the sync mode
// requires. An error means the line may not be in the log: the caller
// must not act on the decision.
func (l *Log) Append(d *engine.Decision) error {
	return l.AppendAll(*d)
}

// AppendAll writes a line for every decision of ds in one write (one
// fsync), in order, and returns once they are written as the sync mode
// requires: the decisions of a batch evaluation are durable together.
func (l *Log) AppendAll(ds ...engine.Decision) error {
	p := l.pool.Get().(*pending)
	p.lines.reset(len(ds))
	for i := range ds {
		p.lines.add(&ds[i])
	}
	return l.append(p)
}

func (l *Log) append(p *pending) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		l.pool.Put(p)
		return ErrClosed
	}
	l.appends.Add(1)
	l.queue = append(l.queue, p)
	lead := !l.leading
	l.leading = true
	l.mu.Unlock()
	if lead {
		l.lead()
	}
	err := <-p.done
	if errors.Is(err, errLead) {
		l.lead()
		err = <-p.done
	}
	l.appends.Done()
	if cap(p.lines.buf) <= maxPooledLines {
		l.pool.Put(p)
	}
	return err
}

// lead commits the queued entries (at most MaxBatch), then hands the lead
// to the first entry queued meanwhile, or ends the group.
func (l *Log) lead() {
	l.fileMu.Lock()
	l.mu.Lock()
	n := min(len(l.queue), l.cfg.MaxBatch)
	l.batch = append(l.batch[:0], l.queue[:n]...)
	rest := copy(l.queue, l.queue[n:])
	clear(l.queue[rest:])
	l.queue = l.queue[:rest]
	l.mu.Unlock()
	l.commit(l.batch)
	clear(l.batch)
	l.fileMu.Unlock()

	l.mu.Lock()
	if len(l.queue) == 0 {
		l.leading = false
		l.mu.Unlock()
		return
	}
	next := l.queue[0]
	l.mu.Unlock()
	next.done <- errLead
}

// Reopen closes and reopens the file at the configured path (after
// logrotate moved it). A group being committed is written to the old
// file; entries queued after it go to the new one.
func (l *Log) Reopen() error {
	l.fileMu.Lock()
	defer l.fileMu.Unlock()
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if l.f != nil {
		_ = l.writeRecord(RecordRotate)
	}
	return l.reopenFile()
}

// Close waits for every Append in progress (their entries are written),
// then closes the file. Later Appends fail with ErrClosed.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	l.closed = true
	l.mu.Unlock()
	l.appends.Wait()
	l.fileMu.Lock()
	defer l.fileMu.Unlock()
	if l.f != nil && l.cfg.Signer != nil && l.chain.linked {
		_ = l.writeRecord(RecordClose)
	}
	if l.f != nil {
		l.release()
		err := l.f.Close()
		l.f = nil
		return err
	}
	return nil
}

// commit writes batch (one write, or one write and sync per entry in
// always mode) and answers every entry of it. It rotates the file first
// when the batch would take it past a limit, and adds a checkpoint when
// one is due.
func (l *Log) commit(batch []*pending) {
	n := 0
	for _, p := range batch {
		n += len(p.lines.bytes())
	}
	l.rotateIfDue(n)
	if l.cfg.Sync == SyncAlways {
		for _, p := range batch {
			l.buf = l.chain.sealAll(l.buf[:0], p.lines.bytes())
			l.buf = l.checkpointIfDue(l.buf, 1)
			err := l.write(l.buf)
			if err == nil {
				err = l.sync()
			}
			l.settle(err)
			p.done <- err
		}
		return
	}
	l.buf = l.buf[:0]
	for _, p := range batch {
		l.buf = l.chain.sealAll(l.buf, p.lines.bytes())
	}
	l.buf = l.checkpointIfDue(l.buf, len(batch))
	err := l.write(l.buf)
	if cap(l.buf) > 4<<20 {
		l.buf = nil
	}
	if err == nil && l.cfg.Sync == SyncBatch {
		err = l.sync()
	}
	l.settle(err)
	for _, p := range batch {
		p.done <- err
	}
}

// settle records the outcome of a write: on success the chain is in the
// file; on failure the chain goes back to the last line known written
// (the file is read again when it is reopened).
func (l *Log) settle(err error) {
	if err != nil {
		l.chain = l.written
		return
	}
	l.written = l.chain
}

// checkpointIfDue appends a signed checkpoint to buf when a signer is set
// and the last signed record is CheckpointInterval old; lines is how many
// decision lines buf holds besides.
func (l *Log) checkpointIfDue(buf []byte, lines int) []byte {
	l.unsigned += lines
	if l.cfg.Signer == nil || l.unsigned == 0 {
		return buf
	}
	now := l.cfg.Now()
	if now.Sub(l.signed) < l.cfg.CheckpointInterval {
		return buf
	}
	rec, err := l.cfg.Signer.record(RecordCheckpoint, now, &l.chain)
	if err != nil {
		_ = l.report(err)
		return buf
	}
	l.signed, l.unsigned = now, 0
	return l.chain.seal(buf, rec)
}

// Checkpoint writes a signed checkpoint now when lines were written since
// the last signed record: the service calls it when idle, so that the
// last decisions do not wait for the next one to be covered.
func (l *Log) Checkpoint() error {
	l.fileMu.Lock()
	defer l.fileMu.Unlock()
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed || l.cfg.Signer == nil || l.unsigned == 0 {
		return nil
	}
	return l.writeRecord(RecordCheckpoint)
}

// writeRecord writes and syncs a signed record of kind (under fileMu).
func (l *Log) writeRecord(kind string) error {
	if l.cfg.Signer == nil {
		return nil
	}
	now := l.cfg.Now()
	rec, err := l.cfg.Signer.record(kind, now, &l.chain)
	if err != nil {
		return l.report(err)
	}
	l.buf = l.chain.seal(l.buf[:0], rec)
	err = l.write(l.buf)
	if err == nil {
		err = l.sync()
	}
	l.settle(err)
	if err == nil {
		l.signed, l.unsigned = now, 0
	}
	return err
}

// sync makes what was written durable (fdatasync) and checks that the
// file is still linked. After a failure the file is closed; the next
// write reopens (and repairs) it.
func (l *Log) sync() error {
	if err := datasync(l.f); err != nil {
		return l.fail(fmt.Errorf("sync decision log: %w", err))
	}
	return l.checkLinked()
}

// checkLinked fails when the file has been unlinked, and otherwise
// refreshes the size seen (it shrinks when logrotate copies and truncates
// the file).
func (l *Log) checkLinked() error {
	fi, err := l.f.Stat()
	if err != nil || removed(fi) {
		return l.fail(ErrRemoved)
	}
	if fi.Size() < l.size {
		l.reserved = 0
	}
	l.size = fi.Size()
	return nil
}

// reserve makes sure n more bytes land in preallocated blocks, reserving
// the next Preallocate bytes when they would not. A failure (a file system
// without fallocate, or too little space for the whole reserve) only means
// that appends allocate as they go, so it is not reported; the next
// attempt comes one reserve later, and a full disk is reported by the
// write itself.
func (l *Log) reserve(n int) {
	if l.cfg.Preallocate < 0 || l.size+int64(n) <= l.reserved {
		return
	}
	start := max(l.size, l.reserved)
	_ = preallocate(l.f, start, l.cfg.Preallocate)
	l.reserved = start + l.cfg.Preallocate
}

// release gives back the blocks reserved past the end of the file, by
// truncating it to its current size.
func (l *Log) release() {
	if l.cfg.Preallocate < 0 || l.reserved == 0 {
		return
	}
	if fi, err := l.f.Stat(); err == nil {
		_ = l.f.Truncate(fi.Size())
	}
	l.reserved = 0
}

// write writes b. After a failure the file is closed; the next write
// reopens it, which also cuts whatever part of b made it to disk.
func (l *Log) write(b []byte) error {
	if l.f == nil {
		if err := l.openFile(); err != nil {
			return l.fail(err)
		}
	}
	l.reserve(len(b))
	n, err := l.f.Write(b)
	l.size += int64(n)
	if err != nil {
		return l.fail(fmt.Errorf("write decision log: %w", err))
	}
	if l.cfg.Sync == SyncOff {
		return l.checkLinked()
	}
	return nil
}

func (l *Log) report(err error) error {
	l.lastErr.Store(&err)
	l.failedAt.Store(l.now().UnixNano())
	if l.cfg.OnError != nil {
		l.cfg.OnError(err)
	}
	return err
}

func (l *Log) closeFile() {
	if l.f != nil {
		l.release()
		_ = l.f.Close()
		l.f = nil
	}
}

func (l *Log) fail(err error) error {
	l.closeFile()
	return l.report(err)
}

func (l *Log) openFile() error {
	f, err := l.cfg.Open(l.cfg.Path)
	if err != nil {
		return fmt.Errorf("open decision log: %w", err)
	}
	torn, err := repairTail(f)
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("open decision log %s: %w", l.cfg.Path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("open decision log %s: %w", l.cfg.Path, err)
	}
	last, err := tailLine(f, fi.Size())
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("open decision log %s: %w", l.cfg.Path, err)
	}
	l.f = f
	l.gen++
	l.torn.Store(torn)
	l.size, l.reserved = fi.Size(), 0
	l.opened = l.now()
	if last != nil {
		l.chain = chainAt(last)
		l.written = l.chain
		if t, ok := firstTime(f); ok {
			l.opened = t
		}
	}
	return nil
}

func (l *Log) now() time.Time {
	if l.cfg.Now == nil {
		return time.Now()
	}
	return l.cfg.Now()
}

func (l *Log) reopenFile() error {
	l.closeFile()
	if err := l.openFile(); err != nil {
		return l.fail(err)
	}
	return nil
}
