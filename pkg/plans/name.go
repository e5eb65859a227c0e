package plans

import "strings"

// MaxNameLength is the longest repository name accepted, host prefix
// included (the reference grammar's NameTotalLengthMax).
const MaxNameLength = 255

func isLowerAlnum(c byte) bool {
	return ('a' <= c && c <= 'z') || ('0' <= c && c <= '9')
}

func isAlnum(c byte) bool {
	return isLowerAlnum(c) || ('A' <= c && c <= 'Z')
}

// validComponent reports whether s is a path component of the reference
// grammar: [a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*.
func validComponent(s string) bool {
	i, n := 0, len(s)
	for {
		start := i
		for i < n && isLowerAlnum(s[i]) {
			i++
		}
		if i == start {
			return false
		}
		if i == n {
			return true
		}
		switch s[i] {
		case '.':
			i++
		case '_':
			i++
			if i < n && s[i] == '_' {
				i++
			}
		case '-':
			for i < n && s[i] == '-' {
				i++
			}
		default:
			return false
		}
	}
}

// validHostname reports whether s is hostcomponent ['.' hostcomponent]*
// [':' port], hostcomponent being [a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?.
func validHostname(s string) bool {
	host, port, hasPort := strings.Cut(s, ":")
	if hasPort {
		if port == "" {
			return false
		}
		for i := 0; i < len(port); i++ {
			if port[i] < '0' || port[i] > '9' {
				return false
			}
		}
	}
	for {
		label, rest, more := strings.Cut(host, ".")
		if label == "" || !isAlnum(label[0]) || !isAlnum(label[len(label)-1]) {
			return false
		}
		for i := 1; i < len(label)-1; i++ {
			if !isAlnum(label[i]) && label[i] != '-' {
				return false
			}
		}
		if !more {
			return true
		}
		host = rest
	}
}

// ValidName reports whether name is a repository name of the scope grammar:
// an optional "host[:port]/" prefix and one or more path components joined
// by '/', at most MaxNameLength bytes.
func ValidName(name string) bool {
	if name == "" || len(name) > MaxNameLength {
		return false
	}
	first, rest, more := strings.Cut(name, "/")
	if !validComponent(first) && (!more || !validHostname(first)) {
		return false
	}
	for more {
		var seg string
		seg, rest, more = strings.Cut(rest, "/")
		if !validComponent(seg) {
			return false
		}
	}
	return true
}
