// Package jsonenc appends JSON without reflection for the hot paths of
// both services (flex-auth's answers and decision log lines,
// registry-token's claims and token response): strings escaped exactly as
// flex-auth's encoder options do (checkapi.EncodeOptions, the decision
// log's line options: <, >, & and U+2028, U+2029 as \uXXXX, invalid UTF-8
// as U+FFFD), times as encoding/json writes them. The tests compare every
// appender with the reflective encoder.
package jsonenc

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// safe[c] is true for the ASCII bytes written as they are.
var safe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = true
	}
	for _, c := range `"\<>&` {
		t[c] = false
	}
	return t
}()

const hex = "0123456789abcdef"

// String appends s as a JSON string.
func String(dst []byte, s string) []byte {
	dst = append(dst, '"')
	i := 0 // s[i:n] is pending, to be copied as it is
	for n := 0; n < len(s); {
		c := s[n]
		if c < utf8.RuneSelf {
			if safe[c] {
				n++
				continue
			}
			dst = append(dst, s[i:n]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			n++
			i = n
			continue
		}
		r, size := utf8.DecodeRuneInString(s[n:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[i:n]...)
			dst = append(dst, "\ufffd"...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[i:n]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			n += size
			continue
		}
		n += size
		i = n
	}
	dst = append(dst, s[i:]...)
	return append(dst, '"')
}

// Member appends "name": for a name that needs no escaping, after a
// comma unless dst ends an opening brace.
func Member(dst []byte, name string) []byte {
	if len(dst) > 0 && dst[len(dst)-1] != '{' {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, name...)
	return append(dst, '"', ':')
}

// StringMember appends "name":"value".
func StringMember(dst []byte, name, value string) []byte {
	return String(Member(dst, name), value)
}

// Int appends n.
func Int(dst []byte, n int64) []byte { return strconv.AppendInt(dst, n, 10) }

// Bool appends true or false.
func Bool(dst []byte, b bool) []byte { return strconv.AppendBool(dst, b) }

// Time appends t as a JSON string in RFC 3339 with as many fractional
// digits as needed, as time.Time's MarshalJSON does.
func Time(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}
