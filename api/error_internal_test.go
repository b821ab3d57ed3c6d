package api

import (
	"context"
	"errors"
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
	}{
		{"/v1/broken/users", 500},
		{"/v1/panic/users", 500},
		{"/readyz", 503},
	} {
		t.Run(tt.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
			body, _ := io.ReadAll(rec.Body)
			if rec.Code != tt.status || !strings.Contains(string(body), `"errorCode":"internal"`) {
				t.Errorf("got %d %s, want %d internal", rec.Code, body, tt.status)
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
