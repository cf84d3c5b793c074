// Package strictjson makes encoding/json read a JSON text exactly as a case-sensitive validator saw it.
//
// encoding/json matches object keys to struct fields case-insensitively (Unicode folding, the last of
// several matching keys wins), while the schema validators (kin-openapi, JSON Schema) compare keys exactly.
// So {"count":1,"COUNT":100000} passes a "count ≤ 1000" check and decodes as 100000. Check refuses every
// text on which the two readings can differ:
//
//   - a key repeated in one object (exactly, or differing only in case where the object is a record and
//     not a free map);
//   - a key that differs only in case from a property of the object's shape ("did you mean userIDs?").
//
// A text that passes Check decodes with encoding/json into the same values the validator checked
// (docs/decisions.md#d26-case-sensitive-keys).
package strictjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Shape describes what an object or array may hold, as far as key matching goes. A nil Shape is
// unknown: only repeated keys are refused below it.
type Shape interface {
	// Names are the property names of a record (nil for a free map or a non-object).
	Names() []string
	// Map reports whether the object is a free map (any keys, compared exactly, case variants allowed).
	Map() bool
	// Field is the shape of the value under key (nil when unknown).
	Field(key string) Shape
	// Elem is the shape of an array's elements (nil when unknown).
	Elem() Shape
}

// Error says where a text is ambiguous; Msg names the field.
type Error struct {
	Path string // dotted path of the object holding the key ("" for the top level)
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// Check returns an *Error when data, read with the given shape (nil: unknown), has a repeated or
// case-variant key, or a syntax error when it is not one JSON value.
func Check(data []byte, s Shape) error {
	if !json.Valid(data) {
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			return err
		}
		return errors.New("invalid JSON")
	}
	return CheckValid(data, s)
}

// CheckValid is Check of a text already known to be one JSON value (encoding/json decoded it without a
// syntax error), without validating it again: that pass cost as much as the check itself.
func CheckValid(data []byte, s Shape) error {
	sc := scanner{b: data}
	return sc.value(s, "")
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// scanner walks a JSON text already known to be valid, without building values: Check runs on every
// request and frame, so it allocates only for keys.
type scanner struct {
	b []byte
	i int
}

func (sc *scanner) ws() {
	for sc.i < len(sc.b) {
		switch sc.b[sc.i] {
		case ' ', '\t', '\n', '\r':
			sc.i++
		default:
			return
		}
	}
}

// str reads a string at sc.i and returns its value when decode is set.
func (sc *scanner) str(decode bool) string {
	start, esc := sc.i, false
	for j := start + 1; ; j++ {
		switch sc.b[j] {
		case '\\':
			esc = true
			j++
		case '"':
			sc.i = j + 1
			if !decode {
				return ""
			}
			if !esc {
				return string(sc.b[start+1 : j])
			}
			var k string
			_ = json.Unmarshal(sc.b[start:j+1], &k)
			return k
		}
	}
}

func (sc *scanner) scalar() {
	for sc.i < len(sc.b) {
		switch sc.b[sc.i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return
		}
		sc.i++
	}
}

func (sc *scanner) value(s Shape, path string) error {
	sc.ws()
	switch sc.b[sc.i] {
	case '{':
		return sc.object(s, path)
	case '[':
		return sc.array(s, path)
	case '"':
		sc.str(false)
	default:
		sc.scalar()
	}
	return nil
}

func (sc *scanner) array(s Shape, path string) error {
	sc.i++
	var elem Shape
	if s != nil {
		elem = s.Elem()
	}
	for n := 0; ; n++ {
		sc.ws()
		if sc.b[sc.i] == ']' {
			sc.i++
			return nil
		}
		if err := sc.child(elem, path, strconv.Itoa(n)); err != nil {
			return err
		}
		sc.ws()
		if sc.b[sc.i] == ',' {
			sc.i++
		}
	}
}

// child reads the value of key (or index) k; the path is built only for objects and arrays below.
func (sc *scanner) child(s Shape, path, k string) error {
	sc.ws()
	if c := sc.b[sc.i]; c == '{' || c == '[' {
		return sc.value(s, join(path, k))
	}
	return sc.value(nil, "")
}

// manyKeys is where an object's repeat check switches from pairwise comparison to a map.
const manyKeys = 32

func (sc *scanner) object(s Shape, path string) error {
	sc.i++
	free := s == nil || s.Map()
	var names []string
	if !free {
		names = s.Names()
	}
	var keys []string
	var folded map[string]string // key (folded in a record) → key as sent, once there are many keys
	for {
		sc.ws()
		if sc.b[sc.i] == '}' {
			sc.i++
			return nil
		}
		k := sc.str(true)
		sc.ws()
		sc.i++ // ':'
		if prev, dup := repeated(keys, folded, k, free); dup {
			if prev == k {
				return &Error{Path: path, Msg: fmt.Sprintf("field %q: the key appears more than once", join(path, k))}
			}
			return &Error{Path: path, Msg: fmt.Sprintf("fields %q and %q differ only in case: keys are case-sensitive, send one", join(path, prev), join(path, k))}
		}
		switch {
		case folded != nil:
			folded[mapKey(k, free)] = k
		case len(keys) == manyKeys:
			folded = make(map[string]string, 2*manyKeys)
			for _, p := range keys {
				folded[mapKey(p, free)] = p
			}
			folded[mapKey(k, free)] = k
		default:
			keys = append(keys, k)
		}
		if !free && !slices.Contains(names, k) {
			for _, n := range names {
				if strings.EqualFold(n, k) {
					return &Error{Path: path, Msg: fmt.Sprintf("field %q: keys are case-sensitive: did you mean %s?", join(path, k), n)}
				}
			}
		}
		var sub Shape
		if s != nil {
			sub = s.Field(k)
		}
		if err := sc.child(sub, path, k); err != nil {
			return err
		}
		sc.ws()
		if sc.b[sc.i] == ',' {
			sc.i++
		}
	}
}

// repeated returns an earlier key that k repeats: the same key, or in a record one equal under
// encoding/json's folding (strings.EqualFold is the same relation as its foldName).
func repeated(keys []string, folded map[string]string, k string, free bool) (string, bool) {
	if folded != nil {
		p, ok := folded[mapKey(k, free)]
		return p, ok
	}
	for _, p := range keys {
		if p == k || (!free && strings.EqualFold(p, k)) {
			return p, true
		}
	}
	return "", false
}

func mapKey(k string, free bool) string {
	if free {
		return k
	}
	return fold(k)
}

// fold maps keys that encoding/json treats as equal to one string (its foldName: ASCII upper case, other
// runes to the smallest rune of their fold set, so "ſendID" and "SENDID" meet "sendID").
func fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r < utf8.RuneSelf {
			if 'a' <= r && r <= 'z' {
				r -= 'a' - 'A'
			}
			b.WriteRune(r)
			continue
		}
		for {
			r2 := unicode.SimpleFold(r)
			if r2 <= r {
				r = r2
				break
			}
			r = r2
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Unmarshal checks data against v's Go type (TypeShape) and then decodes it into v with encoding/json.
// The check's error comes first, as if it ran first; it runs second only so that the text is validated once
// (by json.Unmarshal).
func Unmarshal(data []byte, v any) error {
	err := json.Unmarshal(data, v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return err
	}
	if cerr := CheckValid(data, TypeShape(reflect.TypeOf(v))); cerr != nil {
		return cerr
	}
	return err
}

// TypeShape is the Shape encoding/json gives a Go type: struct fields by their json names (embedded
// structs promoted), maps free, slices and arrays by element; json.RawMessage and interfaces unknown.
func TypeShape(t reflect.Type) Shape {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return nil
	}
	if v, ok := typeShapes.Load(t); ok {
		return v.(Shape)
	}
	var s Shape
	switch t.Kind() {
	case reflect.Struct:
		ts := &structShape{fields: map[string]reflect.Type{}}
		collect(t, ts, map[reflect.Type]bool{})
		s = ts
	case reflect.Map:
		s = mapShape{elem: t.Elem()}
	case reflect.Slice, reflect.Array:
		if t == rawMessage || t.Elem().Kind() == reflect.Uint8 {
			return nil
		}
		s = sliceShape{elem: t.Elem()}
	default:
		return nil
	}
	typeShapes.Store(t, s)
	return s
}

var (
	typeShapes sync.Map // reflect.Type → Shape
	rawMessage = reflect.TypeOf(json.RawMessage(nil))
)

type structShape struct {
	names  []string
	fields map[string]reflect.Type
}

func (s *structShape) Names() []string        { return s.names }
func (s *structShape) Map() bool              { return false }
func (s *structShape) Elem() Shape            { return nil }
func (s *structShape) Field(key string) Shape { return TypeShape(s.fields[key]) }

// collect adds t's json fields to s; fields of the outer struct win over promoted ones.
func collect(t reflect.Type, s *structShape, visiting map[reflect.Type]bool) {
	if visiting[t] {
		return
	}
	visiting[t] = true
	var embedded []reflect.Type
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			embedded = append(embedded, ft)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, ok := s.fields[name]; !ok {
			s.fields[name] = f.Type
			s.names = append(s.names, name)
		}
	}
	for _, e := range embedded {
		collect(e, s, visiting)
	}
}

type mapShape struct{ elem reflect.Type }

func (m mapShape) Names() []string    { return nil }
func (m mapShape) Map() bool          { return true }
func (m mapShape) Elem() Shape        { return nil }
func (m mapShape) Field(string) Shape { return TypeShape(m.elem) }

type sliceShape struct{ elem reflect.Type }

func (l sliceShape) Names() []string    { return nil }
func (l sliceShape) Map() bool          { return false }
func (l sliceShape) Elem() Shape        { return TypeShape(l.elem) }
func (l sliceShape) Field(string) Shape { return nil }

// Describe turns an encoding/json error into a message without Go type names: the JSON path and the
// JSON type wanted.
func Describe(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "request body"
		} else {
			field = strconv.Quote(field)
		}
		return fmt.Sprintf("field %s: %s is not %s", field, te.Value, jsonType(te.Type))
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON at byte %d: %s", se.Offset, se.Error())
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Msg
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "invalid JSON: the text ends too early"
	}
	return "invalid JSON"
}

// jsonType names what a Go type accepts in JSON words.
func jsonType(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "a valid value"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return fmt.Sprintf("an integer that fits in %d bits", t.Bits())
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a valid value"
}
