package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"github.com/go-playground/validator/v10"

	parley "github.com/parley-chat/parley"
)

// MaxBodyBytes is the largest request body.
const MaxBodyBytes = 1 << 20

// validate is the one validator instance; json names are used in field errors.
var validate = newValidator()

func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			return ""
		}
		return name
	})
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	must(v.RegisterValidation("userid", func(fl validator.FieldLevel) bool { return parley.ValidUserID(fl.Field().String()) }))
	must(v.RegisterValidation("messageid", func(fl validator.FieldLevel) bool { return parley.ValidMessageID(fl.Field().String()) }))
	must(v.RegisterValidation("custom", func(fl validator.FieldLevel) bool {
		c, ok := fl.Field().Interface().(parley.Custom)
		return !ok || c.Validate() == nil
	}))
	return v
}

// validator tags turned into sentences for the fields of an error.
func fieldProblem(e validator.FieldError) string {
	switch e.Tag() {
	case "required":
		return "is required"
	case "oneof":
		return "must be one of: " + e.Param()
	case "min":
		return "must be at least " + e.Param() + sizeUnit(e.Kind())
	case "max":
		return "must be at most " + e.Param() + sizeUnit(e.Kind())
	case "userid":
		return "must be 1 to 255 of A-Z a-z 0-9 _ - . @ : + = ~ (and not \"search\")"
	case "messageid":
		return "must be a message id (msg_ and 22 letters or digits)"
	case "custom":
		return fmt.Sprintf("must have at most %d keys of 1 to %d bytes with values of at most %d bytes",
			parley.MaxCustomKeys, parley.MaxCustomKeyBytes, parley.MaxCustomValueBytes)
	}
	return "is invalid (" + e.Tag() + ")"
}

func sizeUnit(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return " characters"
	case reflect.Slice, reflect.Map, reflect.Array:
		return " items"
	}
	return ""
}

// check validates v's tags, then its own Validate method, prefixing field
// names with prefix (such as "0." for the first item of a list).
func check(v any, prefix string) error {
	if err := validate.Struct(v); err != nil {
		var verrs validator.ValidationErrors
		if !errors.As(err, &verrs) {
			return fmt.Errorf("validate: %w", err)
		}
		fields := map[string]string{}
		for _, e := range verrs {
			ns := e.Namespace()
			if _, rest, ok := strings.Cut(ns, "."); ok {
				ns = rest
			}
			fields[prefix+ns] = fieldProblem(e)
		}
		return &parley.Error{Code: parley.EInvalid, Message: "The request is invalid.", Fields: fields}
	}
	if vv, ok := v.(interface{ Validate() error }); ok {
		if err := vv.Validate(); err != nil {
			var e *parley.Error
			if errors.As(err, &e) && prefix != "" {
				fields := map[string]string{}
				for k, msg := range e.Fields {
					fields[prefix+k] = msg
				}
				return &parley.Error{Code: e.Code, Message: e.Message, Fields: fields}
			}
			return err
		}
	}
	return nil
}

// decode reads a JSON body into v: application/json only, at most
// MaxBodyBytes, no unknown fields, nothing after the value. An empty body is
// taken as {} when optional is set. Structs are then validated.
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
	body := http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			return parley.Errorf(parley.ETooLarge, "The body is larger than %d bytes.", MaxBodyBytes)
		case errors.Is(err, io.EOF) && optional:
			return checkBody(v)
		case errors.Is(err, io.EOF):
			return parley.Errorf(parley.EInvalid, "The request needs a JSON body.")
		}
		return parley.Errorf(parley.EInvalid, "The body is not valid: %s.", jsonProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return parley.Errorf(parley.ETooLarge, "The body is larger than %d bytes.", MaxBodyBytes)
		}
		return parley.Errorf(parley.EInvalid, "The body must hold exactly one JSON value.")
	}
	return checkBody(v)
}

func checkBody(v any) error {
	if reflect.Indirect(reflect.ValueOf(v)).Kind() == reflect.Struct {
		return check(v, "")
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
