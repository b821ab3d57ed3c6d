package parley

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Limits of a custom map.
const (
	MaxCustomKeys       = 50
	MaxCustomKeyBytes   = 64
	MaxCustomValueBytes = 1024
)

// Custom is free-form data a caller attaches: string keys to string values.
type Custom map[string]string

// UnmarshalJSON refuses null and non-string values, which a plain
// map[string]string would silently turn into "".
func (c *Custom) UnmarshalJSON(b []byte) error {
	var raw map[string]*string
	if err := json.Unmarshal(b, &raw); err != nil {
		return errors.New("custom must be an object of strings")
	}
	if raw == nil {
		*c = nil
		return nil
	}
	out := make(Custom, len(raw))
	for k, v := range raw {
		if v == nil {
			return fmt.Errorf("custom value of %q must be a string", k)
		}
		out[k] = *v
	}
	*c = out
	return nil
}

// MarshalJSON writes an empty object for a nil map.
func (c Custom) MarshalJSON() ([]byte, error) {
	if len(c) == 0 {
		return []byte("{}"), nil
	}
	return json.Marshal(map[string]string(c))
}

// Validate checks the size limits of the contract.
func (c Custom) Validate() error {
	if len(c) > MaxCustomKeys {
		return fmt.Errorf("has more than %d keys", MaxCustomKeys)
	}
	for k, v := range c {
		if len(k) == 0 || len(k) > MaxCustomKeyBytes {
			return fmt.Errorf("keys must be 1 to %d bytes", MaxCustomKeyBytes)
		}
		if len(v) > MaxCustomValueBytes {
			return fmt.Errorf("values must be at most %d bytes", MaxCustomValueBytes)
		}
	}
	return nil
}

// orEmpty is c, or an empty Custom for none: stored and shown as {}.
func (c Custom) orEmpty() Custom {
	if c == nil {
		return Custom{}
	}
	return c
}
