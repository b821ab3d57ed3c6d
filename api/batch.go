package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	parley "github.com/parley-chat/parley"
)

// MaxBatch is how many operations one batch may hold, as on TalkJS.
const MaxBatch = 10

// batchMethods are the methods an operation may use.
var batchMethods = map[string]bool{"GET": true, "PUT": true, "POST": true, "PATCH": true, "DELETE": true}

// batch answers POST /v1/{appId}/batch, TalkJS's format: a list of
// [seq, method, path, payload?, options?] answered with [[seq, status,
// response], ...] in the same order. Each operation goes through the whole
// router with the batch's credentials, as a call of its own would: the same
// rules, errors and rate limits. A bad operation fails alone; a list that
// cannot be read, or an operation without a number to answer it by, fails
// the batch.
func (s *Server) batch(w http.ResponseWriter, r *http.Request) {
	var ops []json.RawMessage
	if err := decode(w, r, &ops, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(ops) < 1 || len(ops) > MaxBatch {
		s.writeError(w, r, parley.Errorf(parley.EInvalid, "Send 1 to %d operations at a time.", MaxBatch))
		return
	}
	parsed := make([][]json.RawMessage, len(ops))
	seen := map[string]bool{}
	for i, raw := range ops {
		field := strconv.Itoa(i)
		if err := json.Unmarshal(raw, &parsed[i]); err != nil || len(parsed[i]) < 3 || len(parsed[i]) > 5 {
			s.writeError(w, r, parley.Invalid(field, "must be [sequence number, method, path, payload?, options?]"))
			return
		}
		// A JSON number, compared by its value: 1 and 1.0 are one number.
		seq := parsed[i][0]
		var n float64
		if len(seq) == 0 || !strings.ContainsRune("-0123456789", rune(seq[0])) || json.Unmarshal(seq, &n) != nil {
			s.writeError(w, r, parley.Invalid(field+".0", "must be a number"))
			return
		}
		key := strconv.FormatFloat(n, 'g', -1, 64)
		if seen[key] {
			s.writeError(w, r, parley.Invalid(field+".0", "is used by another operation"))
			return
		}
		seen[key] = true
	}
	appID := chi.URLParam(r, "appId")
	out := make([][3]any, len(ops))
	for i, op := range parsed {
		status, body := s.runOperation(r, appID, op)
		out[i] = [3]any{op[0], status, body}
	}
	ok(w, out)
}

// runOperation runs one operation of a batch and returns its status and
// JSON answer.
func (s *Server) runOperation(outer *http.Request, appID string, op []json.RawMessage) (int, json.RawMessage) {
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	if req, err := operationRequest(outer, appID, op); err != nil {
		s.writeError(rec, outer, err)
	} else {
		s.router.ServeHTTP(rec, req)
	}
	body := rec.body.Bytes()
	if !json.Valid(body) {
		body, _ = json.Marshal(rec.body.String())
	}
	return rec.status, body
}

// operationRequest turns [seq, method, path, payload?, options?] into the
// request a direct call would have made.
func operationRequest(outer *http.Request, appID string, op []json.RawMessage) (*http.Request, error) {
	var method, path string
	if json.Unmarshal(op[1], &method) != nil || !batchMethods[method] {
		return nil, parley.Invalid("method", "must be GET, PUT, POST, PATCH or DELETE")
	}
	if json.Unmarshal(op[2], &path) != nil || !strings.HasPrefix(path, "/") {
		return nil, parley.Invalid("path", "must be a path that starts with /, after /v1/{appId}")
	}
	// Ids may be escaped, as a direct call's (TalkJS clients escape them);
	// the decoded segments must still be plain.
	target, err := url.Parse(path)
	if err != nil || target.Scheme != "" || target.Host != "" || target.Fragment != "" || strings.Contains(target.Path, "\\") ||
		strings.Contains(strings.ToLower(target.EscapedPath()), "%2f") {
		return nil, parley.Invalid("path", "must be a plain path, with an optional query")
	}
	// Read one way, as a direct call's: the query is re-encoded below.
	if err := checkURL(target); err != nil {
		return nil, err
	}
	segments := strings.Split(strings.TrimPrefix(target.Path, "/"), "/")
	for _, seg := range segments {
		if seg == "" || seg == "." || seg == ".." {
			return nil, parley.Invalid("path", "must not hold empty, . or .. segments")
		}
	}
	// A batch inside a batch, or a long poll holding the batch open, is
	// not an operation.
	if segments[0] == "batch" || segments[0] == "events" || (segments[0] == "me" && len(segments) > 1 && segments[1] == "events") {
		return nil, parley.Invalid("path", "batches and event streams cannot run inside a batch")
	}
	var payload json.RawMessage
	if len(op) > 3 && string(op[3]) != "null" {
		payload = op[3]
	}
	if len(op) > 4 && string(op[4]) != "null" {
		var options struct {
			APIVersion *string `json:"api_version"`
		}
		if err := decodeJSON(op[4], &options, false); err != nil {
			return nil, parley.Invalid("options", `must be {"api_version"?: string}`)
		}
	}
	var body []byte
	if method == http.MethodGet || method == http.MethodDelete {
		// A payload of strings is the query, as on TalkJS.
		var params map[string]string
		if payload != nil && decodeJSON(payload, &params, false) != nil {
			return nil, parley.Invalid("payload", "must be an object of strings (the query) for GET and DELETE")
		}
		q := target.Query()
		for k, v := range params {
			if q.Has(k) {
				return nil, parley.Invalid("payload", fmt.Sprintf("names %q, which the path's query has already", k))
			}
			q.Set(k, v)
		}
		target.RawQuery = q.Encode()
	} else if payload != nil {
		body = payload
	}
	target.Path = "/v1/" + appID + target.Path
	if target.RawPath != "" {
		target.RawPath = "/v1/" + url.PathEscape(appID) + target.RawPath
	}
	// The operation is routed afresh: chi would take a routing context
	// found in the request's as that of a mounted router.
	ctx := context.WithValue(outer.Context(), chi.RouteCtxKey, (*chi.Context)(nil))
	req, err := http.NewRequestWithContext(ctx, method, target.String(), bytes.NewReader(body))
	if err != nil {
		return nil, parley.Invalid("path", "is not a valid path")
	}
	req.RemoteAddr = outer.RemoteAddr
	req.Header.Set("Authorization", outer.Header.Get("Authorization"))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// recorder keeps what an operation answers.
type recorder struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(p)
}
