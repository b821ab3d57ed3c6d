package parley

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/go-playground/validator/v10"
)

// validate is the one validator instance, with the tags of this package
// registered when the package loads; field errors use JSON names.
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
	must(v.RegisterValidation("userid", func(fl validator.FieldLevel) bool { return ValidUserID(fl.Field().String()) }))
	must(v.RegisterValidation("messageid", func(fl validator.FieldLevel) bool { return ValidMessageID(fl.Field().String()) }))
	must(v.RegisterValidation("custom", func(fl validator.FieldLevel) bool {
		c, ok := fl.Field().Interface().(Custom)
		return !ok || c.Validate() == nil
	}))
	return v
}

// Check validates v's struct tags, then its own Validate method when it has
// one, naming fields with prefix before them (such as "0." for the first
// item of a list). It answers a request.invalid error.
func Check(v any, prefix string) error {
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
		return &Error{Code: EInvalid, Message: "The request is invalid.", Fields: fields}
	}
	if vv, ok := v.(interface{ Validate() error }); ok {
		if err := vv.Validate(); err != nil {
			return prefixFields(err, prefix)
		}
	}
	return nil
}

// prefixFields puts prefix before the field names of an application error.
func prefixFields(err error, prefix string) error {
	var e *Error
	if prefix == "" || !errors.As(err, &e) || len(e.Fields) == 0 {
		return err
	}
	fields := make(map[string]string, len(e.Fields))
	for k, msg := range e.Fields {
		fields[prefix+k] = msg
	}
	return &Error{Code: e.Code, Message: e.Message, Fields: fields}
}

// fieldProblem turns a validator tag into a sentence.
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
			MaxCustomKeys, MaxCustomKeyBytes, MaxCustomValueBytes)
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
