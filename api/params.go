package api

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"

	parley "github.com/parley-chat/parley"
)

// queryParams are the query parameters each route takes, by method and
// route pattern: openapi.yaml's (TestQueryParamsMatchSpec holds them
// equal). Any other is refused, not ignored: a backend written for another
// API (TalkJS's orderBy or filter) learns that Parley does not do it,
// instead of getting an answer it did not ask for.
var queryParams = map[route][]string{
	{"GET", "/v1/{appId}/users"}:                                      {"limit", "startingAfter", "ids", "externalIds"},
	{"GET", "/v1/{appId}/users/search"}:                               {"q", "badge", "page"},
	{"DELETE", "/v1/{appId}/users/{userId}"}:                          {"eraseMessages"},
	{"GET", "/v1/{appId}/users/{userId}/conversations"}:               {"limit", "startingAfter", "unreadsOnly", "lastMessageAfter", "lastMessageBefore"},
	{"GET", "/v1/{appId}/conversations"}:                              {"limit", "startingAfter"},
	{"GET", "/v1/{appId}/conversations/{conversationId}/messages"}:    {"limit", "startingAfter"},
	{"GET", "/v1/{appId}/events"}:                                     {"since", "wait", "types"},
	{"GET", "/v1/{appId}/files/{fileId}"}:                             {"expires", "signature"},
	{"GET", "/v1/{appId}/moderation/log"}:                             {"userId", "limit", "startingAfter"},
	{"GET", "/v1/{appId}/moderation/reports"}:                         {"status", "limit", "startingAfter"},
	{"GET", "/v1/{appId}/moderation/users"}:                           {"state", "limit", "startingAfter"},
	{"GET", "/v1/{appId}/webhooks"}:                                   {"limit", "startingAfter"},
	{"GET", "/v1/{appId}/webhooks/{webhookId}/deliveries"}:            {"status", "limit", "startingAfter"},
	{"GET", "/v1/{appId}/me/users"}:                                   {"limit", "startingAfter", "ids", "externalIds"},
	{"GET", "/v1/{appId}/me/users/search"}:                            {"q", "badge", "page"},
	{"GET", "/v1/{appId}/me/conversations"}:                           {"limit", "startingAfter", "unreadsOnly", "lastMessageAfter", "lastMessageBefore"},
	{"GET", "/v1/{appId}/me/conversations/{conversationId}/messages"}: {"limit", "startingAfter"},
	{"GET", "/v1/{appId}/me/events"}:                                  {"since", "wait"},
	{"GET", "/v1/{appId}/me/moderation/log"}:                          {"userId", "limit", "startingAfter"},
	{"GET", "/v1/{appId}/me/moderation/reports"}:                      {"status", "limit", "startingAfter"},
	{"GET", "/v1/{appId}/me/moderation/users"}:                        {"state", "limit", "startingAfter"},
}

// route is a route by method and pattern, as chi reports it.
type route struct{ method, pattern string }

// checkQueryNames refuses the query parameters the request's route does
// not take, naming each; "_", a browser's cache-buster, goes everywhere. It
// runs once the request is routed, on a query checkURL found readable, and
// reads its names without decoding the whole of it.
func checkQueryNames(r *http.Request) error {
	if r.URL.RawQuery == "" {
		return nil
	}
	taken := queryParams[route{r.Method, chi.RouteContext(r.Context()).RoutePattern()}]
	var err *parley.Error
	for rest := r.URL.RawQuery; rest != ""; {
		var pair string
		pair, rest, _ = strings.Cut(rest, "&")
		name, _, _ := strings.Cut(pair, "=")
		if strings.ContainsAny(name, "%+") {
			name, _ = url.QueryUnescape(name)
		}
		if pair == "" || name == "_" || slices.Contains(taken, name) {
			continue
		}
		if err == nil {
			err = parley.Invalid(name, "")
		}
		err.Fields[name] = "is not a query parameter of this route"
	}
	if err == nil {
		return nil // not a nil *parley.Error in an error
	}
	return err
}
