package parley

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"sort"
)

// UserService manages users.
type UserService interface {
	PutUser(ctx context.Context, appID, userID string, p *UserPatch) error
	// PutUsers applies every patch or none.
	PutUsers(ctx context.Context, appID string, patches map[string]*UserPatch) error
	// SyncMe is a client's own profile sync: it creates the user if needed.
	SyncMe(ctx context.Context, appID string, by Caller, p *UserPatch) (*User, error)
	// User is the user, erased ones included (with Deleted set).
	User(ctx context.Context, appID, userID string) (*User, error)
	// UserFor is the user as the caller may find them: a client finds no
	// erased user.
	UserFor(ctx context.Context, appID string, by Caller, userID string) (*User, error)
	Users(ctx context.Context, appID string, page Page) ([]User, error)
	// LiveUsers is Users without erased users, for holders of users.list.
	LiveUsers(ctx context.Context, appID string, by Caller, page Page) ([]User, error)
	// UsersByIDs and UsersByExternalIDs leave out unknown ids and, for a
	// client, erased users.
	UsersByIDs(ctx context.Context, appID string, by Caller, ids []string) ([]User, error)
	UsersByExternalIDs(ctx context.Context, appID string, by Caller, externalIDs []string) ([]User, error)
	// UserConversations lists every conversation the user takes part in or
	// was removed from, by latest activity the user may see.
	UserConversations(ctx context.Context, appID, userID string, page Page, f ListFilter) ([]Membership, error)
	// CurrentConversationIDs lists the conversations the user takes part in
	// now, the MaxCurrentConversationIDs most recently joined.
	CurrentConversationIDs(ctx context.Context, appID, userID string) ([]string, error)
	// Touch records client activity; it writes at most about once a minute per user.
	Touch(ctx context.Context, appID, userID string) error
}

// PutUser implements UserService.
func (s *Service) PutUser(ctx context.Context, appID, userID string, p *UserPatch) error {
	if err := Check(p, ""); err != nil {
		return err
	}
	return s.write(ctx, appID, func(w *change) error { return w.putUser(userID, p) })
}

// PutUsers implements UserService: all or nothing. Every user's problem is
// reported, each field named "<userId>.<field>".
func (s *Service) PutUsers(ctx context.Context, appID string, patches map[string]*UserPatch) error {
	if len(patches) > MaxUserBatch {
		return Errorf(EInvalid, "A batch holds at most %d users.", MaxUserBatch)
	}
	ids := make([]string, 0, len(patches))
	fields := map[string]string{}
	for id, p := range patches {
		ids = append(ids, id)
		switch {
		case !ValidUserID(id):
			fields[id] = "is not a valid user id"
		case p == nil:
			fields[id] = "must be an object"
		default:
			if err := mergeFields(fields, Check(p, id+".")); err != nil {
				return err
			}
		}
	}
	if len(fields) > 0 {
		return errBatchInvalid(fields)
	}
	sort.Strings(ids)
	return s.write(ctx, appID, func(w *change) error {
		for _, id := range ids {
			if err := mergeFields(fields, prefixFields(w.putUser(id, patches[id]), id+".")); err != nil {
				return err
			}
		}
		if len(fields) > 0 {
			return errBatchInvalid(fields)
		}
		return nil
	})
}

func errBatchInvalid(fields map[string]string) error {
	return &Error{Code: EInvalid, Message: "Some users are invalid; none was saved.", Fields: fields}
}

// mergeFields adds the fields of a validation error to fields; any other
// error is returned.
func mergeFields(fields map[string]string, err error) error {
	var e *Error
	if errors.As(err, &e) && e.Code == EInvalid && len(e.Fields) > 0 {
		for k, v := range e.Fields {
			fields[k] = v
		}
		return nil
	}
	return err
}

// putUser creates or updates a user. An erased user's id is never reused.
func (w *change) putUser(userID string, p *UserPatch) error {
	old, err := w.LockUser(w.app, userID)
	if ErrorCode(err) == EUserNotFound {
		old, err = nil, nil
	}
	if err != nil {
		return err
	}
	if err := w.reusable(old); err != nil {
		return err
	}
	if p.ExternalID.Set && !p.ExternalID.Null {
		if other, err := w.UserByExternalID(w.app, p.ExternalID.Value); err != nil {
			return err
		} else if other != "" && other != userID {
			return Errorf(EConflict, "Another user already has the externalId %q.", p.ExternalID.Value)
		}
	}
	if old == nil {
		if err := p.ValidateCreate(); err != nil {
			return err
		}
		// Get or create: when a concurrent creator won, this updates its user.
		if created, err := w.InsertUser(w.app, userID, p.Name.Value, w.now); err != nil {
			return err
		} else if !created {
			if old, err = w.LockUser(w.app, userID); err != nil {
				return err
			} else if err := w.reusable(old); err != nil {
				return err
			}
		}
	}
	if err := w.UpdateUser(w.app, userID, p); err != nil {
		return err
	}
	u, err := w.User(w.app, userID)
	if err != nil || reflect.DeepEqual(old, u) {
		return err // nothing changed, nothing to tell
	}
	typ := EventUserUpdated
	if old == nil {
		typ = EventUserCreated
	}
	w.emit(typ, EventData{UserID: userID, User: live(u, w.now).ViewAt(w.now)})
	return nil
}

// reusable refuses to write to an erased user.
func (w *change) reusable(u *User) error {
	if u != nil && u.Deleted {
		return Errorf(EConflict, "User %q was erased; an erased user's id is never reused.", u.ID)
	}
	return nil
}

// SyncMe implements UserService.
func (s *Service) SyncMe(ctx context.Context, appID string, by Caller, p *UserPatch) (*User, error) {
	var out *User
	err := s.write(ctx, appID, func(w *change) error {
		settings, err := w.Settings(appID)
		if err != nil {
			return err
		}
		if !settings.BrowserUserSync {
			return Errorf(EUsersSyncDisabled, "User sync from clients is off for this app: the backend manages users.")
		}
		// The row this write changes, held for update before anything reads
		// it for share: two syncs of one user take turns, not deadlock.
		if _, err := w.LockUser(appID, by.UserID); err != nil && ErrorCode(err) != EUserNotFound {
			return err
		}
		if err := w.notSilenced(by.UserID); err != nil {
			return err
		}
		if err := Check(p, ""); err != nil {
			return err
		}
		if err := w.putUser(by.UserID, p); err != nil {
			return err
		}
		// Creating oneself is client activity too.
		if err := w.TouchUser(appID, by.UserID, w.now); err != nil {
			return err
		}
		if out, err = w.User(appID, by.UserID); err != nil {
			return err
		}
		return s.markOnline(w, appID, out)
	})
	if err != nil {
		return nil, err
	}
	s.touched.Store(appID+"\x00"+by.UserID, s.now())
	return live(out, s.now()), nil
}

// User implements UserService; erased users are returned with Deleted set.
func (s *Service) User(ctx context.Context, appID, userID string) (*User, error) {
	var u *User
	err := s.read(ctx, func(tx Tx) (err error) {
		if u, err = tx.User(appID, userID); err != nil {
			return err
		}
		return s.markOnline(tx, appID, u)
	})
	if err != nil {
		return nil, err
	}
	return live(u, s.now()), nil
}

// UserFor implements UserService.
func (s *Service) UserFor(ctx context.Context, appID string, by Caller, userID string) (*User, error) {
	var u *User
	err := s.read(ctx, func(tx Tx) (err error) {
		if by.Surface == Client {
			u, err = liveUser(tx, appID, userID, false)
		} else {
			u, err = tx.User(appID, userID)
		}
		if err != nil {
			return err
		}
		return s.markOnline(tx, appID, u)
	})
	if err != nil {
		return nil, err
	}
	return live(u, s.now()), nil
}

// Users implements UserService: ordered by id.
func (s *Service) Users(ctx context.Context, appID string, page Page) ([]User, error) {
	var out []User
	err := s.read(ctx, func(tx Tx) (err error) {
		if out, err = tx.Users(appID, page, true); err != nil {
			return err
		}
		return s.markAllOnline(tx, appID, out)
	})
	return liveAll(out, s.now()), err
}

// LiveUsers implements UserService.
func (s *Service) LiveUsers(ctx context.Context, appID string, by Caller, page Page) ([]User, error) {
	var out []User
	err := s.read(ctx, func(tx Tx) error {
		if err := s.permit(tx, appID, by, PermUsersList); err != nil {
			return err
		}
		var err error
		if out, err = tx.Users(appID, page, false); err != nil {
			return err
		}
		return s.markAllOnline(tx, appID, out)
	})
	return liveAll(out, s.now()), err
}

// UsersByIDs implements UserService.
func (s *Service) UsersByIDs(ctx context.Context, appID string, by Caller, ids []string) ([]User, error) {
	var out []User
	err := s.read(ctx, func(tx Tx) (err error) {
		if out, err = tx.UsersByIDs(appID, ids); err != nil {
			return err
		}
		return s.markAllOnline(tx, appID, out)
	})
	return s.visible(out, by), err
}

// UsersByExternalIDs implements UserService.
func (s *Service) UsersByExternalIDs(ctx context.Context, appID string, by Caller, ids []string) ([]User, error) {
	var out []User
	err := s.read(ctx, func(tx Tx) (err error) {
		if out, err = tx.UsersByExternalIDs(appID, ids); err != nil {
			return err
		}
		return s.markAllOnline(tx, appID, out)
	})
	return s.visible(out, by), err
}

// visible keeps the users the caller may find (a client finds no erased
// user) as they are now.
func (s *Service) visible(users []User, by Caller) []User {
	if by.Surface == Client {
		users = slices.DeleteFunc(users, func(u User) bool { return u.Deleted })
	}
	return liveAll(users, s.now())
}

// UserConversations implements UserService.
func (s *Service) UserConversations(ctx context.Context, appID, userID string, page Page, f ListFilter) ([]Membership, error) {
	var out []Membership
	err := s.read(ctx, func(tx Tx) error {
		if _, err := tx.User(appID, userID); err != nil {
			return err
		}
		var err error
		if out, err = tx.Memberships(appID, userID, page, f); err != nil {
			return err
		}
		now := s.now()
		for i := range out {
			if err := s.linkLast(tx, appID, now, &out[i].Conversation); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// CurrentConversationIDs implements UserService.
func (s *Service) CurrentConversationIDs(ctx context.Context, appID, userID string) ([]string, error) {
	var out []string
	err := s.read(ctx, func(tx Tx) (err error) {
		out, err = tx.CurrentConversationIDs(appID, userID, MaxCurrentConversationIDs)
		return err
	})
	return out, err
}

// touchEvery is how often client activity is written for one user.
const touchEvery int64 = 60 * 1000

// Touch implements UserService. The last write per user is kept in memory,
// so most requests write nothing.
func (s *Service) Touch(ctx context.Context, appID, userID string) error {
	now := s.now()
	key := appID + "\x00" + userID
	if last, ok := s.touched.Load(key); ok && now-last.(int64) < touchEvery {
		return nil
	}
	s.touched.Store(key, now)
	return s.store.Update(WithApp(ctx, appID), func(tx Tx) error { return tx.TouchUser(appID, userID, now) })
}

// notSilenced refuses a client change by a silenced user: they read, block
// and report, but change nothing (a user not created yet is not silenced).
func (w *change) notSilenced(userID string) error {
	u, err := w.User(w.app, userID)
	if ErrorCode(err) == EUserNotFound {
		return nil
	} else if err != nil {
		return err
	}
	if m := activeModeration(u.Moderation, w.now); m != nil && m.State == StateSilenced {
		return Errorf(EUserSilenced, "A silenced user cannot change anything.")
	}
	return nil
}

// liveUser reads a user who may take part in anything: an erased user is
// not found. With lock the row is read with LockUser, for a write about to
// change it.
func liveUser(tx Tx, appID, userID string, lock bool) (*User, error) {
	read := tx.User
	if lock {
		read = tx.LockUser
	}
	u, err := read(appID, userID)
	if err == nil && u.Deleted {
		return nil, ErrUserNotFound(userID)
	}
	return u, err
}

// permit reads, inside tx, what a client's permission depends on (the
// settings, the caller's role and restriction) and checks it, so that a
// permission taken away is gone for every call that starts afterwards.
func (s *Service) permit(tx Tx, appID string, by Caller, perm string) error {
	if by.Surface == Backend {
		return nil
	}
	settings, err := tx.Settings(appID)
	if err != nil {
		return err
	}
	u, err := tx.User(appID, by.UserID)
	if err != nil {
		return err
	}
	m := activeModeration(u.Moderation, s.now())
	if u.Deleted || (m != nil && m.State == StateBanned) {
		return Errorf(EAuthDenied, "This user may not use the app.")
	}
	return Permit(settings, u.Role, m, by.Verified, perm)
}
