package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"

	parley "github.com/parley-chat/parley"
)

// MaxBodyBytes is the largest request body.
const MaxBodyBytes = 1 << 20

// decode reads a JSON body into v: application/json in UTF-8 only, at most
// MaxBodyBytes, no unknown fields, nothing after the value. An empty body,
// or null, is taken as {} when optional is set. Validation is the service's.
func decode(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
	if r.ContentLength > MaxBodyBytes {
		return parley.Errorf(parley.ETooLarge, "The body is larger than %d bytes.", MaxBodyBytes)
	}
	hasBody := r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody
	if hasBody {
		mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if charset, ok := params["charset"]; err != nil || mt != "application/json" || ok && !utf8Charset(charset) {
			return parley.Errorf(parley.EUnsupportedMedia, "The body must be sent as application/json, in UTF-8.")
		}
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return parley.Errorf(parley.ETooLarge, "The body is larger than %d bytes.", MaxBodyBytes)
	} else if err != nil {
		return parley.Errorf(parley.EInvalid, "The body could not be read.")
	}
	return decodeJSON(raw, v, optional)
}

// utf8Charset reports whether a charset parameter names UTF-8, or ASCII,
// which is UTF-8 too. (JSON has no charset parameter; some clients send one.)
func utf8Charset(name string) bool {
	switch strings.ToLower(name) {
	case "utf-8", "utf8", "us-ascii":
		return true
	}
	return false
}

// decodeJSON reads one JSON value into v: UTF-8, exact field names, each
// once (no two parsers read it differently), no unknown fields, nothing
// after it. Empty, or null, is {} when optional is set, else refused.
func decodeJSON(raw []byte, v any, optional bool) error {
	if !utf8.Valid(raw) {
		// encoding/json would read each bad byte as U+FFFD; others may not.
		return parley.Errorf(parley.EInvalid, "The body is not valid UTF-8.")
	}
	if err := parley.CheckJSON(raw, v); err != nil {
		return parley.Errorf(parley.EInvalid, "The body is not valid: %s.", err)
	}
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		// What a backend's encoder makes of a nil map or pointer: no body.
		raw = nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		switch {
		case errors.Is(err, io.EOF) && optional:
			return nil
		case errors.Is(err, io.EOF):
			return parley.Errorf(parley.EInvalid, "The request needs a JSON body.")
		}
		return parley.Errorf(parley.EInvalid, "The body is not valid: %s.", jsonProblem(err, reflect.TypeOf(v)))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return parley.Errorf(parley.EInvalid, "The body must hold exactly one JSON value.")
	}
	return nil
}

// jsonProblem describes a decoding error of a value of type t without
// echoing Go type names.
func jsonProblem(err error, t reflect.Type) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("malformed JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ) && typ.Field != "":
		return fmt.Sprintf("field %q has the wrong type", jsonPath(t, typ.Field))
	case errors.As(err, &typ):
		return "a value has the wrong type"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends too early"
	}
	if msg := err.Error(); strings.HasPrefix(msg, "json: unknown field ") {
		return "unknown field " + strings.TrimPrefix(msg, "json: unknown field ")
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// jsonPath is encoding/json's dotted path to a field of t, less the Go
// names of embedded structs, which it puts in ("Restriction.reason").
func jsonPath(t reflect.Type, path string) string {
	var out []string
	for _, name := range strings.Split(path, ".") {
		for t != nil && (t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			t = t.Elem()
		}
		switch {
		case t == nil:
		case t.Kind() == reflect.Map:
			t = t.Elem()
		case t.Kind() == reflect.Struct:
			if f, ok := t.FieldByName(name); ok && f.Anonymous {
				t = f.Type
				continue
			}
			t = jsonField(t, name)
		default:
			t = nil
		}
		out = append(out, name)
	}
	return strings.Join(out, ".")
}

// jsonField is the type of the field of struct t whose JSON name is name
// (promoted fields too), or nil.
func jsonField(t reflect.Type, name string) reflect.Type {
	for _, f := range reflect.VisibleFields(t) {
		if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); f.IsExported() && (tag == name || tag == "" && f.Name == name) {
			return f.Type
		}
	}
	return nil
}

// writeJSON writes v with the status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	// Answers are JSON, never HTML (nosniff): a link's "&" stays "&", as
	// someone copying it from a terminal needs it.
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// ok writes a 200 with v.
func ok(w http.ResponseWriter, v any) { writeJSON(w, http.StatusOK, v) }

// empty is the body of a call with nothing to return.
var empty = struct{}{}
