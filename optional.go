package parley

import (
	"bytes"
	"encoding/json"
)

// Optional is a JSON field that tells "absent", "null" and a value apart, so
// that a partial update can leave, clear or set a field.
type Optional[T any] struct {
	Set   bool // the field was in the body
	Null  bool // and it was null
	Value T
}

// UnmarshalJSON is only called when the field is present, null included.
func (o *Optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	// Strict like the request decoder: a nested object refuses unknown fields.
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(&o.Value)
}

// Some returns an Optional holding v.
func Some[T any](v T) Optional[T] { return Optional[T]{Set: true, Value: v} }

// Ptr returns nil for an absent or null field, else a pointer to its value.
func (o Optional[T]) Ptr() *T {
	if !o.Set || o.Null {
		return nil
	}
	v := o.Value
	return &v
}
