package decisionlog

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
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
	// OnError is called (from the writer or a syncer goroutine) for every
	// failed write or sync.
	OnError func(error)
	// MaxBatch bounds the entries of one write; 1024 when zero.
	MaxBatch int
	// Syncers is the number of concurrent fdatasync calls in batch mode
	// (1 when zero): with more, while one batch is being synced the next is written
	// and its sync started, so a slow sync does not hold every later
	// decision behind it.
	Syncers int
}

type pending struct {
	line []byte
	done chan error
}

// syncJob is a written batch waiting for the sync that makes it durable.
type syncJob struct {
	batch []*pending
	f     File
	gen   uint64
}

// Log is an append-only JSON Lines decision log, safe for concurrent use.
type Log struct {
	cfg    Config
	queue  chan *pending
	reopen chan chan error
	stop   chan struct{}
	exited chan struct{}
	pool   sync.Pool

	mu     sync.RWMutex // guards closed against Append racing Close
	closed bool

	syncQ     chan syncJob
	free      chan []*pending // batch slices acknowledged by a syncer, for reuse
	syncersWG sync.WaitGroup
	failedGen atomic.Uint64 // generation of a file whose sync failed

	// Owned by the writer goroutine after Open returns.
	f     File
	gen   uint64 // incremented on every open, from 1
	buf   []byte
	batch []*pending
	torn  atomic.Int64
}

// Open opens (creating if needed) the log at cfg.Path, cuts a torn final
// line, and starts the writer.
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
	if cfg.Syncers <= 0 {
		cfg.Syncers = 1
	}
	l := &Log{
		cfg:    cfg,
		queue:  make(chan *pending, 4*cfg.MaxBatch),
		reopen: make(chan chan error),
		stop:   make(chan struct{}),
		exited: make(chan struct{}),
		syncQ:  make(chan syncJob, 64),
		free:   make(chan []*pending, 64+cfg.Syncers+1),
	}
	l.pool.New = func() any { return &pending{line: make([]byte, 0, 512), done: make(chan error, 1)} }
	if err := l.openFile(); err != nil {
		return nil, err
	}
	for range cfg.Syncers {
		l.syncersWG.Add(1)
		go l.syncer()
	}
	go l.run()
	return l, nil
}

// TornBytes is how many bytes of an unterminated final line were cut when
// the file was last opened.
func (l *Log) TornBytes() int64 { return l.torn.Load() }

// Append writes e and returns once it is written as the sync mode
// requires. An error means the entry may not be in the log: the caller
// must not act on the decision.
func (l *Log) Append(e *Entry) error {
	p := l.pool.Get().(*pending)
	p.line = e.AppendJSON(p.line[:0])
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		l.pool.Put(p)
		return ErrClosed
	}
	l.queue <- p
	l.mu.RUnlock()
	err := <-p.done
	if cap(p.line) <= 64<<10 {
		l.pool.Put(p)
	}
	return err
}

// Reopen closes and reopens the file at the configured path (after
// logrotate moved it). Entries queued before it are written to the old
// file.
func (l *Log) Reopen() error {
	done := make(chan error, 1)
	select {
	case l.reopen <- done:
		return <-done
	case <-l.exited:
		return ErrClosed
	}
}

// Close writes every queued entry, then closes the file.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	l.closed = true
	l.mu.Unlock()
	close(l.stop)
	<-l.exited
	if l.f != nil {
		return l.f.Close()
	}
	return nil
}

func (l *Log) run() {
	defer func() {
		close(l.syncQ)
		l.syncersWG.Wait()
		close(l.exited)
	}()
	for {
		select {
		case p := <-l.queue:
			l.commit(l.collect(p))
		case done := <-l.reopen:
			done <- l.reopenFile()
		case <-l.stop:
			for {
				select {
				case p := <-l.queue:
					l.commit(l.collect(p))
				default:
					return
				}
			}
		}
	}
}

// collect gathers first and every entry already queued, up to MaxBatch.
func (l *Log) collect(first *pending) []*pending {
	l.batch = append(l.batch[:0], first)
	for len(l.batch) < l.cfg.MaxBatch {
		select {
		case p := <-l.queue:
			l.batch = append(l.batch, p)
		default:
			return l.batch
		}
	}
	return l.batch
}

func (l *Log) commit(batch []*pending) {
	if l.failedGen.Load() == l.gen && l.f != nil {
		l.closeFile() // a sync of this file failed: reopen (and repair) it
	}
	if l.cfg.Sync == SyncAlways {
		for _, p := range batch {
			err := l.write(p.line)
			if err == nil {
				err = l.syncFile(l.f, l.gen)
			}
			p.done <- err
		}
		return
	}
	l.buf = l.buf[:0]
	for _, p := range batch {
		l.buf = append(l.buf, p.line...)
	}
	err := l.write(l.buf)
	if cap(l.buf) > 4<<20 {
		l.buf = nil
	}
	if err != nil || l.cfg.Sync == SyncOff {
		for _, p := range batch {
			p.done <- err
		}
		return
	}
	// The batch slice itself goes to the syncer; the next batch is
	// collected in a recycled one.
	l.syncQ <- syncJob{batch: batch, f: l.f, gen: l.gen}
	l.batch = l.takeBatch()
}

// takeBatch returns an empty batch slice, recycled when one is free.
func (l *Log) takeBatch() []*pending {
	select {
	case b := <-l.free:
		return b
	default:
		return make([]*pending, 0, 64)
	}
}

// recycle hands an acknowledged batch slice back to the writer.
func (l *Log) recycle(b []*pending) {
	clear(b)
	select {
	case l.free <- b[:0]:
	default:
	}
}

// syncer makes written batches durable and acknowledges them. It takes
// every batch already written when it starts a sync, so one fdatasync
// covers them all; each sync starts after its batches were written, so
// its success covers them.
func (l *Log) syncer() {
	defer l.syncersWG.Done()
	var jobs []syncJob
	for job := range l.syncQ {
		jobs = append(jobs[:0], job)
	drain:
		for {
			select {
			case j, ok := <-l.syncQ:
				if !ok {
					break drain
				}
				jobs = append(jobs, j)
			default:
				break drain
			}
		}
		var err error
		var synced File
		for _, j := range jobs {
			if j.f != synced || err != nil {
				synced = j.f
				err = l.syncFile(j.f, j.gen)
			}
			for _, p := range j.batch {
				p.done <- err
			}
			l.recycle(j.batch)
		}
	}
}

// syncFile flushes f's data (fdatasync) and checks that it is still
// linked. A failure marks the file's generation for reopening.
func (l *Log) syncFile(f File, gen uint64) error {
	if err := datasync(f); err != nil {
		l.failedGen.Store(gen)
		return l.report(fmt.Errorf("sync decision log: %w", err))
	}
	if removed(f) {
		l.failedGen.Store(gen)
		return l.report(ErrRemoved)
	}
	return nil
}

// write writes b. After a failure the file is closed; the next write
// reopens it, which also cuts whatever part of b made it to disk.
func (l *Log) write(b []byte) error {
	if l.f == nil {
		if err := l.openFile(); err != nil {
			return l.fail(err)
		}
	}
	if _, err := l.f.Write(b); err != nil {
		return l.fail(fmt.Errorf("write decision log: %w", err))
	}
	if l.cfg.Sync == SyncOff && removed(l.f) {
		return l.fail(ErrRemoved)
	}
	return nil
}

func (l *Log) report(err error) error {
	if l.cfg.OnError != nil {
		l.cfg.OnError(err)
	}
	return err
}

func (l *Log) closeFile() {
	if l.f != nil {
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
	l.f = f
	l.gen++
	l.torn.Store(torn)
	return nil
}

func (l *Log) reopenFile() error {
	l.closeFile()
	if err := l.openFile(); err != nil {
		return l.fail(err)
	}
	return nil
}
