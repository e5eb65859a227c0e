package plans

import (
	"fmt"
	"strings"
)

// wildcard is the pattern segment that matches any one path segment.
const wildcard = "*"

// node is one level of the segment trie. lit holds the literal children by
// segment, wild the child reached by a "*" segment, and grant the union of
// the actions of every rule whose pattern ends at this node.
type node struct {
	lit   map[string]*node
	wild  *node
	grant actionSet
}

// insert adds a compiled pattern (its segments) with the given actions.
func (n *node) insert(segs []string, grant actionSet) {
	cur := n
	for _, s := range segs {
		var next *node
		if s == wildcard {
			if cur.wild == nil {
				cur.wild = &node{}
			}
			next = cur.wild
		} else {
			next = cur.lit[s]
			if next == nil {
				if cur.lit == nil {
					cur.lit = make(map[string]*node)
				}
				next = &node{}
				cur.lit[s] = next
			}
		}
		cur = next
	}
	cur.grant |= grant
}

// match returns the union of the grants of every pattern that matches name
// in full. Each trie node is visited at most once per call, so the cost is
// bounded by both the trie size and 2^segments, independent of the number
// of rules, and it stops early once every action is granted.
func (n *node) match(name string) actionSet {
	seg, rest, more := strings.Cut(name, "/")
	var got actionSet
	if c := n.lit[seg]; c != nil {
		if more {
			got |= c.match(rest)
		} else {
			got |= c.grant
		}
	}
	if got == actAll || n.wild == nil {
		return got
	}
	if more {
		return got | n.wild.match(rest)
	}
	return got | n.wild.grant
}

// compilePattern validates a repository pattern and splits it into
// segments. A segment is "*" or a path component of the reference grammar;
// the first segment of a pattern with more than one segment may also be a
// registry host ("host[:port]").
func compilePattern(p string) ([]string, error) {
	if p == "" {
		return nil, errorString("empty repository pattern")
	}
	if len(p) > MaxNameLength {
		return nil, errorString(fmt.Sprintf("pattern longer than %d bytes", MaxNameLength))
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		switch {
		case s == "":
			return nil, errorString("empty path segment")
		case s == wildcard:
		case strings.Contains(s, "**"):
			return nil, errorString(fmt.Sprintf("segment %q: \"**\" is not supported, \"*\" matches exactly one segment", truncate(s)))
		case strings.Contains(s, wildcard):
			return nil, errorString(fmt.Sprintf("segment %q: partial wildcards are not supported, \"*\" must be a whole segment", truncate(s)))
		case validComponent(s):
		case i == 0 && len(segs) > 1 && validHostname(s):
		default:
			return nil, errorString(fmt.Sprintf("segment %q: invalid characters for a repository path component", truncate(s)))
		}
	}
	return segs, nil
}

// errorString is a plain reason, wrapped into a *RuleError by the caller.
type errorString string

func (e errorString) Error() string { return string(e) }
