package parley

import _ "embed" // for the OpenAPI document

// OpenAPI is the contract of the wire, served at /openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte
