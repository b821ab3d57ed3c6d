package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

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
		path, _, _ = strings.Cut(strings.NewReplacer("{conv}", "c", "{msg}", "msg_x", "{webhook}", "wh_x", "{event}", "evt_x").Replace(path), "?")
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
