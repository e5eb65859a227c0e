package cli

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/stellaops/authgate/services/flex-auth/internal/decisionlog"
)

func runLogVerify(_ context.Context, env Env, args []string) int {
	fs := newFlags(env, "log verify", "[--key PUB] FILE...")
	keyFile := fs.String("key", "", "PEM public key (or the signing key) that checks the signed records; without it only the chain is checked")
	files, code, ok := parseFlags(fs, args)
	switch {
	case !ok:
		return code
	case len(files) == 0:
		return usageError(env, fs, "no log file given (give the rotated files oldest first, then the live file)")
	}
	var key crypto.PublicKey
	if *keyFile != "" {
		k, err := decisionlog.LoadVerifyKey(*keyFile)
		if err != nil {
			fmt.Fprintf(env.Stderr, "log verify: --key: %v\n", err)
			return ExitUsage
		}
		key = k
	}
	rep, err := decisionlog.Verify(files, key)
	var p *decisionlog.Problem
	switch {
	case errors.As(err, &p):
		fmt.Fprintf(env.Stdout, "%s\n", p)
		return ExitFailure
	case err != nil:
		fmt.Fprintf(env.Stdout, "log verify: %v\n", err)
		return ExitFailure
	}
	fmt.Fprintf(env.Stdout, "ok: %d files, %d lines, chain seq %d to %d\n", rep.Files, rep.Lines, rep.FirstSeq, rep.LastSeq)
	if rep.Legacy > 0 {
		fmt.Fprintf(env.Stdout, "note: the first %d lines were written before the chain began; only the first chained line covers them\n", rep.Legacy)
	}
	switch {
	case rep.Signed == 0:
		fmt.Fprintln(env.Stdout, "note: no signed records (decisionLog.signingKeyFile not set): a cut after the last line cannot be detected")
	case !rep.SignaturesChecked:
		fmt.Fprintf(env.Stdout, "note: %d signed records found but not checked: give --key\n", rep.Signed)
	default:
		fmt.Fprintf(env.Stdout, "signed: %d records verify; the last at %s\n", rep.Signed, rep.LastSigned)
	}
	if rep.Closed {
		fmt.Fprintln(env.Stdout, "end: the log was closed cleanly")
	} else if rep.Signed > 0 {
		fmt.Fprintf(env.Stdout, "end: %d lines after the last signed record are chained but not yet signed (the service is running, or stopped without closing)\n", rep.Unsigned)
	}
	if rep.TornBytes > 0 {
		fmt.Fprintf(env.Stdout, "torn: %s is an unterminated line of %d bytes (a write interrupted by a crash, never answered; flex-auth cuts it when it next opens the log); not tampering\n", rep.Torn, rep.TornBytes)
	}
	return ExitOK
}

// followPoll is how often log follow looks for new lines and a new file.
const followPoll = 200 * time.Millisecond

func runLogFollow(ctx context.Context, env Env, args []string) int {
	fs := newFlags(env, "log follow", "--file FILE [--from-start]")
	file := fs.String("file", "", "the decision log (decisionLog.file)")
	fromStart := fs.Bool("from-start", false, "copy the lines already in the file first (default: only new lines)")
	rest, code, ok := parseFlags(fs, args)
	switch {
	case !ok:
		return code
	case *file == "" || len(rest) > 0:
		return usageError(env, fs, "give --file and nothing else")
	}
	if err := follow(ctx, *file, *fromStart, env.Stdout, followPoll); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(env.Stderr, "log follow: %v\n", err)
		return ExitFailure
	}
	return ExitOK
}

// follow copies the complete lines appended to path to w until ctx ends.
// When the file at path is replaced (a rotation, or logrotate and a
// reopen), it copies the rest of the old file, then goes on with the new
// one from its start: no line is skipped or copied twice.
func follow(ctx context.Context, path string, fromStart bool, w io.Writer, poll time.Duration) error {
	f, err := waitOpen(ctx, path, poll)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	if !fromStart {
		if _, err := f.Seek(0, io.SeekEnd); err != nil {
			return err
		}
	}
	c := &lineCopier{w: w, buf: make([]byte, 64<<10)}
	for {
		if err := c.drain(f); err != nil {
			return err
		}
		if replaced(f, path) {
			// What the writer put in the old file before it moved it.
			if err := c.drain(f); err != nil {
				return err
			}
			nf, err := nextFile(ctx, path, f, poll)
			if err != nil {
				return err
			}
			_ = f.Close()
			f, c.partial = nf, c.partial[:0]
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}

// lineCopier copies whole lines, keeping an unfinished one for later.
type lineCopier struct {
	w       io.Writer
	buf     []byte
	partial []byte
}

// drain copies the complete lines of r up to its end.
func (c *lineCopier) drain(r io.Reader) error {
	for {
		n, err := r.Read(c.buf)
		if n > 0 {
			c.partial = append(c.partial, c.buf[:n]...)
			if i := bytes.LastIndexByte(c.partial, '\n'); i >= 0 {
				if _, werr := c.w.Write(c.partial[:i+1]); werr != nil {
					return werr
				}
				c.partial = append(c.partial[:0], c.partial[i+1:]...)
			}
		}
		if errors.Is(err, io.EOF) || (err == nil && n == 0) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// waitOpen opens path, waiting for it to exist.
func waitOpen(ctx context.Context, path string, poll time.Duration) (*os.File, error) {
	for {
		f, err := os.Open(path) //nolint:gosec // G304: the operator's log file
		if err == nil || !errors.Is(err, os.ErrNotExist) {
			return f, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(poll):
		}
	}
}

// nextFile opens the file that follows cur, which has been read to its
// end: the oldest file rotated after it, else the live file. Several
// rotations between two looks are thus all copied, in order.
func nextFile(ctx context.Context, path string, cur *os.File, poll time.Duration) (*os.File, error) {
	for {
		rotated, _ := decisionlog.Rotated(path)
		i := indexOf(rotated, cur)
		if i >= 0 && i+1 < len(rotated) {
			return os.Open(rotated[i+1])
		}
		f, err := waitOpen(ctx, path, poll)
		if err != nil {
			return nil, err
		}
		// The live file may have been rotated since the listing: then
		// cur's successor is a rotated file, which comes first.
		rotated, _ = decisionlog.Rotated(path)
		if j := indexOf(rotated, cur); i >= 0 && j >= 0 && j+1 < len(rotated) && !sameFile(f, rotated[j+1]) {
			_ = f.Close()
			continue
		}
		return f, nil
	}
}

// indexOf returns the index of the file among names that f is, or -1.
func indexOf(names []string, f *os.File) int {
	for i, n := range names {
		if sameFile(f, n) {
			return i
		}
	}
	return -1
}

func sameFile(f *os.File, name string) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	ni, err := os.Stat(name)
	return err == nil && os.SameFile(fi, ni)
}

// replaced reports whether path now names another file than f (or none).
func replaced(f *os.File, path string) bool {
	fi, err := f.Stat()
	if err != nil {
		return true
	}
	pi, err := os.Stat(path)
	if err != nil {
		return false // moved away and not yet created again: keep reading
	}
	return !os.SameFile(fi, pi)
}
