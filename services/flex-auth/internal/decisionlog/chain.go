package decisionlog

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// The hash chain. The log writer ends every line with two members:
//
//	"seq":  the line's position in the log, from 1, continuing across
//	        rotated files and restarts;
//	"prev": the SHA-256 of the previous line (its bytes without the
//	        newline), base64url without padding; "" for the first line
//	        of a log.
//
// Editing a line breaks the "prev" of the line after it; deleting lines
// leaves a gap in "seq"; moving them puts "seq" out of order. The first
// line of a new file (built-in rotation, a reopen after logrotate moved the
// file, a restart) names the last line before it the same way, so a
// missing file is a gap too. Signed records (checkpoint.go) make the end
// of the chain checkable as well.

// chain is the position of the last line written.
type chain struct {
	seq    int64    // seq of the last line; 0 before the first
	hash   [32]byte // hash of the last line
	linked bool     // hash holds a line
}

// prev appends the "prev" value of the next line (without quotes).
func (c *chain) prev(dst []byte) []byte {
	if !c.linked {
		return dst
	}
	return base64.RawURLEncoding.AppendEncode(dst, c.hash[:])
}

// seal appends line (one JSON object, no newline) with the chain members
// and a newline, and advances the chain to it.
func (c *chain) seal(dst, line []byte) []byte {
	start := len(dst)
	dst = append(dst, line[:len(line)-1]...)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendInt(dst, c.seq+1, 10)
	dst = append(dst, `,"prev":"`...)
	dst = c.prev(dst)
	dst = append(dst, '"', '}')
	c.hash = sha256.Sum256(dst[start:])
	c.seq++
	c.linked = true
	return append(dst, '\n')
}

// sealAll seals every newline-terminated line of lines.
func (c *chain) sealAll(dst, lines []byte) []byte {
	for len(lines) > 0 {
		i := bytes.IndexByte(lines, '\n')
		if i < 0 {
			i = len(lines)
		}
		dst = c.seal(dst, lines[:i])
		lines = lines[min(i+1, len(lines)):]
	}
	return dst
}

// chainAt returns the chain after line, the last complete line of a
// log: its hash, and its seq (0 for a line written before the chain
// existed).
func chainAt(line []byte) chain {
	c := chain{hash: sha256.Sum256(line), linked: true}
	if m, err := parseMembers(line); err == nil && m.Seq != nil {
		c.seq = *m.Seq
	}
	return c
}

// tailLine returns the last complete line of f (without its newline), nil
// when f holds none.
func tailLine(f io.ReaderAt, size int64) ([]byte, error) {
	if size == 0 {
		return nil, nil
	}
	const maxLine = 1 << 20
	n := min(size, maxLine)
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, size-n); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read last line: %w", err)
	}
	if buf[len(buf)-1] != '\n' {
		return nil, errors.New("read last line: the file does not end with a newline")
	}
	buf = buf[:len(buf)-1]
	i := bytes.LastIndexByte(buf, '\n')
	if i < 0 && n == maxLine && size > maxLine {
		return nil, fmt.Errorf("read last line: longer than %d bytes", maxLine)
	}
	return buf[i+1:], nil
}

// firstTime returns the "time" of the first line of f, or false.
func firstTime(f io.ReaderAt) (time.Time, bool) {
	buf := make([]byte, 4096)
	n, _ := f.ReadAt(buf, 0)
	line, _, _ := bytes.Cut(buf[:n], []byte{'\n'})
	m, err := parseMembers(line)
	if err != nil || m.Time == nil {
		return time.Time{}, false
	}
	return *m.Time, true
}
