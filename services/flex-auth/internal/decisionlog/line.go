// Package decisionlog writes one JSON line per policy decision (the
// engine's decision record, engine.Decision), durably, before the
// decision is answered. Concurrent decisions share one write and one
// fsync (group commit): the Append that finds no group in progress
// commits every line queued while the previous group was being synced.
//
// For audit: when a batch write fails partway, the complete lines before
// the failure stay in the file although every decision of the batch was
// answered as failed (503 deny). A line therefore means "decided, and
// possibly answered"; the absence of a line means "never answered allow".
package decisionlog

import (
	"bytes"
	"fmt"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/stellaops/authgate/services/flex-auth/internal/engine"
)

// lineOptions escape strings as encoding/json does (<, >, & and U+2028,
// U+2029 as \uXXXX), so that lines stay what they have always been.
var lineOptions = json.JoinOptions(jsontext.EscapeForHTML(true), jsontext.EscapeForJS(true), jsontext.AllowInvalidUTF8(true))

// lines writes decision log lines into one buffer.
type lines struct {
	buf bytes.Buffer
	enc jsontext.Encoder
	rec engine.Decision // the record being written, its time in UTC
}

// reset empties the buffer.
func (w *lines) reset() {
	w.buf.Reset()
	w.enc.Reset(&w.buf, lineOptions)
}

// add appends the line of d, newline included: the one place a decision
// becomes a line (the chain, chain.go, then ends it with seq and prev).
func (w *lines) add(d *engine.Decision) error {
	w.rec = *d
	w.rec.Time = d.Time.UTC()
	if err := json.MarshalEncode(&w.enc, &w.rec); err != nil {
		return fmt.Errorf("decision log line: %w", err)
	}
	return nil
}

// bytes returns the lines added since reset.
func (w *lines) bytes() []byte { return w.buf.Bytes() }
