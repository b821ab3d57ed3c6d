package parley

import (
	"context"
	"time"
	"unicode/utf8"
)

// ModerationService bans, silences, reactivates, erases and keeps the audit
// log. From a client, these are a moderator's actions under API.md 7.1.
type ModerationService interface {
	// Authorize checks, in the contract's order, what a moderator's call
	// needs before its body is read: a conversation never joined (convID
	// "" for none), the permission, the caller's own removal. The action
	// checks all of it again in its own transaction.
	Authorize(ctx context.Context, appID string, by Caller, convID, perm string) error
	// Ban locks the user out and, unless told otherwise, removes them from
	// every conversation in one transaction.
	Ban(ctx context.Context, appID string, by Caller, userID string, r Restriction, removeFromConversations bool) error
	// Silence stops the user sending; it does nothing to a banned user.
	Silence(ctx context.Context, appID string, by Caller, userID string, r Restriction) error
	// Reactivate lifts a ban or silence; with restore, the memberships that
	// bans removed since the last reactivation come back.
	Reactivate(ctx context.Context, appID string, by Caller, userID string, restore bool) error
	// Restricted lists banned and silenced users (state "" for both), most
	// recently restricted first.
	Restricted(ctx context.Context, appID, state string, page Page) ([]User, error)
	// AuditLog lists entries about userID (any user when ""), newest first.
	AuditLog(ctx context.Context, appID, userID string, page Page) ([]AuditEntry, error)
	// Erase clears the user's profile, removes them everywhere, drops their
	// blocks and, with eraseMessages, their messages' text and custom data.
	Erase(ctx context.Context, appID, userID string, eraseMessages bool, by Actor) error
	// Search finds users who are not erased; last reports whether no later
	// page has results.
	Search(ctx context.Context, appID string, q SearchQuery) (users []User, last bool, err error)
}

// Authorize implements ModerationService.
func (s *Service) Authorize(ctx context.Context, appID string, by Caller, convID, perm string) error {
	return s.read(ctx, func(tx Tx) error { return s.moderatorIn(tx, appID, by, convID, perm) })
}

// moderatorIn checks a client moderator: the conversation (when convID is
// set) was joined, the permission is held, the caller was not removed.
func (s *Service) moderatorIn(tx Tx, appID string, by Caller, convID, perm string) error {
	var me *Member
	if convID != "" && by.Surface == Client {
		var err error
		if _, me, err = convForMember(tx, appID, convID, by.UserID); err != nil {
			return err
		}
	}
	if err := s.permit(tx, appID, by, perm); err != nil {
		return err
	}
	if me != nil && me.Removed {
		return Errorf(ERemoved, "You were removed from this conversation.")
	}
	return nil
}

// moderationTarget reads the live user a moderation acts on, locked when
// the moderation will change the user. From a client the target must not be
// the caller (self is the refusal) nor a user whose role grants
// users.manage: only the backend acts on managers.
func (s *Service) moderationTarget(tx Tx, appID string, by Caller, userID string, self error, lock bool) (*User, error) {
	u, err := liveUser(tx, appID, userID, lock)
	switch {
	case err != nil:
		return nil, err
	case by.Surface == Backend:
		return u, nil
	case userID == by.UserID:
		return nil, self
	}
	return u, s.notManager(tx, appID, u)
}

// notManager refuses a client's action on a user whose role grants users.manage.
func (s *Service) notManager(tx Tx, appID string, u *User) error {
	settings, err := tx.Settings(appID)
	if err != nil {
		return err
	}
	if settings.Grants(u.Role, PermUsersManage) {
		return Errorf(EPermissionDenied, "Only the backend acts on users who manage users.")
	}
	return nil
}

// restrict checks a ban or silence in the contract's order: the caller's
// permission, the body, the target.
func (s *Service) restrict(w *change, by Caller, userID string, r *Restriction, self error) (*User, error) {
	if err := s.permit(w, w.app, by, PermUsersManage); err != nil {
		return nil, err
	}
	if err := Check(r, ""); err != nil {
		return nil, err
	}
	if err := r.ValidateAt(time.UnixMilli(w.now)); err != nil {
		return nil, err
	}
	return s.moderationTarget(w, w.app, by, userID, self, true)
}

// Ban implements ModerationService: one transaction and set-based writes,
// whatever the number of conversations.
func (s *Service) Ban(ctx context.Context, appID string, by Caller, userID string, r Restriction, removeFromConversations bool) error {
	return s.write(ctx, appID, func(w *change) error { return s.ban(w, by, userID, r, removeFromConversations) })
}

// ban is Ban inside a write that may do more.
func (s *Service) ban(w *change, by Caller, userID string, r Restriction, removeFromConversations bool) error {
	appID := w.app
	if removeFromConversations {
		if err := w.LockMemberships(appID, userID); err != nil {
			return err
		}
	}
	u, err := s.restrict(w, by, userID, &r, Errorf(EBanSelf, "You cannot ban yourself."))
	if err != nil {
		return err
	}
	m := Moderation{State: StateBanned, Reason: r.Reason, Since: w.now, ExpiresAt: r.ExpiresAt, By: string(by.Actor)}
	if old := activeModeration(u.Moderation, w.now); old != nil && old.State == StateBanned {
		m.Since = old.Since // banning a banned user updates reason and expiry
	}
	if err := w.SetModeration(appID, userID, m); err != nil {
		return err
	}
	ban, err := w.AppendAudit(appID, AuditEntry{Action: ActionBan, UserID: userID, Actor: by.Actor,
		Reason: r.Reason, ExpiresAt: r.ExpiresAt, CreatedAt: w.now})
	if err != nil {
		return err
	}
	d := EventData{UserID: userID, Moderation: &m, Actor: by.Actor}
	if removeFromConversations {
		if d.ConversationIDs, err = w.RemoveEverywhere(appID, userID, ban, w.now); err != nil {
			return err
		}
	}
	// No meta: a feed derives the memberships before a ban (Feed.Load).
	w.emit(EventUserBanned, d)
	return nil
}

// Silence implements ModerationService.
func (s *Service) Silence(ctx context.Context, appID string, by Caller, userID string, r Restriction) error {
	return s.write(ctx, appID, func(w *change) error { return s.silence(w, by, userID, r) })
}

// silence is Silence inside a write that may do more.
func (s *Service) silence(w *change, by Caller, userID string, r Restriction) error {
	appID := w.app
	u, err := s.restrict(w, by, userID, &r, Errorf(ESilenceSelf, "You cannot silence yourself."))
	if err != nil {
		return err
	}
	m := Moderation{State: StateSilenced, Reason: r.Reason, Since: w.now, ExpiresAt: r.ExpiresAt, By: string(by.Actor)}
	if old := activeModeration(u.Moderation, w.now); old != nil {
		if old.State == StateBanned {
			return nil // a ban already says more
		}
		m.Since = old.Since
	}
	if err := w.SetModeration(appID, userID, m); err != nil {
		return err
	}
	if _, err := w.AppendAudit(appID, AuditEntry{Action: ActionSilence, UserID: userID, Actor: by.Actor,
		Reason: r.Reason, ExpiresAt: r.ExpiresAt, CreatedAt: w.now}); err != nil {
		return err
	}
	w.emit(EventUserSilenced, EventData{UserID: userID, Moderation: &m, Actor: by.Actor})
	return w.emitUserUpdated(userID)
}

// emitUserUpdated records user.updated with the user as they are now.
func (w *change) emitUserUpdated(userID string) error {
	u, err := w.User(w.app, userID)
	if err != nil {
		return err
	}
	w.emit(EventUserUpdated, EventData{UserID: userID, User: live(u, w.now).ViewAt(w.now)})
	return nil
}

// Reactivate implements ModerationService. A reactivation that lifts
// nothing and restores nothing changes and logs nothing.
func (s *Service) Reactivate(ctx context.Context, appID string, by Caller, userID string, restore bool) error {
	return s.write(ctx, appID, func(w *change) error {
		if restore {
			if err := w.LockMemberships(appID, userID); err != nil {
				return err
			}
		}
		if err := s.permit(w, appID, by, PermUsersManage); err != nil {
			return err
		}
		u, err := s.moderationTarget(w, appID, by, userID, Errorf(EReactivateSelf, "You cannot reactivate yourself."), true)
		if err != nil {
			return err
		}
		lifted := activeModeration(u.Moderation, w.now) != nil
		var restored []Restored
		if restore {
			if restored, err = w.RestoreBanned(appID, userID, w.now); err != nil {
				return err
			}
		}
		if !lifted && len(restored) == 0 {
			return nil
		}
		if err := w.ForgetBans(appID, userID); err != nil {
			return err
		}
		if err := w.ClearModeration(appID, userID); err != nil {
			return err
		}
		if _, err := w.AppendAudit(appID, AuditEntry{Action: ActionReactivate, UserID: userID, Actor: by.Actor, CreatedAt: w.now}); err != nil {
			return err
		}
		d, meta := EventData{UserID: userID, Actor: by.Actor}, &EventMeta{}
		for _, r := range restored {
			d.ConversationIDs = append(d.ConversationIDs, r.ConversationID)
			if meta.Before == nil {
				meta.Before, meta.Restored = map[string]*MemberView{}, map[string]Participant{}
			}
			meta.Before[r.ConversationID] = &MemberView{Access: r.Access, Frozen: r.Frozen}
			meta.Restored[r.ConversationID] = Participant{Access: r.Access, Notify: r.Notify}
		}
		w.emitMeta(EventUserReactivated, d, meta)
		return w.emitUserUpdated(userID)
	})
}

// Restricted implements ModerationService. An expired restriction is not
// listed: expiry needs no background job.
func (s *Service) Restricted(ctx context.Context, appID, state string, page Page) ([]User, error) {
	now := s.now()
	var out []User
	err := s.read(ctx, func(tx Tx) (err error) {
		if out, err = tx.Restricted(appID, state, now, page); err != nil {
			return err
		}
		return s.markAllOnline(tx, appID, out)
	})
	return liveAll(out, now), err
}

// AuditLog implements ModerationService.
func (s *Service) AuditLog(ctx context.Context, appID, userID string, page Page) ([]AuditEntry, error) {
	var out []AuditEntry
	err := s.read(ctx, func(tx Tx) (err error) {
		out, err = tx.AuditLog(appID, userID, page)
		return err
	})
	return out, err
}

// Erase implements ModerationService. The erasure is physical: when it
// returns, the database files hold none of the erased values. Erasing an
// erased user again changes nothing but purges again, so a retry after a
// failed purge completes it.
func (s *Service) Erase(ctx context.Context, appID, userID string, eraseMessages bool, by Actor) error {
	erased, err := s.erase(ctx, appID, userID, eraseMessages, by)
	if err != nil || (!erased && !s.purgePending.Load()) {
		return err
	}
	s.purgePending.Store(true)
	if err := s.store.Purge(ctx); err != nil {
		return err
	}
	s.purgePending.Store(false)
	return nil
}

// erase reports whether it erased anything.
func (s *Service) erase(ctx context.Context, appID, userID string, eraseMessages bool, by Actor) (erased bool, err error) {
	err = s.write(ctx, appID, func(w *change) error {
		if err := w.LockMemberships(appID, userID); err != nil {
			return err
		}
		u, err := w.LockUser(appID, userID)
		if err != nil {
			return err
		}
		if u.Deleted {
			// Erased already; asked now to erase the messages too.
			if !eraseMessages {
				return nil
			}
			erased = true
			if err := w.EraseMessages(appID, userID); err != nil {
				return err
			}
			return w.scrubErased(userID, true)
		}
		erased = true
		if err := w.EraseUser(appID, userID); err != nil {
			return err
		}
		removed, err := w.RemoveEverywhere(appID, userID, "", w.now)
		if err != nil {
			return err
		}
		if err := w.ForgetBans(appID, userID); err != nil {
			return err
		}
		if err := w.DropBlocks(appID, userID); err != nil {
			return err
		}
		if eraseMessages {
			if err := w.EraseMessages(appID, userID); err != nil {
				return err
			}
		}
		if err := w.scrubErased(userID, eraseMessages); err != nil {
			return err
		}
		if _, err := w.AppendAudit(appID, AuditEntry{Action: ActionErase, UserID: userID, Actor: by, CreatedAt: w.now}); err != nil {
			return err
		}
		// No meta: an erased user never streams again.
		w.emit(EventUserErased, EventData{UserID: userID, Actor: by, ConversationIDs: removed})
		return nil
	})
	return erased, err
}

// scrubErased clears what the event log and reports kept of an erased
// user: their profile, and with messages what their messages said.
func (w *change) scrubErased(userID string, messages bool) error {
	if err := w.ScrubEvents(w.app, userID, messages); err != nil {
		return err
	}
	return w.ScrubReports(w.app, userID, messages)
}

// Search implements ModerationService: a case-insensitive substring of the
// name, ordered by name then id, erased users never.
func (s *Service) Search(ctx context.Context, appID string, q SearchQuery) ([]User, bool, error) {
	var out []User
	last := true
	err := s.read(ctx, func(tx Tx) error {
		settings, err := tx.Settings(appID)
		if err != nil || utf8.RuneCountInString(q.Q) < settings.UserList.SearchMinChars {
			return err
		}
		size := settings.UserList.PageSize
		// One row more than a page tells whether a later page has results.
		if out, err = tx.SearchUsers(appID, q.Q, q.Badge, size+1, (q.Page-1)*size); err != nil {
			return err
		}
		if last = len(out) <= size; !last {
			out = out[:size]
		}
		return s.markAllOnline(tx, appID, out)
	})
	if out == nil {
		out = []User{}
	}
	return liveAll(out, s.now()), last, err
}
