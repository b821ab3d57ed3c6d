package parley

import (
	"context"
	"fmt"
)

// AppService reads and changes apps, their settings and their keys.
type AppService interface {
	// CheckApp returns an app.not_found error for an unknown app.
	CheckApp(ctx context.Context, appID string) error
	Settings(ctx context.Context, appID string) (Settings, error)
	UpdateSettings(ctx context.Context, appID string, p *SettingsPatch) (Settings, error)
	// ConsoleKey returns the key to sign a moderator's console link with.
	ConsoleKey(ctx context.Context, appID, userID, keyID string) (*Key, error)
}

// Session is what authenticating a client request needs, read at once:
// the app's settings and active keys, and the state of the claimed user.
type Session struct {
	Settings Settings
	Keys     []Key
	// UserExists is false for a user never created (or no user claimed).
	UserExists  bool
	UserDeleted bool
	Moderation  *Moderation // in force now, or nil
	Role        *string     // the user's role, which selects their permissions
}

// Admit returns nil when the session's user may make a client call. Ban
// and erasure are refused on every request, so a token issued before a ban
// stops working at once; a user not yet created may only create themselves.
func (s *Session) Admit(userID string, creating bool) error {
	switch {
	case !s.UserExists && creating:
		return nil
	case !s.UserExists:
		return Errorf(EUserNotFound, "There is no user %q: create it with PUT /me or from the backend.", userID)
	case s.UserDeleted || (s.Moderation != nil && s.Moderation.State == StateBanned):
		return Errorf(EAuthDenied, "This user may not use the app.")
	}
	return nil
}

// May returns nil when the session's user, verified or not, holds perm.
func (s *Session) May(verified bool, perm string) error {
	return Permit(s.Settings, s.Role, s.Moderation, verified, perm)
}

// SessionService reads sessions.
type SessionService interface {
	ClientSession(ctx context.Context, appID, userID string) (*Session, error)
}

// KeyService finds secret keys for authentication.
type KeyService interface {
	// ActiveKeys returns the app's keys that may be used now.
	ActiveKeys(ctx context.Context, appID string) ([]Key, error)
}

// CheckApp implements AppService.
func (s *Service) CheckApp(ctx context.Context, appID string) error {
	if ok, err := s.store.AppExists(ctx, appID); err != nil {
		return err
	} else if !ok {
		return ErrAppNotFound()
	}
	return nil
}

// Settings implements AppService.
func (s *Service) Settings(ctx context.Context, appID string) (Settings, error) {
	var out Settings
	err := s.read(ctx, func(tx Tx) (err error) {
		out, err = tx.Settings(appID)
		return err
	})
	return out, err
}

// UpdateSettings implements AppService.
func (s *Service) UpdateSettings(ctx context.Context, appID string, p *SettingsPatch) (Settings, error) {
	if err := p.Validate(); err != nil {
		return Settings{}, err
	}
	var out Settings
	err := s.write(ctx, appID, func(w *change) error {
		cur, err := w.LockSettings(appID)
		if err != nil {
			return err
		}
		out = p.Apply(cur)
		w.emit(EventSettingsChanged, EventData{})
		return w.SetSettings(appID, out)
	})
	return out, err
}

// ClientSession implements SessionService in one read of the store.
func (s *Service) ClientSession(ctx context.Context, appID, userID string) (*Session, error) {
	f, err := s.store.SessionFacts(ctx, appID, userID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	sess := &Session{Settings: f.Settings, Keys: activeKeys(f.Keys, now)}
	if u := f.User; u != nil {
		sess.UserExists, sess.UserDeleted, sess.Role = true, u.Deleted, u.Role
		sess.Moderation = activeModeration(u.Moderation, now)
	}
	return sess, nil
}

// ActiveKeys implements KeyService.
func (s *Service) ActiveKeys(ctx context.Context, appID string) ([]Key, error) {
	keys, err := s.store.UnrevokedKeys(ctx, appID)
	if err != nil {
		return nil, err
	}
	return activeKeys(keys, s.now()), nil
}

func activeKeys(keys []Key, now int64) []Key {
	var out []Key
	for _, k := range keys {
		if k.ActiveAt(now) {
			out = append(out, k)
		}
	}
	return out
}

// CreateApp creates an app with its first key; an existing id is a conflict.
func (s *Service) CreateApp(ctx context.Context, appID string, key Key) error {
	return s.write(ctx, appID, func(w *change) error {
		if exists, err := w.AppExists(appID); err != nil {
			return err
		} else if exists {
			return Errorf(EConflict, "App %q already exists.", appID)
		}
		if err := w.InsertApp(appID, DefaultSettings(), w.now); err != nil {
			return err
		}
		return w.InsertKey(key)
	})
}

// EnsureApp makes sure the app exists and holds the key; running it again
// changes nothing. A key that belongs to another app is refused.
//
// Processes starting together on one database may race to create the app
// or its key: the loser's write fails as a conflict, and its second try
// finds what the winner stored.
func (s *Service) EnsureApp(ctx context.Context, appID string, key Key) error {
	err := s.ensureApp(ctx, appID, key)
	if ErrorCode(err) == EConflict {
		err = s.ensureApp(ctx, appID, key)
	}
	return err
}

func (s *Service) ensureApp(ctx context.Context, appID string, key Key) error {
	return s.write(ctx, appID, func(w *change) error {
		exists, err := w.AppExists(appID)
		if err != nil {
			return err
		}
		if !exists {
			if err := w.InsertApp(appID, DefaultSettings(), w.now); err != nil {
				return err
			}
		}
		switch owner, err := w.KeyOwner(key.Hash); {
		case err != nil:
			return err
		case owner == "":
			return w.InsertKey(key)
		case owner != appID:
			return Errorf(EConflict, "The secret key belongs to another app.")
		}
		return nil
	})
}

// CountApps returns how many apps exist.
func (s *Service) CountApps(ctx context.Context) (int, error) {
	var n int
	err := s.read(ctx, func(tx Tx) (err error) {
		n, err = tx.CountApps()
		return err
	})
	return n, err
}

// RotateKey adds key and lets the app's other active keys live until graceUntil (ms).
func (s *Service) RotateKey(ctx context.Context, key Key, graceUntil int64) error {
	return s.write(ctx, key.AppID, func(w *change) error {
		if err := requireApp(w, key.AppID); err != nil {
			return err
		}
		if err := w.ExpireKeys(key.AppID, graceUntil); err != nil {
			return err
		}
		w.emit(EventKeysChanged, EventData{})
		return w.InsertKey(key)
	})
}

// RevokeKey stops a key at once.
func (s *Service) RevokeKey(ctx context.Context, appID, keyID string) error {
	return s.write(ctx, appID, func(w *change) error {
		if err := requireApp(w, appID); err != nil {
			return err
		}
		if ok, err := w.RevokeKey(appID, keyID, w.now); err != nil {
			return err
		} else if !ok {
			return Errorf(EInvalid, "App %q has no key %q.", appID, keyID)
		}
		w.emit(EventKeysChanged, EventData{})
		return nil
	})
}

// Keys lists an app's keys, oldest first.
func (s *Service) Keys(ctx context.Context, appID string) ([]Key, error) {
	var keys []Key
	err := s.read(ctx, func(tx Tx) error {
		if err := requireApp(tx, appID); err != nil {
			return err
		}
		var err error
		keys, err = tx.Keys(appID)
		return err
	})
	return keys, err
}

func requireApp(tx Tx, appID string) error {
	if ok, err := tx.AppExists(appID); err != nil {
		return fmt.Errorf("find app: %w", err)
	} else if !ok {
		return ErrAppNotFound()
	}
	return nil
}
