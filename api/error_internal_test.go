package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	parley "github.com/parley-chat/parley"
)

// panicApps is an AppService whose every call fails in a way the client must not see.
type panicApps struct{ parley.AppService }

func (panicApps) CheckApp(ctx context.Context, appID string) error {
	if appID == "panic" {
		panic("secret detail in a panic")
	}
	return errors.New("secret detail: disk on fire")
}

func TestInternalErrorsHideDetail(t *testing.T) {
	var logged strings.Builder
	s := &Server{
		Apps:   panicApps{},
		Ready:  func(context.Context) error { return errors.New("secret detail: db gone") },
		Logger: slog.New(slog.NewTextHandler(&logged, nil)),
		Now:    time.Now,
	}
	h := s.Handler()
	for _, tt := range []struct {
		path   string
		status int
		code   string
	}{
		{"/v1/broken/users", 500, "internal"},
		{"/v1/panic/users", 500, "internal"},
		{"/readyz", 503, "storage.unavailable"},
	} {
		t.Run(tt.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
			body, _ := io.ReadAll(rec.Body)
			if rec.Code != tt.status || !strings.Contains(string(body), `"errorCode":"`+tt.code+`"`) {
				t.Errorf("got %d %s, want %d %s", rec.Code, body, tt.status, tt.code)
			}
			if strings.Contains(string(body), "secret detail") {
				t.Errorf("the body leaks internal detail: %s", body)
			}
		})
	}
	if !strings.Contains(logged.String(), "secret detail") {
		t.Error("the internal detail was not logged")
	}
}

// TestStorageUnavailable: a write refused because the database cannot be
// written is a 503 with Retry-After, never a bare 500.
func TestStorageUnavailable(t *testing.T) {
	s := &Server{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now}
	rec := httptest.NewRecorder()
	s.writeError(rec, httptest.NewRequest(http.MethodPost, "/v1/a/conversations/c/messages", nil),
		fmt.Errorf("send: %w", parley.ErrStorageUnavailable("The database cannot be written now; try again later.")))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "5" ||
		!strings.Contains(rec.Body.String(), `"errorCode":"storage.unavailable"`) {
		t.Errorf("got %d, Retry-After %q, %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
}
