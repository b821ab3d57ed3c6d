package parley

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// CheckJSON refuses what encoding/json would quietly accept and another
// parser would read differently: a key given twice in one object, and a
// field name that matches the type's only when case is ignored ("NAME" for
// "name"). into is what raw will be decoded into. Keys of maps are free;
// object keys of a struct must be the exact JSON names of its fields.
// Syntax errors are left to the decoder.
func CheckJSON(raw []byte, into any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	err := walkJSON(dec, reflect.TypeOf(into), 0)
	if errors.Is(err, io.EOF) || isSyntax(err) {
		return nil
	}
	return err
}

// errNUL refuses the NUL character in any string of a body: PostgreSQL
// cannot store it, and no text needs it, so neither store takes it.
var errNUL = errors.New(`strings must not hold the NUL character (\u0000)`)

func isSyntax(err error) bool {
	var syntax *json.SyntaxError
	return errors.As(err, &syntax) || errors.Is(err, io.ErrUnexpectedEOF)
}

// MaxJSONDepth is how deeply objects and arrays may nest in a body: no
// request needs more, and a deeper one costs stack for nothing.
const MaxJSONDepth = 32

// walkJSON reads one value from dec, checking it against t (nil: anything).
func walkJSON(dec *json.Decoder, t reflect.Type, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if s, ok := tok.(string); ok && strings.ContainsRune(s, 0) {
		return errNUL
	}
	if (tok == json.Delim('{') || tok == json.Delim('[')) && depth >= MaxJSONDepth {
		return fmt.Errorf("objects and arrays nest more than %d deep", MaxJSONDepth)
	}
	t = valueType(t)
	switch tok {
	case json.Delim('{'):
		return walkObject(dec, t, depth+1)
	case json.Delim('['):
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for dec.More() {
			if err := walkJSON(dec, elem, depth+1); err != nil {
				return err
			}
		}
		_, err := dec.Token() // ]
		return err
	}
	return nil
}

func walkObject(dec *json.Decoder, t reflect.Type, depth int) error {
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		if strings.ContainsRune(key, 0) {
			return errNUL
		}
		if seen[key] {
			return fmt.Errorf("the field %q is given twice", key)
		}
		seen[key] = true
		var field reflect.Type
		switch {
		case t == nil:
		case t.Kind() == reflect.Map:
			field = t.Elem()
		case t.Kind() == reflect.Struct:
			f, ok := fieldByJSONName(t, key)
			if !ok {
				if _, near := fieldByFoldedName(t, key); near {
					return fmt.Errorf("unknown field %q (field names are case-sensitive)", key)
				}
				// Truly unknown fields are the decoder's to refuse, or not.
			}
			field = f
		}
		if err := walkJSON(dec, field, depth); err != nil {
			return err
		}
	}
	_, err := dec.Token() // }
	return err
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
