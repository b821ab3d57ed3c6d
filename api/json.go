package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	parley "github.com/parley-chat/parley"
)

// MaxBodyBytes is the largest request body.
const MaxBodyBytes = 1 << 20

// decode reads a JSON body into v: application/json only, at most
// MaxBodyBytes, no unknown fields, nothing after the value. An empty body is
// taken as {} when optional is set. Validation is the service's.
func decode(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
	if r.ContentLength > MaxBodyBytes {
		return parley.Errorf(parley.ETooLarge, "The body is larger than %d bytes.", MaxBodyBytes)
	}
	hasBody := r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody
	if hasBody {
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "application/json" {
			return parley.Errorf(parley.EUnsupportedMedia, "The body must be sent as application/json.")
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

// decodeJSON reads one JSON value into v: exact field names, each once (no
// two parsers read it differently), no unknown fields, nothing after it.
// Empty is {} when optional is set.
func decodeJSON(raw []byte, v any, optional bool) error {
	if err := parley.CheckJSON(raw, v); err != nil {
		return parley.Errorf(parley.EInvalid, "The body is not valid: %s.", err)
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
		return parley.Errorf(parley.EInvalid, "The body is not valid: %s.", jsonProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return parley.Errorf(parley.EInvalid, "The body must hold exactly one JSON value.")
	}
	return nil
}

// jsonProblem describes a decoding error without echoing Go type names.
func jsonProblem(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("malformed JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ) && typ.Field != "":
		return fmt.Sprintf("field %q has the wrong type", typ.Field)
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

// writeJSON writes v with the status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ok writes a 200 with v.
func ok(w http.ResponseWriter, v any) { writeJSON(w, http.StatusOK, v) }

// empty is the body of a call with nothing to return.
var empty = struct{}{}
