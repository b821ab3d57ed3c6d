package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	parley "github.com/parley-chat/parley"
	"github.com/parley-chat/parley/auth"
	"github.com/parley-chat/parley/store"
)

// benchSeeder writes a benchmark's data into a database file before any
// server opens it, through the store's transactions: a million messages
// take seconds this way, and many minutes through HTTP. It is the only
// place where "parley bench" depends on more than the HTTP API. It writes
// rows, not the events that the same changes made through the API would
// store: nothing measured reads them.
type benchSeeder struct {
	db  *store.DB
	svc *parley.Service
	at  int64 // the creation time of the next message (ms)
}

// benchConv is a conversation to seed: its current participants (with
// ReadWrite) and how many messages its first participant sent.
type benchConv struct {
	id       string
	members  []string
	messages int
}

// seedRows bounds the rows one seeding transaction writes.
const seedRows = 5000

// openSeeder opens the file with synchronous=NORMAL: its commits need no
// fsync, and the server opens it again with its own setting.
func openSeeder(path string) (*benchSeeder, error) {
	db, err := store.Open(path, store.Options{Synchronous: "normal"})
	if err != nil {
		return nil, err
	}
	// Messages are a millisecond apart, all in the last few hours.
	return &benchSeeder{db: db, svc: parley.NewService(db, parley.NewBroker()), at: time.Now().Add(-3 * time.Hour).UnixMilli()}, nil
}

func (s *benchSeeder) close() error { return s.db.Close() }

// app makes sure the app exists with the secret key.
func (s *benchSeeder) app(ctx context.Context, appID, secret string) error {
	key, ok := auth.KeyFromSecret(appID, secret, time.Now())
	if !ok {
		return fmt.Errorf("bench: bad secret key for %s", appID)
	}
	return s.svc.EnsureApp(ctx, appID, key)
}

// users creates the users, named by name(i).
func (s *benchSeeder) users(ctx context.Context, appID string, ids []string, name func(i int) string) error {
	now := time.Now().UnixMilli()
	for from := 0; from < len(ids); from += seedRows {
		err := s.db.Update(ctx, func(tx parley.Tx) error {
			for i := from; i < min(len(ids), from+seedRows); i++ {
				if _, err := tx.InsertUser(appID, ids[i], name(i), now); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// conversations creates the conversations, then their messages.
func (s *benchSeeder) conversations(ctx context.Context, appID string, convs []benchConv) error {
	now := time.Now().UnixMilli()
	for chunk := range slices.Chunk(convs, seedRows/10) {
		err := s.db.Update(ctx, func(tx parley.Tx) error {
			for _, bc := range chunk {
				c, _, err := tx.CreateConversation(appID, bc.id, parley.CLIActor, now)
				if err != nil {
					return err
				}
				members := make([]parley.NewMember, len(bc.members))
				for i, id := range bc.members {
					members[i] = parley.NewMember{UserID: id, Participant: parley.DefaultParticipant}
				}
				if err := tx.SetMembers(appID, c, members, now); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	// Messages, seedRows to a transaction, small conversations together.
	type piece struct {
		conv *benchConv
		n    int
	}
	var pieces []piece
	rows := 0
	flush := func() error {
		at := s.at
		err := s.db.Update(ctx, func(tx parley.Tx) error {
			for _, p := range pieces {
				c, err := tx.LockConversation(appID, p.conv.id)
				if err != nil {
					return err
				}
				msgs := make([]parley.Message, p.n)
				for i := range msgs {
					seq := c.LastSeq + int64(i) + 1
					msgs[i] = parley.Message{ID: parley.NewMessageID(), ConversationID: c.ID, Type: parley.UserMessage,
						SenderID: &p.conv.members[0], Text: fmt.Sprintf("seed message %d", seq), Custom: parley.Custom{},
						Origin: parley.OriginREST, CreatedAt: at, Seq: seq}
					at++
				}
				if err := tx.InsertMessages(c, msgs, nil); err != nil {
					return err
				}
			}
			return nil
		})
		s.at = at
		pieces, rows = pieces[:0], 0
		return err
	}
	for i := range convs {
		for left := convs[i].messages; left > 0; {
			n := min(left, seedRows-rows)
			pieces = append(pieces, piece{&convs[i], n})
			rows += n
			left -= n
			if rows == seedRows {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	if rows > 0 {
		return flush()
	}
	return nil
}
