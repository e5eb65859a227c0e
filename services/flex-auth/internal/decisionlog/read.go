package decisionlog

import (
	"bufio"
	"bytes"
	"fmt"
	"os"

	"github.com/go-json-experiment/json"

	"github.com/stellaops/authgate/services/flex-auth/internal/engine"
)

// Line is a decision line as read back: the decision record and its
// chain members.
type Line struct {
	engine.Decision `json:",inline"`

	Seq  int64  `json:"seq"`
	Prev string `json:"prev"`
}

// ReadDecisions reads the decision lines of the log file at path
// strictly (a member that is not the record's or the chain's is an
// error), skipping the log's signed records.
func ReadDecisions(path string) ([]Line, error) {
	f, err := os.Open(path) //nolint:gosec // G304: the caller's log file
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	var out []Line
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		if bytes.Contains(sc.Bytes(), []byte(`"record":`)) {
			if m, err := parseMembers(sc.Bytes()); err == nil && m.Record != "" {
				continue
			}
		}
		var l Line
		if err := json.Unmarshal(sc.Bytes(), &l, json.RejectUnknownMembers(true)); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		out = append(out, l)
	}
	return out, sc.Err()
}
