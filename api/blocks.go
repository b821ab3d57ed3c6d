package api

import (
	"context"
	"net/http"

	parley "github.com/parley-chat/parley"
	"github.com/parley-chat/parley/auth"
)

// changeBlock blocks or unblocks the user named in the path for blocker.
func (s *Server) changeBlock(w http.ResponseWriter, r *http.Request, blocker string,
	change func(ctx context.Context, appID, blocker, blocked string, by parley.Actor) error) {
	target, err := userIDParam(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if target == blocker {
		s.writeError(w, r, parley.Errorf(parley.EBlockSelf, "A user cannot block themselves."))
		return
	}
	if err := change(r.Context(), appID(r), blocker, target, auth.FromContext(r.Context()).Actor()); err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, empty)
}
