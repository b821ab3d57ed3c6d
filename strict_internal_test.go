package parley

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
)

// strictBody has every shape CheckJSON looks into: an embedded struct,
// an Optional of a struct, a slice of structs, maps, a skipped field.
type strictBody struct {
	strictEmbedded
	Name   string                  `json:"name"`
	Inner  Optional[strictInner]   `json:"inner"`
	Items  []strictInner           `json:"items"`
	Custom Custom                  `json:"custom"`
	ByID   map[string]*strictInner `json:"byId"`
	Skip   string                  `json:"-"`
	Opt    Optional[string]        `json:"opt"`
}

type strictInner struct {
	Size int `json:"size"`
}

type strictEmbedded struct {
	Reason string `json:"reason"`
}

// FuzzCheckJSON: on any JSON text, CheckJSON answers what it answered
// when it walked json.Decoder's tokens (tokenCheck, kept here as the
// oracle), to the word; on any bytes at all it returns.
func FuzzCheckJSON(f *testing.F) {
	for _, seed := range []string{
		`{"name":"a","reason":"r","inner":{"size":1},"items":[{"size":2}],"custom":{"K":"v","k":"w"},"byId":{"X":{"size":3}}}`,
		`{"unknown":1}`, `{"name":"a","name":"b"}`, `{"NAME":"a"}`, `{"Reason":"r"}`, `{"inner":{"Size":1}}`,
		`{"items":[{"size":1},{"SIZE":2}]}`, `{"custom":{"k":"1","k":"2"}}`, `{"byId":{"x":{"size":1,"size":2}}}`,
		`{"byId":{"x":{},"x":{}}}`, `{"Skip":"x"}`, `{"name":`, `[{"a":1,"a":2}]`,
		`{"na\u006de":"a","name":"b"}`, `{"name":"a\u0000"}`, `{"a\u0000":1}`, `{"name":"\\u0000"}`,
		`{"custom":{"\ud800":"x","\udbff":"y"}}`, "{\"k\xff\":1,\"k\xfe\":2}", `{"name":"a\"b","name":1}`,
		`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`, `{"opt":null,"items":[],"byId":{}}`,
		`{"name":-1.5e3,"name":true}`, ` { "name" : "a" , "reason" : [ 1 , 2 ] } `, `{} {"a":1,"a":1}`, `"x"`, `12`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got := CheckJSON(raw, &strictBody{})
		if !json.Valid(raw) {
			return // syntax is the decoder's: any answer will do, as long as there is one
		}
		want := tokenCheck(raw, &strictBody{})
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("CheckJSON(%q) = %v, the token walk says %v", raw, got, want)
		}
	})
}

// tokenCheck is CheckJSON as it was: a walk of json.Decoder's tokens.
func tokenCheck(raw []byte, into any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	err := walkTokens(dec, reflect.TypeOf(into), 0)
	var syntax *json.SyntaxError
	if errors.Is(err, io.EOF) || errors.As(err, &syntax) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil
	}
	return err
}

func walkTokens(dec *json.Decoder, t reflect.Type, depth int) error {
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
			field, err := memberType(t, key)
			if err != nil {
				return err
			}
			if err := walkTokens(dec, field, depth+1); err != nil {
				return err
			}
		}
		_, err := dec.Token()
		return err
	case json.Delim('['):
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for dec.More() {
			if err := walkTokens(dec, elem, depth+1); err != nil {
				return err
			}
		}
		_, err := dec.Token()
		return err
	}
	return nil
}

// BenchmarkCheckJSON checks a send's body, as CheckJSON does now and as
// the token walk did.
func BenchmarkCheckJSON(b *testing.B) {
	raw := []byte(`[{"type":"UserMessage","sender":"user00001","text":"bench message","custom":{"k":"v"},"idempotencyKey":"key1"}]`)
	into := &[]NewMessage{}
	for _, c := range []struct {
		name  string
		check func([]byte, any) error
	}{{"scan", CheckJSON}, {"tokens", tokenCheck}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if err := c.check(raw, into); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
