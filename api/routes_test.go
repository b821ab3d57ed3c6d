package api_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/go-chi/chi/v5"

	parley "github.com/parley-chat/parley"
	"github.com/parley-chat/parley/api"
)

// TestRouteCoverage walks the router: every route under /v1 has its
// operation in openapi.yaml and a row in the authorization matrix
// (clientRoutes for the client surface, adminRoutes for the backend), so
// that no route escapes the spec check or the matrix.
func TestRouteCoverage(t *testing.T) {
	t.Parallel()
	routes, ok := (&api.Server{}).Handler().(chi.Routes)
	if !ok {
		t.Fatal("Handler does not return a chi router")
	}
	doc, err := specDoc()
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}

	// The matrix lists concrete paths; the router names their patterns.
	listed := map[string]bool{} // "list METHOD pattern"
	mark := func(list, method, path string) {
		path, _, _ = strings.Cut(strings.NewReplacer("{conv}", "c", "{msg}", "msg_x", "{webhook}", "wh_x", "{event}", "evt_x", "{report}", "rep_x").Replace(path), "?")
		pattern := routes.Find(chi.NewRouteContext(), method, path)
		if pattern == "" {
			t.Errorf("%s: %s %s matches no route", list, method, path)
		}
		listed[list+" "+method+" "+pattern] = true
	}
	for _, rt := range clientRoutes {
		mark("clientRoutes", rt.method, "/v1/app/me"+rt.path)
	}
	for _, rt := range adminRoutes {
		mark("adminRoutes", rt.method, "/v1/app"+rt.path)
	}

	n := 0
	err = chi.Walk(routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if !strings.HasPrefix(route, "/v1/") {
			return nil // /healthz, /readyz, /openapi.yaml
		}
		n++
		if item := doc.Paths.Value(route); item == nil || item.GetOperation(method) == nil {
			t.Errorf("%s %s: no operation in openapi.yaml", method, route)
		}
		if publicRoutes[method+" "+route] {
			return nil // no credential: nothing for the matrix to try
		}
		list := "adminRoutes"
		if route == "/v1/{appId}/me" || strings.HasPrefix(route, "/v1/{appId}/me/") {
			list = "clientRoutes"
		}
		if !listed[list+" "+method+" "+route] {
			t.Errorf("%s %s: not in %s, so the authorization matrix never tries it", method, route, list)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("the walk found no route under /v1")
	}
}

// publicRoutes take no credential: a download link is its own (TestFileLinks).
var publicRoutes = map[string]bool{"GET /v1/{appId}/files/{fileId}": true}

// TestSpecForTools checks what the tools people feed openapi.yaml to
// (Redocly, Prism, client generators) rely on and a loader alone lets
// through: an operationId on every operation, unique; no YAML merge keys,
// which YAML 1.2 parsers ignore; null among the values of a nullable enum,
// without which validators refuse the null; every tag declared.
func TestSpecForTools(t *testing.T) {
	t.Parallel()
	doc, err := specDoc()
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	if strings.Contains(string(parley.OpenAPI), "<<:") {
		t.Error("openapi.yaml uses a YAML merge key (<<:): YAML 1.2 parsers drop what it merges")
	}
	declared := map[string]bool{}
	for _, tag := range doc.Tags {
		declared[tag.Name] = true
	}
	ids := map[string]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			switch prev, seen := ids[op.OperationID]; {
			case op.OperationID == "":
				t.Errorf("%s has no operationId", where)
			case seen:
				t.Errorf("%s and %s share the operationId %q", prev, where, op.OperationID)
			default:
				ids[op.OperationID] = where
			}
			for _, tag := range op.Tags {
				if !declared[tag] {
					t.Errorf("%s: tag %q is not declared", where, tag)
				}
			}
		}
	}
	var nullable func(where string, s *openapi3.Schema, seen map[*openapi3.Schema]bool)
	nullable = func(where string, s *openapi3.Schema, seen map[*openapi3.Schema]bool) {
		if s == nil || seen[s] {
			return
		}
		seen[s] = true
		if s.Nullable && len(s.Enum) > 0 && !slices.Contains(s.Enum, nil) {
			t.Errorf("%s: a nullable enum without null among its values", where)
		}
		for name, p := range s.Properties {
			nullable(where+"."+name, p.Value, seen)
		}
		for _, list := range [][]*openapi3.SchemaRef{s.AllOf, s.OneOf, s.AnyOf} {
			for _, r := range list {
				nullable(where, r.Value, seen)
			}
		}
		if s.Items != nil {
			nullable(where+"[]", s.Items.Value, seen)
		}
		if s.AdditionalProperties.Schema != nil {
			nullable(where+"{}", s.AdditionalProperties.Schema.Value, seen)
		}
	}
	seen := map[*openapi3.Schema]bool{}
	for name, s := range doc.Components.Schemas {
		nullable(name, s.Value, seen)
	}
}
