package parley

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"
)

// CheckJSON refuses what encoding/json would quietly accept and another
// parser would read differently: a key given twice in one object, and a
// field name that matches the type's only when case is ignored ("NAME" for
// "name"). into is what raw will be decoded into. Keys of maps are free;
// object keys of a struct must be the exact JSON names of its fields.
// Syntax errors are left to the decoder: the check accepts where it meets
// one. It reads numbers, literals and white space loosely, so a body that
// is not JSON may also be refused for what comes after such an error (a
// key given twice after "01"): refused either way. It reads the first
// value of raw only.
//
// It scans the bytes itself, for their structure and strings only, and
// leaves the strings with escapes, and numbers and literals, to
// encoding/json: json.Decoder's Token decoded every key and value apart,
// which cost more than decoding the whole body.
func CheckJSON(raw []byte, into any) error {
	s := strictScan{raw: raw}
	if err := s.value(reflect.TypeOf(into), 0); err != errSyntax {
		return err
	}
	return nil
}

// errNUL refuses the NUL character in any string of a body: PostgreSQL
// cannot store it, and no text needs it, so neither store takes it.
var errNUL = errors.New(`strings must not hold the NUL character (\u0000)`)

// errSyntax ends a check at bytes that are not JSON: the decoder refuses
// them with its own words.
var errSyntax = errors.New("not JSON")

// MaxJSONDepth is how deeply objects and arrays may nest in a body: no
// request needs more, and a deeper one costs stack for nothing.
const MaxJSONDepth = 32

// strictScan reads a JSON text for CheckJSON.
type strictScan struct {
	raw []byte
	i   int // the next byte
}

// next skips white space and returns the next byte, 0 at the end.
func (s *strictScan) next() byte {
	for ; s.i < len(s.raw); s.i++ {
		switch c := s.raw[s.i]; c {
		case ' ', '\t', '\n', '\r':
		default:
			return c
		}
	}
	return 0
}

// value reads one value, checking it against t (nil: anything). depth
// counts the objects and arrays around it.
func (s *strictScan) value(t reflect.Type, depth int) error {
	switch c := s.next(); c {
	case '{', '[':
		if depth >= MaxJSONDepth {
			return fmt.Errorf("objects and arrays nest more than %d deep", MaxJSONDepth)
		}
		s.i++
		if c == '{' {
			return s.object(valueType(t), depth+1)
		}
		return s.array(valueType(t), depth+1)
	case '"':
		_, err := s.str(false)
		return err
	case 0:
		return errSyntax
	}
	// A number, true, false or null: its bytes up to the next delimiter
	// are the decoder's to judge.
	start := s.i
	for s.i < len(s.raw) && !strings.ContainsRune(" \t\n\r,:]}[{\"", rune(s.raw[s.i])) {
		s.i++
	}
	if s.i == start {
		return errSyntax
	}
	return nil
}

// object reads an object's members after its {.
func (s *strictScan) object(t reflect.Type, depth int) error {
	if s.next() == '}' {
		s.i++
		return nil
	}
	var seen map[string]bool
	for {
		if s.next() != '"' {
			return errSyntax
		}
		key, err := s.str(true)
		if err != nil {
			return err
		}
		if seen[key] {
			return fmt.Errorf("the field %q is given twice", key)
		}
		if seen == nil {
			seen = map[string]bool{}
		}
		seen[key] = true
		field, err := memberType(t, key)
		if err != nil {
			return err
		}
		if s.next() != ':' {
			return errSyntax
		}
		s.i++
		if err := s.value(field, depth); err != nil {
			return err
		}
		switch s.next() {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return errSyntax
		}
	}
}

// memberType is the type of the member key of an object read into t (nil:
// anything), or the error of a key that matches a field's name only when
// case is ignored.
func memberType(t reflect.Type, key string) (reflect.Type, error) {
	switch {
	case t == nil:
		return nil, nil
	case t.Kind() == reflect.Map:
		return t.Elem(), nil
	case t.Kind() == reflect.Struct:
		f, ok := fieldByJSONName(t, key)
		if !ok {
			if _, near := fieldByFoldedName(t, key); near {
				return nil, fmt.Errorf("unknown field %q (field names are case-sensitive)", key)
			}
			// Truly unknown fields are the decoder's to refuse, or not.
		}
		return f, nil
	}
	return nil, nil
}

// array reads an array's elements after its [.
func (s *strictScan) array(t reflect.Type, depth int) error {
	var elem reflect.Type
	if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
		elem = t.Elem()
	}
	if s.next() == ']' {
		s.i++
		return nil
	}
	for {
		if err := s.value(elem, depth); err != nil {
			return err
		}
		switch s.next() {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return errSyntax
		}
	}
}

// str reads the string that starts at the next byte (a quote) and, when
// keep is set, returns it as the decoder will read it. One with escapes or
// with bytes that are not UTF-8 is read by encoding/json itself.
func (s *strictScan) str(keep bool) (string, error) {
	start := s.i
	plain := true
	for s.i++; s.i < len(s.raw); s.i++ {
		switch c := s.raw[s.i]; {
		case c == '"':
			s.i++
			quoted := s.raw[start:s.i]
			if plain && utf8.Valid(quoted) {
				if !keep {
					return "", nil
				}
				return string(quoted[1 : len(quoted)-1]), nil
			}
			var out string
			if err := json.Unmarshal(quoted, &out); err != nil {
				return "", errSyntax
			}
			if strings.IndexByte(out, 0) >= 0 {
				return "", errNUL
			}
			return out, nil
		case c == '\\':
			plain = false
			s.i++ // the escaped byte; a \u's digits are plain bytes
		case c < 0x20:
			return "", errSyntax // a control character must be escaped
		}
	}
	return "", errSyntax
}

// valueType looks through pointers and through Optional[T] (a struct of
// Set, Null and Value with its own UnmarshalJSON) to what the JSON holds.
func valueType(t reflect.Type) reflect.Type {
	for t != nil {
		switch {
		case t.Kind() == reflect.Pointer:
			t = t.Elem()
		case t.Kind() == reflect.Struct && strings.HasPrefix(t.Name(), "Optional["):
			f, _ := t.FieldByName("Value")
			t = f.Type
		default:
			return t
		}
	}
	return nil
}

// fieldByJSONName finds the field, embedded ones included, whose JSON name
// is exactly name.
func fieldByJSONName(t reflect.Type, name string) (reflect.Type, bool) {
	return findField(t, func(n string) bool { return n == name })
}

func fieldByFoldedName(t reflect.Type, name string) (reflect.Type, bool) {
	return findField(t, func(n string) bool { return strings.EqualFold(n, name) })
}

func findField(t reflect.Type, match func(string) bool) (reflect.Type, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == "-" || !f.IsExported() && !f.Anonymous {
			continue
		}
		if f.Anonymous && tag == "" {
			if et := valueType(f.Type); et != nil && et.Kind() == reflect.Struct {
				if ft, ok := findField(et, match); ok {
					return ft, true
				}
			}
			continue
		}
		if tag == "" {
			tag = f.Name
		}
		if match(tag) {
			return f.Type, true
		}
	}
	return nil, false
}
