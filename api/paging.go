package api

import (
	"net/http"
	"strconv"
	"strings"

	parley "github.com/parley-chat/parley"
)

// pageParams reads limit (1 to 100, default 30) and startingAfter.
func pageParams(r *http.Request) (parley.Page, error) {
	q := r.URL.Query()
	p := parley.Page{Limit: parley.DefaultLimit}
	if q.Has("limit") {
		n, err := strconv.Atoi(q.Get("limit"))
		if err != nil || n < 1 || n > parley.MaxLimit {
			return p, parley.Invalid("limit", "must be a whole number from 1 to 100")
		}
		p.Limit = n
	}
	if q.Has("startingAfter") {
		p.StartingAfter = q.Get("startingAfter")
		if p.StartingAfter == "" {
			return p, parley.Invalid("startingAfter", "is not an item of this list")
		}
	}
	return p, nil
}

// idList reads a comma-separated list of 1 to 100 ids from the query.
func idList(r *http.Request, name string, valid func(string) bool) ([]string, error) {
	raw := r.URL.Query().Get(name)
	if raw == "" {
		return nil, parley.Invalid(name, "must list 1 to 100 comma-separated ids")
	}
	ids := strings.Split(raw, ",")
	if len(ids) > parley.MaxLookupIDs {
		return nil, parley.Invalid(name, "must list at most 100 ids")
	}
	for _, id := range ids {
		if !valid(id) {
			return nil, parley.Invalid(name, "holds an id that is not valid: "+strconv.Quote(id))
		}
	}
	return ids, nil
}
