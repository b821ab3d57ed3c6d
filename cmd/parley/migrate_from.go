package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	parley "github.com/parley-chat/parley"
	"github.com/parley-chat/parley/auth"
)

// migrateFromCmd copies an app from a TalkJS-compatible REST API (TalkJS
// itself, or another Parley) into this database: its users, conversations
// with their participants and access, and messages with their original
// times. It is resumable: a state file remembers the last page of users
// and the last conversation done, and every message is imported under an
// idempotency key made from its source id, so running it again after an
// interruption finishes the job without duplicates.
func migrateFromCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs, dbPath := adminFlags("migrate-from", getenv, stderr)
	base := fs.String("url", "https://api.talkjs.com", "the source's base URL (before /v1/{appId})")
	srcApp := fs.String("app", "", "the source's app id")
	key := fs.String("key", "", "the source's secret key")
	toApp := fs.String("to-app", "", "the app to import into (default: the source's app id); created when missing")
	statePath := fs.String("state", "", "the file that makes the migration resumable (default parley-migrate-APP.json)")
	if rest, err := parseArgs(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return fmt.Errorf("migrate-from takes no arguments, got %q", rest)
	}
	if *srcApp == "" || *key == "" {
		return errors.New("migrate-from needs --app and --key (the source's app id and secret key)")
	}
	if *toApp == "" {
		*toApp = *srcApp
	}
	if !parley.ValidID(*toApp) {
		return fmt.Errorf("app id %q must be 1 to 255 of A-Z a-z 0-9 _ - . @ : + = ~", *toApp)
	}
	src, err := newSource(*base, *srcApp, *key)
	if err != nil {
		return err
	}
	if *statePath == "" {
		*statePath = "parley-migrate-" + *toApp + ".json"
	}
	svc, closeDB, err := openServiceOn(*dbPath, true)
	if err != nil {
		return err
	}
	defer closeDB()
	m := &migration{svc: svc, app: *toApp, src: src, statePath: *statePath, log: stderr}
	if err := m.loadState(); err != nil {
		return err
	}
	if err := m.ensureApp(ctx, stdout); err != nil {
		return err
	}
	if err := m.run(ctx); err != nil {
		return fmt.Errorf("%w (run the same command again to resume)", err)
	}
	if err := os.Remove(m.statePath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove the state file: %w", err)
	}
	fmt.Fprintf(stderr, "done: %s\n", m.counts)
	if err := printJSON(stdout, m.counts); err != nil {
		return err
	}
	if m.counts.Skipped > 0 {
		return fmt.Errorf("%d records could not be imported (see above); everything else was imported", m.counts.Skipped)
	}
	return nil
}

// migrationCounts is the summary a migration prints.
type migrationCounts struct {
	Users         int `json:"users"`
	Conversations int `json:"conversations"`
	Participants  int `json:"participants"`
	// Messages counts the messages stored, not those an earlier,
	// interrupted run had already imported.
	Messages int `json:"messages"`
	// Deleted are deleted messages of the source, which leave nothing to import.
	Deleted int `json:"deletedMessagesLeftOut"`
	Skipped int `json:"skipped"`
}

func (c migrationCounts) String() string {
	return fmt.Sprintf("%d users, %d conversations, %d participants, %d messages (%d deleted ones left out), %d skipped",
		c.Users, c.Conversations, c.Participants, c.Messages, c.Deleted, c.Skipped)
}

// migrationState is what a resumed migration skips.
type migrationState struct {
	// UsersDone: every user was imported; else UsersAfter is the last
	// user of the last page imported.
	UsersDone  bool   `json:"usersDone"`
	UsersAfter string `json:"usersAfter,omitempty"`
	// ConversationsAfter is the last conversation whose messages were all
	// imported.
	ConversationsAfter string          `json:"conversationsAfter,omitempty"`
	Counts             migrationCounts `json:"counts"`
}

type migration struct {
	svc       *parley.Service
	app       string
	src       *source
	statePath string
	state     migrationState
	counts    migrationCounts
	log       io.Writer
}

func (m *migration) loadState() error {
	raw, err := os.ReadFile(m.statePath)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("read the state file: %w", err)
	}
	if err := json.Unmarshal(raw, &m.state); err != nil {
		return fmt.Errorf("the state file %s is not a migration's: %w", m.statePath, err)
	}
	m.counts = m.state.Counts
	fmt.Fprintf(m.log, "resuming from %s\n", m.statePath)
	return nil
}

// saveState writes the state to a new file and renames it over the old
// one, so an interruption leaves one or the other whole.
func (m *migration) saveState() error {
	m.state.Counts = m.counts
	raw, err := json.MarshalIndent(m.state, "", "  ")
	if err != nil {
		return err
	}
	tmp := m.statePath + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return fmt.Errorf("write the state file: %w", err)
	}
	if err := os.Rename(tmp, m.statePath); err != nil {
		return fmt.Errorf("write the state file: %w", err)
	}
	return nil
}

// ensureApp creates the target app when it is missing, and prints its key
// once, as "apps create" does.
func (m *migration) ensureApp(ctx context.Context, stdout io.Writer) error {
	if err := m.svc.CheckApp(ctx, m.app); err == nil {
		return nil
	} else if parley.ErrorCode(err) != parley.EAppNotFound {
		return cliError(err)
	}
	key := auth.NewKey(m.app, false, m.svc.Now())
	if err := m.svc.CreateApp(ctx, m.app, key); err != nil {
		return cliError(err)
	}
	fmt.Fprintln(m.log, "Created the app. Keep the secret key: it is shown only this once.")
	return printJSON(stdout, map[string]string{"appId": m.app, "secretKey": key.Secret})
}

func (m *migration) run(ctx context.Context) error {
	if !m.state.UsersDone {
		err := m.src.pages(ctx, "/users", m.state.UsersAfter, func(page []json.RawMessage) error {
			if err := m.users(ctx, page); err != nil {
				return err
			}
			m.state.UsersAfter = lastID(page)
			fmt.Fprintf(m.log, "users: %d\n", m.counts.Users)
			return m.saveState()
		})
		if err != nil {
			return fmt.Errorf("users: %w", err)
		}
		m.state.UsersDone = true
		if err := m.saveState(); err != nil {
			return err
		}
	}
	return m.src.pages(ctx, "/conversations", m.state.ConversationsAfter, func(page []json.RawMessage) error {
		for _, raw := range page {
			if err := m.conversation(ctx, raw); err != nil {
				return err
			}
			m.state.ConversationsAfter = lastID([]json.RawMessage{raw})
			if err := m.saveState(); err != nil {
				return err
			}
		}
		fmt.Fprintf(m.log, "conversations: %d, messages: %d\n", m.counts.Conversations, m.counts.Messages)
		return nil
	})
}

// users imports a page of users in one call, or one by one when the page
// holds one the target refuses, which is then reported and skipped.
func (m *migration) users(ctx context.Context, page []json.RawMessage) error {
	patches := make(map[string]*parley.UserPatch, len(page))
	for _, raw := range page {
		id, p, err := sourceUser(raw)
		if err != nil {
			return err
		}
		var state struct{ Deleted bool }
		if json.Unmarshal(raw, &state); state.Deleted {
			if err := m.erased(ctx, id); err != nil {
				return err
			}
			continue
		}
		patches[id] = p
	}
	if len(patches) == 0 {
		return nil
	}
	err := m.svc.PutUsers(ctx, m.app, patches)
	if err == nil {
		m.counts.Users += len(patches)
		return nil
	} else if !refused(err) {
		return err
	}
	for id, p := range patches {
		if err := m.svc.PutUser(ctx, m.app, id, p); refused(err) {
			m.skip("user "+id, err)
		} else if err != nil {
			return err
		} else {
			m.counts.Users++
		}
	}
	return nil
}

// erased makes an erased user of the source an erased user here: its id,
// which keeps the messages it left behind, and nothing else. A resumed run
// finds it erased already (a PUT on an erased id is a conflict).
func (m *migration) erased(ctx context.Context, id string) error {
	err := m.svc.PutUser(ctx, m.app, id, &parley.UserPatch{Name: parley.Some(id)})
	if parley.ErrorCode(err) == parley.EConflict {
		return nil
	} else if refused(err) {
		m.skip("erased user "+id, err)
		return nil
	} else if err != nil {
		return err
	}
	if err := m.svc.Erase(ctx, m.app, id, false, parley.CLIActor); err != nil {
		return err
	}
	m.counts.Users++
	return nil
}

// sourceUser reads a user of the source: the fields a user PUT takes, the
// rest (the id, times, state) left out.
func sourceUser(raw json.RawMessage) (string, *parley.UserPatch, error) {
	var id struct{ ID string }
	var p struct {
		Name             parley.Optional[string]        `json:"name"`
		Email            parley.Optional[[]string]      `json:"email"`
		Phone            parley.Optional[[]string]      `json:"phone"`
		PhotoURL         parley.Optional[string]        `json:"photoUrl"`
		WelcomeMessage   parley.Optional[string]        `json:"welcomeMessage"`
		Locale           parley.Optional[string]        `json:"locale"`
		Role             parley.Optional[string]        `json:"role"`
		Custom           parley.Optional[parley.Custom] `json:"custom"`
		AvailabilityText parley.Optional[string]        `json:"availabilityText"`
	}
	if err := json.Unmarshal(raw, &id); err != nil || id.ID == "" {
		return "", nil, fmt.Errorf("the source sent a user without an id: %.200s", raw)
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return "", nil, fmt.Errorf("user %s: %w", id.ID, err)
	}
	return id.ID, &parley.UserPatch{Name: p.Name, Email: p.Email, Phone: p.Phone, PhotoURL: p.PhotoURL, WelcomeMessage: p.WelcomeMessage,
		Locale: p.Locale, Role: p.Role, Custom: p.Custom, AvailabilityText: p.AvailabilityText}, nil
}

// sourceConversation is a conversation as the source lists it.
type sourceConversation struct {
	ID              string                         `json:"id"`
	Subject         parley.Optional[string]        `json:"subject"`
	PhotoURL        parley.Optional[string]        `json:"photoUrl"`
	WelcomeMessages parley.Optional[[]string]      `json:"welcomeMessages"`
	Custom          parley.Optional[parley.Custom] `json:"custom"`
	Participants    map[string]struct {
		Access parley.Access `json:"access"`
		Notify parley.Notify `json:"notify"`
	} `json:"participants"`
}

// conversation imports one conversation, its participants with their
// access, then its messages.
func (m *migration) conversation(ctx context.Context, raw json.RawMessage) error {
	var c sourceConversation
	if err := json.Unmarshal(raw, &c); err != nil || c.ID == "" {
		return fmt.Errorf("the source sent a conversation that cannot be read: %.200s", raw)
	}
	ids := make([]string, 0, len(c.Participants))
	for id := range c.Participants {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	by := parley.BackendCaller(parley.CLIActor)
	patch := &parley.ConversationPatch{Participants: ids, Subject: c.Subject, PhotoURL: c.PhotoURL,
		WelcomeMessages: c.WelcomeMessages, Custom: c.Custom}
	if err := m.svc.PutConversation(ctx, m.app, by, c.ID, patch); refused(err) {
		m.skip("conversation "+c.ID, err)
		return nil
	} else if err != nil {
		return err
	}
	for _, id := range ids {
		p := c.Participants[id]
		if p.Access == "" {
			p.Access = parley.ReadWrite
		}
		if p.Notify == "" {
			p.Notify = parley.NotifyOn
		}
		if err := m.svc.PutParticipant(ctx, m.app, c.ID, id, parley.Participant{Access: p.Access, Notify: p.Notify}); refused(err) {
			m.skip("participant "+id+" of "+c.ID, err)
		} else if err != nil {
			return err
		}
	}
	m.counts.Conversations++
	m.counts.Participants += len(ids)
	return m.messages(ctx, c.ID, ids)
}

// messages imports a conversation's messages oldest first. Sources list
// them newest first: the pages are kept in a temporary file, one line
// each, and imported from the last.
func (m *migration) messages(ctx context.Context, convID string, participants []string) error {
	spool, err := os.CreateTemp("", "parley-migrate-*.jsonl")
	if err != nil {
		return err
	}
	defer os.Remove(spool.Name())
	defer spool.Close()
	w := bufio.NewWriter(spool)
	var offsets []int64
	var at int64
	err = m.src.pages(ctx, "/conversations/"+url.PathEscape(convID)+"/messages", "", func(page []json.RawMessage) error {
		line, err := json.Marshal(page)
		if err != nil {
			return err
		}
		offsets = append(offsets, at)
		at += int64(len(line)) + 1
		_, err = w.Write(append(line, '\n'))
		return err
	})
	if err != nil {
		return fmt.Errorf("messages of %s: %w", convID, err)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	for i := len(offsets) - 1; i >= 0; i-- {
		if _, err := spool.Seek(offsets[i], io.SeekStart); err != nil {
			return err
		}
		line, err := bufio.NewReader(spool).ReadBytes('\n')
		if err != nil {
			return err
		}
		var page []sourceMessage
		if err := json.Unmarshal(line, &page); err != nil {
			return fmt.Errorf("messages of %s: %w", convID, err)
		}
		slices.Reverse(page)
		if err := m.importPage(ctx, convID, participants, page); err != nil {
			return err
		}
	}
	return nil
}

// sourceMessage is a message as the source lists it.
type sourceMessage struct {
	ID        string        `json:"id"`
	Type      string        `json:"type"`
	SenderID  *string       `json:"senderId"`
	Text      string        `json:"text"`
	Custom    parley.Custom `json:"custom"`
	CreatedAt int64         `json:"createdAt"`
	ReadBy    []string      `json:"readBy"`
	Deleted   bool          `json:"deleted"`
	// Attachment is the message's file, downloaded from url and uploaded
	// here again.
	Attachment *struct {
		URL      string `json:"url"`
		Filename string `json:"filename"`
	} `json:"attachment"`
}

// importPage imports a page of messages, oldest first, in one call; when
// the target refuses the page, one by one, so that only the refused ones
// are skipped.
func (m *migration) importPage(ctx context.Context, convID string, participants []string, page []sourceMessage) error {
	now := m.svc.Now().UnixMilli()
	var batch []parley.ImportedMessage
	var sourceIDs []string
	for _, s := range page {
		if s.Deleted {
			m.counts.Deleted++
			continue
		}
		at := min(s.CreatedAt, now)
		key := importKey(s.ID)
		var readers []string
		for _, u := range s.ReadBy {
			if _, found := slices.BinarySearch(participants, u); found {
				readers = append(readers, u)
			}
		}
		msg := parley.ImportedMessage{Type: s.Type, Text: s.Text, Sender: s.SenderID, Custom: s.Custom,
			CreatedAt: &at, ReadBy: readers, IdempotencyKey: &key}
		if s.Attachment != nil && s.Attachment.URL != "" {
			token, err := m.attach(ctx, s.Attachment.URL, s.Attachment.Filename)
			if err != nil && s.Text == "" {
				m.skip("message "+s.ID+" of "+convID+" (its file)", err)
				continue
			} else if err != nil {
				m.skip("the file of message "+s.ID+" of "+convID+" (the text is imported)", err)
			} else {
				msg.AttachmentToken = &token
			}
		}
		batch = append(batch, msg)
		sourceIDs = append(sourceIDs, s.ID)
	}
	if len(batch) == 0 {
		return nil
	}
	_, stored, err := m.svc.ImportMessages(ctx, m.app, convID, batch)
	if err == nil {
		m.counts.Messages += stored
		return nil
	} else if !refused(err) {
		return err
	}
	for i := range batch {
		if _, stored, err := m.svc.ImportMessages(ctx, m.app, convID, batch[i:i+1]); refused(err) {
			m.skip("message "+sourceIDs[i]+" of "+convID, err)
		} else if err != nil {
			return err
		} else {
			m.counts.Messages += stored
		}
	}
	return nil
}

// attach downloads a source message's file and uploads it here, for the
// imported message to carry. A run after an interruption may upload a file
// whose message was imported already: the spare is pruned within a day.
func (m *migration) attach(ctx context.Context, link, filename string) (string, error) {
	data, err := m.src.download(ctx, link, parley.DefaultMaxFileSize)
	if err != nil {
		return "", err
	}
	// TalkJS's attachments name no file: the link's last segment does.
	if filename == "" {
		if u, err := url.Parse(link); err == nil {
			filename, _ = url.PathUnescape(path.Base(u.Path))
		}
	}
	if filename == "" || parley.CheckFilename(filename) != nil {
		filename = "attachment"
	}
	return m.svc.Upload(ctx, m.app, parley.BackendCaller(parley.CLIActor), filename, data)
}

// importKey is the idempotency key of a source message: its id, or a
// digest of an id too long for a key.
func importKey(id string) string {
	const prefix = "migrate:"
	if len(prefix)+len(id) <= 255 {
		return prefix + id
	}
	sum := sha256.Sum256([]byte(id))
	return prefix + "sha256:" + hex.EncodeToString(sum[:])
}

// refused reports whether err is the target refusing a record (bad data),
// rather than a failure that should stop the migration.
func refused(err error) bool {
	switch parley.ErrorCode(err) {
	case parley.EInvalid, parley.EUserNotFound, parley.EConflict:
		return true
	}
	return false
}

func (m *migration) skip(what string, err error) {
	m.counts.Skipped++
	fmt.Fprintf(m.log, "skipped %s: %s (%s)\n", what, parley.ErrorMessage(err), fieldProblems(err))
}

func fieldProblems(err error) string {
	var e *parley.Error
	if !errors.As(err, &e) || len(e.Fields) == 0 {
		return parley.ErrorCode(err)
	}
	var out []string
	for k, v := range e.Fields {
		out = append(out, k+": "+v)
	}
	slices.Sort(out)
	return strings.Join(out, "; ")
}

// lastID is the id of a page's last item.
func lastID(page []json.RawMessage) string {
	if len(page) == 0 {
		return ""
	}
	var it struct{ ID string }
	_ = json.Unmarshal(page[len(page)-1], &it)
	return it.ID
}

// source is a TalkJS-compatible REST API.
type source struct {
	base, key string // base ends with /v1/{appId}
	client    *http.Client
	// pause is how long a failed request waits before its next try, doubling.
	pause time.Duration
}

// sourcePage is how many items a listing asks for: TalkJS's largest.
const sourcePage = 100

func newSource(base, app, key string) (*source, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("--url must be an http(s) URL, such as https://api.talkjs.com")
	}
	return &source{base: strings.TrimRight(base, "/") + "/v1/" + url.PathEscape(app), key: key,
		client: &http.Client{Timeout: time.Minute}, pause: 500 * time.Millisecond}, nil
}

// pages lists path after the item after (none: from the start), a page at
// a time, until a short page.
func (s *source) pages(ctx context.Context, path, after string, fn func([]json.RawMessage) error) error {
	for {
		q := url.Values{"limit": {strconv.Itoa(sourcePage)}}
		if after != "" {
			q.Set("startingAfter", after)
		}
		var page struct{ Data []json.RawMessage }
		if err := s.get(ctx, path+"?"+q.Encode(), &page); err != nil {
			return err
		}
		if len(page.Data) > 0 {
			if err := fn(page.Data); err != nil {
				return err
			}
			after = lastID(page.Data)
		}
		if len(page.Data) < sourcePage || after == "" {
			return nil
		}
	}
}

// download reads a file the source links to: an absolute URL, or a path
// on the source's host (Parley's links). Links carry their own signature:
// no credential goes with them.
func (s *source) download(ctx context.Context, link string, limit int64) ([]byte, error) {
	u, err := url.Parse(link)
	if err != nil {
		return nil, fmt.Errorf("file link %q: %w", link, err)
	}
	if !u.IsAbs() {
		base, _ := url.Parse(s.base)
		u = base.ResolveReference(u)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, fmt.Errorf("file link %q is not http(s)", link)
	}
	req, err := http.NewRequestWithContext(ctx, "GET", u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", u.Redacted(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("download %s: %s", u.Redacted(), resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", u.Redacted(), err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("download %s: over %d bytes", u.Redacted(), limit)
	}
	return data, nil
}

// get reads one answer, trying again after a rate limit (as long as the
// source asks, within reason), a server error or a broken connection.
func (s *source) get(ctx context.Context, path string, out any) error {
	const tries = 8
	pause := s.pause
	var last error
	for range tries {
		req, err := http.NewRequestWithContext(ctx, "GET", s.base+path, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+s.key)
		resp, err := s.client.Do(req)
		if err == nil {
			body, readErr := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
			resp.Body.Close()
			switch {
			case readErr != nil:
				err = readErr
			case resp.StatusCode == http.StatusOK:
				if err := json.Unmarshal(body, out); err != nil {
					return fmt.Errorf("GET %s: the answer is not what a TalkJS-compatible API sends: %w", path, err)
				}
				return nil
			case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
				err = fmt.Errorf("GET %s: %s", path, resp.Status)
				if secs, convErr := strconv.Atoi(resp.Header.Get("Retry-After")); convErr == nil && secs > 0 && secs <= 60 {
					pause = time.Duration(secs) * time.Second
				}
			default:
				return fmt.Errorf("GET %s: %s: %.300s", path, resp.Status, body)
			}
		}
		last = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, 30*time.Second)
	}
	return fmt.Errorf("%w (gave up after %d tries)", last, tries)
}
