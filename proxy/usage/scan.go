package usage

import "bytes"

// The usage fields are found with a small streaming JSON scanner instead of
// encoding/json: it is fed the body in whatever pieces the network delivers,
// keeps no copy of the body (only the object keys on the current path and a
// short string value), and jumps over string contents with bytes.IndexByte, so
// a long answer costs little more than a memchr. It is tolerant: on input that
// is not JSON it stops looking until reset, and never errors.

// field identifies a value the scanner reports.
type field uint8

const (
	fNone field = iota
	fModel
	fType
	fInput      // usage.input_tokens (Anthropic: uncached; Responses: total)
	fPrompt     // usage.prompt_tokens (Chat Completions: total input)
	fOutput     // usage.output_tokens / usage.completion_tokens
	fCacheRead  // usage.cache_read_input_tokens
	fCacheWrite // usage.cache_creation_input_tokens
	fCached     // usage.{prompt,input}_tokens_details.cached_tokens (OpenAI: part of input)
	numFields
)

const (
	maxDepth  = 32  // deeper documents are not followed (nothing we read is deeper than 4)
	pathDepth = 4   // keys kept for matching
	maxKey    = 48  // longer keys never match
	maxStr    = 128 // longest model or type value kept
)

// scanner states.
const (
	sValue   uint8 = iota // expecting a value
	sAfter                // after a value: ',' or a closing bracket
	sKey                  // in an object, expecting a key or '}'
	sColon                // after a key, expecting ':'
	sString               // inside a string
	sEscape               // after a backslash inside a string
	sNumber               // inside a number
	sLiteral              // inside true, false or null
	sDead                 // not JSON we understand: ignore the rest
)

// event is what one JSON document said: the values found, by field.
type event struct {
	set    [numFields]bool
	num    [numFields]int64
	model  string
	typ    string
	openai bool // an OpenAI shape (input counts include cached tokens)
}

// scanner is a push JSON scanner. The zero value is ready for a document.
type scanner struct {
	state   uint8
	depth   int
	inObj   [maxDepth + 1]bool // container kind per depth (true: object)
	keys    [pathDepth + 1][maxKey]byte
	keyLen  [pathDepth + 1]int8 // -1: too long, never matches
	isKey   bool                // the string being read is a key
	capture field               // string or number being read goes to this field
	str     [maxStr]byte
	strLen  int
	num     int64
	numOK   bool
	started bool // saw the first non-space byte
	ev      event
}

func (s *scanner) reset() { *s = scanner{} }

// done reports whether a complete top-level value was read.
func (s *scanner) done() bool { return s.started && s.depth == 0 && s.state == sAfter }

// write feeds the next piece of the document.
func (s *scanner) write(p []byte) {
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch s.state {
		case sDead:
			return
		case sString:
			end := stringEnd(p, i)
			if end > i {
				s.strBytes(p[i:end])
			}
			if end == len(p) {
				return
			}
			i = end
			if p[i] == '"' {
				s.endString()
			} else {
				s.state = sEscape
			}
		case sEscape:
			s.strByte(c)
			s.state = sString
		case sNumber:
			switch {
			case c >= '0' && c <= '9':
				if s.num < 1e15 {
					s.num = s.num*10 + int64(c-'0')
				}
			case c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-':
				s.numOK = false
			default:
				s.endScalar()
				i-- // the delimiter is handled in sAfter
			}
		case sLiteral:
			if c >= 'a' && c <= 'z' {
				continue
			}
			s.endScalar()
			i--
		default:
			if c == ' ' || c == '\n' || c == '\r' || c == '\t' {
				continue
			}
			s.started = true
			s.structural(c)
		}
	}
}

// stringEnd returns the index of the first '"' or '\\' in p from i on, or
// len(p). Short runs (keys, numbers as text) are looked at byte by byte;
// long ones (answer text) with indexEither.
func stringEnd(p []byte, i int) int {
	for k := 0; k < 32 && i < len(p); k++ {
		if c := p[i]; c == '"' || c == '\\' {
			return i
		}
		i++
	}
	if i >= len(p) {
		return len(p)
	}
	return i + indexEither(p[i:], '"', '\\')
}

// strBytes keeps string bytes when they are a key on the kept path or a
// value being captured.
func (s *scanner) strBytes(b []byte) {
	if s.isKey {
		d := s.depth
		if d > pathDepth || s.keyLen[d] < 0 {
			return
		}
		if int(s.keyLen[d])+len(b) > maxKey {
			s.keyLen[d] = -1
			return
		}
		copy(s.keys[d][s.keyLen[d]:], b)
		s.keyLen[d] += int8(len(b))
		return
	}
	if s.capture != fNone && s.strLen < maxStr {
		s.strLen += copy(s.str[s.strLen:], b)
	}
}

func (s *scanner) strByte(c byte) { s.strBytes([]byte{c}) }

func (s *scanner) endString() {
	if s.isKey {
		s.isKey = false
		s.state = sColon
		return
	}
	switch s.capture {
	case fModel:
		if s.ev.model == "" {
			s.ev.model = string(s.str[:s.strLen])
		}
	case fType:
		s.ev.typ = string(s.str[:s.strLen])
	}
	s.capture = fNone
	s.state = sAfter
}

func (s *scanner) endScalar() {
	if s.state == sNumber && s.numOK && s.capture > fType {
		s.ev.set[s.capture] = true
		s.ev.num[s.capture] = s.num
	}
	s.capture = fNone
	s.state = sAfter
}

// structural handles a non-space byte outside strings, numbers and literals.
func (s *scanner) structural(c byte) {
	switch s.state {
	case sKey:
		switch c {
		case '"':
			s.isKey = true
			if s.depth <= pathDepth {
				s.keyLen[s.depth] = 0
			}
			s.state = sString
		case '}':
			s.close(true)
		default:
			s.state = sDead
		}
	case sColon:
		if c != ':' {
			s.state = sDead
			return
		}
		s.state = sValue
	case sAfter:
		switch c {
		case ',':
			if s.depth == 0 {
				s.state = sDead
			} else if s.inObj[s.depth] {
				s.state = sKey
			} else {
				s.state = sValue
			}
		case '}':
			s.close(true)
		case ']':
			s.close(false)
		default:
			s.state = sDead
		}
	case sValue:
		s.capture = s.match()
		switch {
		case c == '{' || c == '[':
			if s.depth >= maxDepth {
				s.state = sDead
				return
			}
			s.depth++
			s.inObj[s.depth] = c == '{'
			if s.depth <= pathDepth {
				s.keyLen[s.depth] = -1 // array elements have no key
			}
			s.capture = fNone
			if c == '{' {
				s.state = sKey
			}
		case c == '"':
			s.isKey = false
			s.strLen = 0
			if s.capture != fModel && s.capture != fType {
				s.capture = fNone
			}
			s.state = sString
		case c >= '0' && c <= '9':
			s.num = int64(c - '0')
			s.numOK = true
			s.state = sNumber
		case c == '-':
			s.num = 0
			s.numOK = false
			s.state = sNumber
		case c == 't' || c == 'f' || c == 'n':
			s.capture = fNone
			s.state = sLiteral
		case c == ']':
			s.close(false) // empty array
		default:
			s.state = sDead
		}
	}
}

func (s *scanner) close(obj bool) {
	if s.depth == 0 || s.inObj[s.depth] != obj {
		s.state = sDead
		return
	}
	s.depth--
	s.state = sAfter
}

// key returns the key at depth d, or "" when there is none or it is too long.
func (s *scanner) key(d int) []byte {
	if d > pathDepth || s.keyLen[d] <= 0 {
		return nil
	}
	return s.keys[d][:s.keyLen[d]]
}

// match says which field the value about to start is, from the key path.
func (s *scanner) match() field {
	d := s.depth
	if d == 0 || d > pathDepth || !s.inObj[d] {
		return fNone
	}
	base := 1
	switch string(s.key(1)) {
	case "message":
		base = 2
	case "response":
		base = 2
		if d >= 2 {
			s.ev.openai = true
		}
	}
	if d < base {
		return fNone
	}
	n := d - base + 1 // keys from base to d
	switch n {
	case 1:
		switch string(s.key(d)) {
		case "model":
			return fModel
		case "type":
			if d == 1 {
				return fType
			}
		}
	case 2:
		if string(s.key(base)) != "usage" {
			return fNone
		}
		switch string(s.key(d)) {
		case "input_tokens":
			return fInput
		case "prompt_tokens":
			s.ev.openai = true
			return fPrompt
		case "output_tokens", "completion_tokens":
			return fOutput
		case "cache_read_input_tokens":
			return fCacheRead
		case "cache_creation_input_tokens":
			return fCacheWrite
		}
	case 3:
		if string(s.key(base)) != "usage" || string(s.key(d)) != "cached_tokens" {
			return fNone
		}
		switch string(s.key(base + 1)) {
		case "prompt_tokens_details", "input_tokens_details":
			s.ev.openai = true
			return fCached
		}
	}
	return fNone
}

// indexEither returns the index of the first a or b in p, or len(p). Two
// vectorised IndexByte calls beat bytes.IndexAny, which builds a set per call.
func indexEither(p []byte, a, b byte) int {
	end := len(p)
	if j := bytes.IndexByte(p, a); j >= 0 {
		end = j
	}
	if j := bytes.IndexByte(p[:end], b); j >= 0 {
		end = j
	}
	return end
}
