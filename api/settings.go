package api

import (
	"net/http"

	parley "github.com/parley-chat/parley"
)

func (s *Server) getSettings(w http.ResponseWriter, r *http.Request) {
	settings, err := s.Apps.Settings(r.Context(), appID(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, settings)
}

func (s *Server) patchSettings(w http.ResponseWriter, r *http.Request) {
	var p parley.SettingsPatch
	if err := decode(w, r, &p, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	settings, err := s.Apps.UpdateSettings(r.Context(), appID(r), &p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, settings)
}
