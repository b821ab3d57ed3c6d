package parley

import "context"

// BlockService keeps who blocked whom.
type BlockService interface {
	// Block is idempotent; the blocked user must exist.
	Block(ctx context.Context, appID, blocker, blocked string, by Actor) error
	// Unblock is idempotent: unblocking a user who was not blocked does nothing.
	Unblock(ctx context.Context, appID, blocker, blocked string, by Actor) error
	// Blocks lists the users userID blocked, by id.
	Blocks(ctx context.Context, appID, userID string) ([]User, error)
}

func errBlockSelf() error { return Errorf(EBlockSelf, "A user cannot block themselves.") }

// Block implements BlockService.
func (s *Service) Block(ctx context.Context, appID, blocker, blocked string, by Actor) error {
	if blocker == blocked {
		return errBlockSelf()
	}
	return s.write(ctx, appID, func(w *change) error {
		// The blocked user's row is held for update: a send of theirs,
		// which holds it for share, commits wholly before or after.
		for _, id := range []string{blocker, blocked} {
			if _, err := liveUser(w, appID, id, id == blocked); err != nil {
				return err
			}
		}
		changed, err := w.Block(appID, blocker, blocked, w.now)
		if err != nil || !changed {
			return err
		}
		return w.logBlock(ActionBlock, EventUserBlocked, blocker, blocked, by)
	})
}

// Unblock implements BlockService.
func (s *Service) Unblock(ctx context.Context, appID, blocker, blocked string, by Actor) error {
	if blocker == blocked {
		return errBlockSelf()
	}
	return s.write(ctx, appID, func(w *change) error {
		if _, err := liveUser(w, appID, blocker, false); err != nil {
			return err
		}
		if _, err := w.User(appID, blocked); err != nil {
			return err
		}
		changed, err := w.Unblock(appID, blocker, blocked)
		if err != nil || !changed {
			return err
		}
		return w.logBlock(ActionUnblock, EventUserUnblocked, blocker, blocked, by)
	})
}

// logBlock records a block or unblock that changed something.
func (w *change) logBlock(action, event, blocker, blocked string, by Actor) error {
	if _, err := w.AppendAudit(w.app, AuditEntry{Action: action, UserID: blocker, TargetUserID: &blocked, Actor: by, CreatedAt: w.now}); err != nil {
		return err
	}
	w.emit(event, EventData{UserID: blocker, TargetUserID: blocked, Actor: by})
	return nil
}

// Blocks implements BlockService.
func (s *Service) Blocks(ctx context.Context, appID, userID string) ([]User, error) {
	var out []User
	err := s.read(ctx, func(tx Tx) error {
		if _, err := tx.User(appID, userID); err != nil {
			return err
		}
		var err error
		if out, err = tx.BlockedUsers(appID, userID); err != nil {
			return err
		}
		return s.markAllOnline(tx, appID, out)
	})
	return liveAll(out, s.now()), err
}
