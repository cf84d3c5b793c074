package handjson

import (
	"unicode/utf16"
	"unicode/utf8"
)

// Reader reads the hot frames (a WS 1003 request) by hand, once, instead of encoding/json plus Check.
// It handles only the plain case: every method returns ok=false on anything it does not read exactly as
// json.Unmarshal followed by Check would (escaped or non-ASCII keys, null, a number out of range or with
// a fraction, too deep, invalid JSON), and the caller then runs the generic path (encoding/json, and
// strictjson's check in the server), which gives the value or the error. So the fast path never has to
// reproduce an error message. The differential fuzz tests of its callers (gateway, chat, client) compare
// the two paths on every input.
type Reader struct {
	B []byte
	I int
}

// maxFastDepth bounds the nesting Skip follows (encoding/json allows 10,000; deeper texts fall back).
const maxFastDepth = 64

// maxFastKeys bounds the keys of one object under Skip (their repeat check is pairwise).
const maxFastKeys = 32

// WS skips white space.
func (r *Reader) WS() {
	for r.I < len(r.B) {
		switch r.B[r.I] {
		case ' ', '\t', '\n', '\r':
			r.I++
		default:
			return
		}
	}
}

// Consume skips white space and then c, reporting whether c was there.
func (r *Reader) Consume(c byte) bool {
	r.WS()
	if r.I < len(r.B) && r.B[r.I] == c {
		r.I++
		return true
	}
	return false
}

// Peek skips white space and returns the next byte (0 at the end).
func (r *Reader) Peek() byte {
	r.WS()
	if r.I < len(r.B) {
		return r.B[r.I]
	}
	return 0
}

// End reports whether only white space is left.
func (r *Reader) End() bool {
	r.WS()
	return r.I == len(r.B)
}

// Key reads an object key and its colon. Only printable ASCII without escapes is read (its bytes are the
// key as encoding/json decodes it); anything else is not ok.
func (r *Reader) Key() ([]byte, bool) {
	r.WS()
	if r.I >= len(r.B) || r.B[r.I] != '"' {
		return nil, false
	}
	start := r.I + 1
	for j := start; j < len(r.B); j++ {
		c := r.B[j]
		if c == '"' {
			r.I = j + 1
			if !r.Consume(':') {
				return nil, false
			}
			return r.B[start:j], true
		}
		if c < 0x20 || c >= utf8.RuneSelf || c == '\\' {
			return nil, false
		}
	}
	return nil, false
}

// String reads a string value as encoding/json decodes it (escapes, invalid UTF-8 as U+FFFD). null is
// not ok (encoding/json would leave the field as it was).
func (r *Reader) String() (string, bool) {
	r.WS()
	if r.I >= len(r.B) || r.B[r.I] != '"' {
		return "", false
	}
	start := r.I + 1
	for j := start; j < len(r.B); j++ {
		c := r.B[j]
		switch {
		case c == '"':
			r.I = j + 1
			return string(r.B[start:j]), true
		case c < 0x20:
			return "", false
		case c == '\\' || c >= utf8.RuneSelf:
			return r.slowString(start)
		}
	}
	return "", false
}

// slowString decodes the string whose text starts at start, as encoding/json's unquote does.
func (r *Reader) slowString(start int) (string, bool) {
	b := r.B
	out := make([]byte, 0, len(b)-start)
	for j := start; j < len(b); {
		c := b[j]
		switch {
		case c == '"':
			r.I = j + 1
			return string(out), true
		case c < 0x20:
			return "", false
		case c == '\\':
			if j+1 >= len(b) {
				return "", false
			}
			switch e := b[j+1]; e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				rr := hex4(b, j+2)
				if rr < 0 {
					return "", false
				}
				j += 6
				if utf16.IsSurrogate(rr) {
					// A pair decodes to one rune; anything else (a lone half) is U+FFFD, and what follows is
					// read on its own.
					if rr1 := escapedU(b, j); rr1 >= 0 {
						if dec := utf16.DecodeRune(rr, rr1); dec != utf8.RuneError {
							out = utf8.AppendRune(out, dec)
							j += 6
							continue
						}
					}
					rr = utf8.RuneError
				}
				out = utf8.AppendRune(out, rr)
				continue
			default:
				return "", false
			}
			j += 2
		case c < utf8.RuneSelf:
			out = append(out, c)
			j++
		default:
			rr, size := utf8.DecodeRune(b[j:])
			if rr == utf8.RuneError && size == 1 {
				out = utf8.AppendRune(out, utf8.RuneError)
			} else {
				out = append(out, b[j:j+size]...)
			}
			j += size
		}
	}
	return "", false
}

// escapedU returns the rune of a \uXXXX at b[i:], or -1.
func escapedU(b []byte, i int) rune {
	if i+1 >= len(b) || b[i] != '\\' || b[i+1] != 'u' {
		return -1
	}
	return hex4(b, i+2)
}

// hex4 reads four hex digits at b[i:], or -1.
func hex4(b []byte, i int) rune {
	if i+4 > len(b) {
		return -1
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// Int reads an integer that fits in bits (32 or 64) bits: an optional minus and digits, no fraction or
// exponent (encoding/json refuses those for an integer field), no leading zero (invalid JSON).
func (r *Reader) Int(bits int) (int64, bool) {
	r.WS()
	b, i := r.B, r.I
	neg := i < len(b) && b[i] == '-'
	if neg {
		i++
	}
	start := i
	var n uint64
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		n = n*10 + uint64(b[i]-'0')
		i++
	}
	digits := i - start
	if digits == 0 || digits > 19 || (b[start] == '0' && digits > 1) {
		return 0, false
	}
	if i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E') {
		return 0, false
	}
	limit := uint64(1)<<(bits-1) - 1
	if neg {
		limit++
	}
	if n > limit {
		return 0, false
	}
	r.I = i
	if neg {
		return -int64(n), true // n ≤ 2^63: -int64(2^63) wraps to the minimum, which is right
	}
	return int64(n), true
}

// Bool reads true or false.
func (r *Reader) Bool() (v, ok bool) {
	r.WS()
	switch {
	case hasAt(r.B, r.I, "true"):
		r.I += 4
		return true, true
	case hasAt(r.B, r.I, "false"):
		r.I += 5
		return false, true
	}
	return false, false
}

func hasAt(b []byte, i int, lit string) bool {
	return len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit
}

// Skip passes over one JSON value and returns its text; ok only when the value is valid JSON that strictjson.Check
// with an unknown shape accepts (no key repeated in any object below), and its keys are plain (see Key).
func (r *Reader) Skip() ([]byte, bool) {
	r.WS()
	start := r.I
	if !r.skip(0) {
		return nil, false
	}
	return r.B[start:r.I], true
}

func (r *Reader) skip(depth int) bool {
	if r.I >= len(r.B) {
		return false
	}
	switch c := r.B[r.I]; {
	case c == '{':
		if depth >= maxFastDepth {
			return false
		}
		r.I++
		if r.Consume('}') {
			return true
		}
		var keys [maxFastKeys][]byte
		for n := 0; ; n++ {
			k, ok := r.Key()
			if !ok || n == maxFastKeys {
				return false
			}
			for _, p := range keys[:n] {
				if string(p) == string(k) {
					return false
				}
			}
			keys[n] = k
			r.WS()
			if !r.skip(depth + 1) {
				return false
			}
			if r.Consume('}') {
				return true
			}
			if !r.Consume(',') {
				return false
			}
		}
	case c == '[':
		if depth >= maxFastDepth {
			return false
		}
		r.I++
		if r.Consume(']') {
			return true
		}
		for {
			r.WS()
			if !r.skip(depth + 1) {
				return false
			}
			if r.Consume(']') {
				return true
			}
			if !r.Consume(',') {
				return false
			}
		}
	case c == '"':
		return r.skipString()
	case c == 't':
		return r.lit("true")
	case c == 'f':
		return r.lit("false")
	case c == 'n':
		return r.lit("null")
	case c == '-' || ('0' <= c && c <= '9'):
		return r.skipNumber()
	}
	return false
}

func (r *Reader) lit(s string) bool {
	if !hasAt(r.B, r.I, s) {
		return false
	}
	r.I += len(s)
	return true
}

// skipString passes over a valid string (escapes checked; any byte from 0x20 up is valid JSON).
func (r *Reader) skipString() bool {
	b := r.B
	for j := r.I + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			r.I = j + 1
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if j+1 >= len(b) {
				return false
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j++
			case 'u':
				if hex4(b, j+2) < 0 {
					return false
				}
				j += 5
			default:
				return false
			}
		}
	}
	return false
}

// skipNumber passes over a number of JSON's grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (r *Reader) skipNumber() bool {
	b, i := r.B, r.I
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := func() int {
		s := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		return i - s
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	r.I = i
	return true
}
