package decisionlog

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"fmt"
	"os"
)

// What Verify finds wrong with a set of files.
const (
	ProblemEdited    = "edited"         // a line differs from what was written
	ProblemDeleted   = "deleted"        // lines are missing inside a file
	ProblemReordered = "reordered"      // lines or files are out of order
	ProblemMissing   = "missing file"   // a file of the set is missing
	ProblemTruncated = "tail truncated" // a file's end after its last signed record was cut
	ProblemSignature = "bad signature"  // a signed record does not verify with the key
)

// Problem is the first thing wrong in a set of log files: where, and what.
type Problem struct {
	File   string
	Line   int // from 1
	Kind   string
	Detail string
}

func (p *Problem) Error() string {
	return fmt.Sprintf("%s:%d: %s: %s", p.File, p.Line, p.Kind, p.Detail)
}

// Place is a line of a file.
type Place struct {
	File string
	Line int
}

// Report is what Verify checked.
type Report struct {
	Files, Lines int
	// Legacy lines come before the chain began (written by a version
	// without it): they are only covered by the first chained line.
	Legacy int
	// FirstSeq and LastSeq are the chain's range in the set.
	FirstSeq, LastSeq int64
	// Signed is how many signed records were checked (or, without a key,
	// found); SignaturesChecked says whether a key checked them.
	Signed            int
	SignaturesChecked bool
	// LastSigned is the last signed record, Unsigned the lines after it
	// (covered by the chain, not yet by a signature). Closed means the
	// set ends with the close record of a clean stop.
	LastSigned Place
	Unsigned   int
	Closed     bool
	// Torn is the unterminated last line of the last file (an
	// interrupted write, cut by the service when it next opens the log),
	// with its length; zero when there is none.
	Torn      Place
	TornBytes int
}

// verifier walks the lines of a set of files in order.
type verifier struct {
	key     crypto.PublicKey
	rep     Report
	c       chain
	last    Place  // the line c is at
	record  string // the record kind of that line, "" for a decision
	started bool
	starts  map[int64]bool // the first seq of every file
}

// Verify checks files, in the order given (oldest first, the live file
// last), against the chain and, with key, the signed records. It returns
// the first problem, or a report of what holds.
func Verify(files []string, key crypto.PublicKey) (Report, error) {
	v := &verifier{key: key, starts: map[int64]bool{}}
	v.rep.SignaturesChecked = key != nil
	data := make([][]byte, len(files))
	for i, name := range files {
		b, err := os.ReadFile(name) //nolint:gosec // G304: files named by the operator
		if err != nil {
			return v.rep, err
		}
		data[i] = b
		first, _, _ := bytes.Cut(b, []byte{'\n'})
		if m, err := parseMembers(first); err == nil && m.Seq != nil {
			v.starts[*m.Seq] = true
		}
	}
	for i, name := range files {
		if err := v.file(name, data[i], i == len(files)-1); err != nil {
			return v.rep, err
		}
		v.rep.Files++
	}
	return v.rep, nil
}

func (v *verifier) file(name string, data []byte, last bool) error {
	lines := bytes.Split(data, []byte{'\n'})
	tail := lines[len(lines)-1]
	lines = lines[:len(lines)-1]
	parsed := make([]parsedLine, len(lines))
	seqs := make(map[int64]bool, len(lines))
	for i, l := range lines {
		parsed[i].m, parsed[i].err = parseMembers(l)
		if parsed[i].err == nil && parsed[i].m.Seq != nil {
			seqs[*parsed[i].m.Seq] = true
		}
	}
	for i, line := range lines {
		at := Place{name, i + 1}
		if err := v.line(at, line, parsed[i], i == 0, seqs); err != nil {
			return err
		}
	}
	if len(tail) > 0 {
		at := Place{name, len(lines) + 1}
		if !last {
			return &Problem{name, at.Line, ProblemEdited, "the file ends in a line without its newline, and it is not the last file of the set"}
		}
		v.rep.Torn, v.rep.TornBytes = at, len(tail)
	}
	if !last && v.rep.Signed > 0 && v.record != RecordRotate && len(lines) > 0 {
		return &Problem{name, len(lines), ProblemTruncated, fmt.Sprintf("the file ends without its rotate record: lines after the last signed record (%s) were cut", v.rep.LastSigned)}
	}
	return nil
}

func (p Place) String() string { return fmt.Sprintf("%s:%d", p.File, p.Line) }

// parsedLine is a line's chain members, or why they could not be read.
type parsedLine struct {
	m   members
	err error
}

func (v *verifier) line(at Place, line []byte, p parsedLine, firstOfFile bool, seqs map[int64]bool) error {
	v.rep.Lines++
	m, err := p.m, p.err
	if err != nil {
		return &Problem{at.File, at.Line, ProblemEdited, fmt.Sprintf("not a line of the log: %v", err)}
	}
	if m.Seq == nil {
		if v.started {
			return &Problem{at.File, at.Line, ProblemEdited, "the line has no seq and prev (every line after the chain began has them)"}
		}
		v.rep.Legacy++
		v.advance(at, line, 0, "")
		return nil
	}
	seq, prev := *m.Seq, ""
	if m.Prev != nil {
		prev = *m.Prev
	}
	if err := v.link(at, seq, prev, firstOfFile, seqs); err != nil {
		return err
	}
	if m.Record != "" {
		if err := v.signed(at, m, seq, prev); err != nil {
			return err
		}
	} else {
		v.rep.Unsigned++
	}
	if !v.started {
		v.rep.FirstSeq = seq
	}
	v.started = true
	v.rep.LastSeq = seq
	v.advance(at, line, seq, m.Record)
	return nil
}

// link checks that the line at, holding seq and prev, follows the last.
func (v *verifier) link(at Place, seq int64, prev string, firstOfFile bool, seqs map[int64]bool) error {
	want := v.c.seq + 1
	switch {
	case !v.started && !v.c.linked:
		return nil // the first line of the set: nothing before it to check
	case !v.started: // the first chained line after older lines
	case seq == want:
	case seq > want && firstOfFile && v.rep.Signed > 0 && v.record != RecordRotate:
		return &Problem{v.last.File, v.last.Line, ProblemTruncated,
			fmt.Sprintf("lines %d to %d are missing after this line and the file does not end with its rotate record: its tail was cut", want, seq-1)}
	case seq > want && firstOfFile && v.starts[want]:
		return &Problem{at.File, at.Line, ProblemReordered, fmt.Sprintf("the file starts at seq %d but another file of the set starts at %d, where the file before it ends: the files are out of order", seq, want)}
	case seq > want && firstOfFile:
		return &Problem{at.File, at.Line, ProblemMissing, fmt.Sprintf("the file starts at seq %d but the file before it ends at seq %d: the file with lines %d to %d is missing", seq, v.c.seq, want, seq-1)}
	case seq > want && seqs[want]:
		return &Problem{at.File, at.Line, ProblemReordered, fmt.Sprintf("seq %d comes where %d was written (it is later in the file)", seq, want)}
	case seq > want:
		return &Problem{at.File, at.Line, ProblemDeleted, fmt.Sprintf("lines %d to %d are missing before this line", want, seq-1)}
	case firstOfFile:
		return &Problem{at.File, at.Line, ProblemReordered, fmt.Sprintf("the file starts at seq %d, not after the file before it (seq %d): the files are out of order", seq, v.c.seq)}
	default:
		return &Problem{at.File, at.Line, ProblemReordered, fmt.Sprintf("seq %d after seq %d", seq, v.c.seq)}
	}
	if got := string(v.c.prev(nil)); prev != got {
		return &Problem{v.last.File, v.last.Line, ProblemEdited, fmt.Sprintf("the line does not match the hash that the next line (%s) holds", at)}
	}
	return nil
}

// signed checks a signed record.
func (v *verifier) signed(at Place, m members, seq int64, prev string) error {
	switch m.Record {
	case RecordCheckpoint, RecordRotate, RecordClose:
	default:
		return &Problem{at.File, at.Line, ProblemEdited, fmt.Sprintf("unknown record %q", m.Record)}
	}
	if m.Time == nil || m.Sig == "" {
		return &Problem{at.File, at.Line, ProblemSignature, "the record has no time or sig"}
	}
	if v.key != nil {
		id, err := KeyID(v.key)
		if err != nil {
			return err
		}
		if m.KeyID != id {
			return &Problem{at.File, at.Line, ProblemSignature, fmt.Sprintf("signed with key %q, not with the given key %q", m.KeyID, id)}
		}
		if !verifySig(v.key, RecordMessage(m.Record, *m.Time, seq, prev), m.Sig) {
			return &Problem{at.File, at.Line, ProblemSignature, fmt.Sprintf("the %s record's signature does not verify", m.Record)}
		}
	}
	v.rep.Signed++
	v.rep.LastSigned, v.rep.Unsigned = at, 0
	v.rep.Closed = m.Record == RecordClose
	return nil
}

func (v *verifier) advance(at Place, line []byte, seq int64, record string) {
	v.c = chain{seq: seq, hash: sha256.Sum256(line), linked: true}
	v.last, v.record = at, record
	if record == "" {
		v.rep.Closed = false
	}
}
