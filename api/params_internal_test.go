package api

import (
	"log/slog"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/getkin/kin-openapi/openapi3"

	parley "github.com/parley-chat/parley"
)

// TestQueryParamsMatchSpec: the query parameters the server takes are
// exactly openapi.yaml's, route by route.
func TestQueryParamsMatchSpec(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(parley.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	inSpec := map[route]bool{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if method == "OPTIONS" || method == "HEAD" {
				continue
			}
			var names []string
			for _, params := range []openapi3.Parameters{item.Parameters, op.Parameters} {
				for _, p := range params {
					if p.Value.In == openapi3.ParameterInQuery {
						names = append(names, p.Value.Name)
					}
				}
			}
			key := route{method, path}
			if len(names) == 0 {
				if _, ok := queryParams[key]; ok {
					t.Errorf("%s takes %v here and no query parameter in openapi.yaml", key, queryParams[key])
				}
				continue
			}
			inSpec[key] = true
			got := slices.Sorted(slices.Values(queryParams[key]))
			if slices.Sort(names); !slices.Equal(got, names) {
				t.Errorf("%s takes %v here, %v in openapi.yaml", key, got, names)
			}
		}
	}
	// And each is a route the router has, by the pattern it reports.
	routed := map[route]bool{}
	s := &Server{Now: time.Now, Logger: slog.New(slog.DiscardHandler)}
	if err := chi.Walk(s.Handler().(chi.Routes), func(method, pattern string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routed[route{method, pattern}] = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for key := range queryParams {
		if !inSpec[key] {
			t.Errorf("%s takes query parameters here but not in openapi.yaml", key)
		}
		if !routed[key] {
			t.Errorf("%s takes query parameters here but is no route of the router", key)
		}
	}
}
