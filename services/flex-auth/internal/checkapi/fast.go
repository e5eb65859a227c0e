package checkapi

import (
	"math"
	"strconv"
)

// decodeFast decodes the common shape of a check request in one pass
// without reflection: member names spelled exactly, strings without
// escapes, context values that are strings, numbers, booleans or null.
// It reports false for anything else (including every malformed or
// rejected body), and the strict decoder then decides and names the
// problem, so both paths accept exactly the same requests with the same
// result.
func decodeFast(body []byte, req *Request) bool {
	p := fastParser{b: body}
	p.ws()
	if !p.eat('{') {
		return false
	}
	var seen uint8
	p.ws()
	if p.eat('}') {
		return p.end()
	}
	for {
		p.ws()
		key, ok := p.str()
		if !ok {
			return false
		}
		p.ws()
		if !p.eat(':') {
			return false
		}
		p.ws()
		bit, ok := requestMember(key)
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		switch bit {
		case bitTTL:
			n, ok := p.integer()
			if !ok {
				return false
			}
			req.TTLHours = &n
		case bitContext:
			if !p.context(req) {
				return false
			}
		default:
			s, ok := p.str()
			if !ok {
				return false
			}
			*req.stringMember(bit) = string(s)
		}
		p.ws()
		if p.eat('}') {
			return p.end()
		}
		if !p.eat(',') {
			return false
		}
	}
}

const (
	bitActor uint8 = 1 << iota
	bitSubject
	bitAction
	bitPrincipal
	bitTTL
	bitResource
	bitContext
)

func requestMember(key []byte) (uint8, bool) {
	switch string(key) {
	case "actor":
		return bitActor, true
	case "subject":
		return bitSubject, true
	case "action":
		return bitAction, true
	case "principal":
		return bitPrincipal, true
	case "ttl_hours":
		return bitTTL, true
	case "resource":
		return bitResource, true
	case "context":
		return bitContext, true
	}
	return 0, false
}

func (r *Request) stringMember(bit uint8) *string {
	switch bit {
	case bitActor:
		return &r.Actor
	case bitSubject:
		return &r.Subject
	case bitAction:
		return &r.Action
	case bitPrincipal:
		return &r.Principal
	}
	return &r.Resource
}

type fastParser struct {
	b []byte
	i int
}

func (p *fastParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\r', '\n':
			p.i++
		default:
			return
		}
	}
}

func (p *fastParser) eat(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// end accepts only trailing whitespace.
func (p *fastParser) end() bool {
	p.ws()
	return p.i == len(p.b)
}

// str reads a string without escapes or control characters.
func (p *fastParser) str() ([]byte, bool) {
	if !p.eat('"') {
		return nil, false
	}
	start := p.i
	for ; p.i < len(p.b); p.i++ {
		switch c := p.b[p.i]; {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			return s, true
		case c == '\\' || c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

// number reads a token of the JSON number grammar.
func (p *fastParser) number() ([]byte, bool) {
	start := p.i
	p.eat('-')
	switch {
	case p.eat('0'):
	case p.digits() == 0:
		return nil, false
	}
	if p.eat('.') && p.digits() == 0 {
		return nil, false
	}
	if p.eat('e') || p.eat('E') {
		if !p.eat('+') {
			p.eat('-')
		}
		if p.digits() == 0 {
			return nil, false
		}
	}
	return p.b[start:p.i], true
}

func (p *fastParser) digits() int {
	n := 0
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
		n++
	}
	return n
}

func (p *fastParser) integer() (int64, bool) {
	tok, ok := p.number()
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(string(tok), 10, 64)
	return n, err == nil
}

// context reads the context object: scalar values, no duplicate keys.
func (p *fastParser) context(req *Request) bool {
	if p.literal("null") {
		return true
	}
	if !p.eat('{') {
		return false
	}
	p.ws()
	if p.eat('}') {
		req.Context = map[string]any{}
		return true
	}
	ctx := make(map[string]any, 4)
	for {
		p.ws()
		raw, ok := p.str()
		if !ok {
			return false
		}
		key := string(raw)
		if _, dup := ctx[key]; dup {
			return false
		}
		p.ws()
		if !p.eat(':') {
			return false
		}
		p.ws()
		v, ok := p.scalar()
		if !ok {
			return false
		}
		ctx[key] = v
		p.ws()
		if p.eat('}') {
			req.Context = ctx
			return true
		}
		if !p.eat(',') {
			return false
		}
	}
}

func (p *fastParser) scalar() (any, bool) {
	if p.i >= len(p.b) {
		return nil, false
	}
	switch c := p.b[p.i]; {
	case c == '"':
		s, ok := p.str()
		return string(s), ok
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		tok, ok := p.number()
		if !ok {
			return nil, false
		}
		if n, err := strconv.ParseInt(string(tok), 10, 64); err == nil {
			return n, true
		}
		f, err := strconv.ParseFloat(string(tok), 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, false
		}
		return f, true
	}
	return nil, false
}

func (p *fastParser) literal(word string) bool {
	if len(p.b)-p.i >= len(word) && string(p.b[p.i:p.i+len(word)]) == word {
		p.i += len(word)
		return true
	}
	return false
}
