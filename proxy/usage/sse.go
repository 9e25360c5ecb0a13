package usage

// sseParser splits a Server-Sent Events stream into events as bytes arrive
// and feeds each event's data straight into a JSON scanner: no line is
// buffered, so a long line costs no memory. Events whose `event:` name says
// they carry no usage (text deltas, pings) are skipped without scanning.
// The zero value with sc and apply set is ready.
type sseParser struct {
	state  uint8
	field  [8]byte
	flen   int // bytes of the field name; more than len(field): too long
	name   [48]byte
	nlen   int // bytes of the event name; more than len(name): too long
	lastCR bool
	skip   bool     // the current event's name says it holds no usage
	data   bool     // the current event had a data line
	sc     *scanner // the Meter's scanner (one per answer)
	apply  func(*event)
}

const (
	lineStart uint8 = iota
	inField
	inData
	inEventName
	skipLine
	afterColon
)

// skipEvents are event names whose data never holds usage or the model.
// Anything else (including no name at all, as Chat Completions sends) is read.
var skipEvents = map[string]bool{
	"content_block_delta": true, "content_block_start": true, "content_block_stop": true,
	"ping": true, "message_stop": true,
	"response.output_text.delta": true, "response.output_item.added": true,
	"response.output_item.done": true, "response.content_part.added": true,
	"response.content_part.done": true, "response.output_text.done": true,
	"response.function_call_arguments.delta": true, "response.reasoning_summary_text.delta": true,
	"response.in_progress": true,
}

var newline = []byte{'\n'}

// lineEnd returns the index of the first '\n' or '\r' in b from i on, or len(b).
func lineEnd(b []byte, i int) int {
	for k := 0; k < 16 && i < len(b); k++ {
		if c := b[i]; c == '\n' || c == '\r' {
			return i
		}
		i++
	}
	if i >= len(b) {
		return len(b)
	}
	return i + indexEither(b[i:], '\n', '\r')
}

func (p *sseParser) write(b []byte) {
	for i := 0; i < len(b); i++ {
		c := b[i]
		if p.lastCR && c == '\n' { // the \n of a \r\n
			p.lastCR = false
			continue
		}
		p.lastCR = c == '\r'
		if c == '\r' {
			c = '\n'
		}
		switch p.state {
		case lineStart:
			switch c {
			case '\n':
				p.dispatch()
			case ':':
				p.state = skipLine // a comment
			default:
				p.flen = 0
				p.state = inField
				p.fieldByte(c)
			}
		case inField:
			switch c {
			case ':':
				p.state = afterColon
			case '\n':
				p.state = lineStart // a field without a value: nothing we use
			default:
				p.fieldByte(c)
			}
		case afterColon:
			p.state = p.valueState()
			if c != ' ' {
				i-- // the value starts here: read c again in its state
			}
		case inData:
			// Feed the rest of the line in one piece.
			j := lineEnd(b, i)
			p.sc.write(b[i:j])
			i = j - 1 // the line end, if any, is read next in inData
			if j < len(b) {
				i = j
				p.lastCR = b[j] == '\r'
				p.state = lineStart
			}
		case inEventName:
			if c == '\n' {
				p.skip = p.nlen <= len(p.name) && skipEvents[string(p.name[:p.nlen])]
				p.state = lineStart
				continue
			}
			if p.nlen < len(p.name) {
				p.name[p.nlen] = c
			}
			p.nlen++
		case skipLine:
			if c != '\n' {
				i = lineEnd(b, i) // the line end, if any, is read next
				i--
				continue
			}
			p.state = lineStart
		}
	}
}

func (p *sseParser) fieldByte(c byte) {
	if p.flen < len(p.field) {
		p.field[p.flen] = c
	}
	p.flen++
}

// valueState picks how to read the value of the field just named.
func (p *sseParser) valueState() uint8 {
	if p.flen > len(p.field) {
		return skipLine
	}
	switch string(p.field[:p.flen]) {
	case "data":
		if p.skip {
			return skipLine
		}
		if p.data {
			p.sc.write(newline) // data lines join with a newline: JSON whitespace
		}
		p.data = true
		return inData
	case "event":
		p.nlen = 0
		return inEventName
	}
	return skipLine
}

// dispatch ends the current event (a blank line).
func (p *sseParser) dispatch() {
	if p.data && p.sc.done() {
		p.apply(&p.sc.ev)
	}
	p.sc.reset()
	p.data, p.skip = false, false
}

// finish ends the stream: a last event without its blank line still counts
// when its JSON is complete (a stream cut right after its usage event).
func (p *sseParser) finish() {
	if p.state == inData || p.state == lineStart {
		p.dispatch()
	}
}
