package parley

import "context"

// Storage is what the service needs of a database: transactions, and a few
// cached reads that authenticate every request. SQLite (store.Open) is one
// implementation; nothing here assumes a single writer.
type Storage interface {
	// Update runs fn in one write transaction and commits it. A non-nil
	// error from fn rolls back everything fn did, its events and its
	// after-commit functions included. A unique-constraint violation comes
	// back as a conflict error.
	Update(ctx context.Context, fn func(Tx) error) error
	// View runs fn in one read-only snapshot.
	View(ctx context.Context, fn func(Tx) error) error

	// AppExists reports whether the app exists; apps are never deleted, so
	// a positive answer may be cached.
	AppExists(ctx context.Context, appID string) (bool, error)
	// SessionFacts reads what authenticating a client needs in one go: the
	// app's settings and unrevoked keys (expired ones included: the caller
	// filters by time) and the claimed user's row, nil when missing. The
	// settings and keys may come from a cache checked against a version
	// column, so a change made by another process shows on the next call.
	// app.not_found for an unknown app.
	SessionFacts(ctx context.Context, appID, userID string) (*SessionFacts, error)
	// AppSettings reads the app's settings and their version, possibly from
	// a cache checked against the version like SessionFacts. The version
	// the request's authentication read (see WithSettingsMemo) stands for
	// a read of its own.
	AppSettings(ctx context.Context, appID string) (Settings, int64, error)
	// UnrevokedKeys is the app's keys that are not revoked, expired ones
	// included, newest first, possibly cached like SessionFacts. It notes
	// the app's settings version in the context's memo, as SessionFacts
	// does.
	UnrevokedKeys(ctx context.Context, appID string) ([]Key, error)
	// Exclusive reports whether this process is the database's only
	// server (SQLite: the server lock), so that what it delivers needs no
	// claim against other processes.
	Exclusive() bool
	// Committed is signalled when events became readable in the log that
	// were not handed to the broker at their commit: numbered after it, or
	// written by another process. nil when the store cannot tell; the
	// tailer's timer covers it.
	Committed() <-chan struct{}
	// Purge makes what committed writes deleted or overwrote unrecoverable
	// from the database's files (free space, logs), so that a copy taken
	// afterwards holds none of it. A store that removes large deletions'
	// rows in steps after their write (see DeleteConversation) waits for
	// those steps first, and gives up waiting, not the steps, when ctx ends.
	Purge(ctx context.Context) error
	// Ping reports whether the database can be written now, by a small
	// write: readiness fails while the disk is full or the file read-only.
	Ping(ctx context.Context) error
	Close() error
}

type appKey struct{}

// WithApp says whose write a context carries: a store shares its writer
// fairly between apps with it.
func WithApp(ctx context.Context, appID string) context.Context {
	return context.WithValue(ctx, appKey{}, appID)
}

// AppFromContext is the app WithApp set, or "".
func AppFromContext(ctx context.Context) string {
	app, _ := ctx.Value(appKey{}).(string)
	return app
}

// SettingsMemo is the settings version a request's authentication read
// with its keys, so that a later read of the settings in the same request
// (a send's content rules) need not read the version again: the version
// as the request began is as good as one read a moment later.
type SettingsMemo struct {
	app     string
	version int64
	known   bool
}

type settingsMemoKey struct{}

// WithSettingsMemo gives a request a memo for its settings version. Only
// a request that ends soon may carry one: a stream, which lasts hours,
// must not (see WithoutSettingsMemo).
func WithSettingsMemo(ctx context.Context) context.Context {
	return context.WithValue(ctx, settingsMemoKey{}, &SettingsMemo{})
}

// WithoutSettingsMemo drops the memo a context carries.
func WithoutSettingsMemo(ctx context.Context) context.Context {
	if ctx.Value(settingsMemoKey{}) == nil {
		return ctx
	}
	return context.WithValue(ctx, settingsMemoKey{}, (*SettingsMemo)(nil))
}

// NoteSettingsVersion keeps the app's settings version in the context's
// memo, if it carries one.
func NoteSettingsVersion(ctx context.Context, appID string, version int64) {
	if m, _ := ctx.Value(settingsMemoKey{}).(*SettingsMemo); m != nil {
		*m = SettingsMemo{app: appID, version: version, known: true}
	}
}

// NotedSettingsVersion is the version NoteSettingsVersion kept for the
// app, if any.
func NotedSettingsVersion(ctx context.Context, appID string) (int64, bool) {
	if m, _ := ctx.Value(settingsMemoKey{}).(*SettingsMemo); m != nil && m.known && m.app == appID {
		return m.version, true
	}
	return 0, false
}

// SessionFacts are the stored facts behind a client Session.
type SessionFacts struct {
	Settings Settings
	Keys     []Key // unrevoked, newest first
	User     *SessionUser
}

// SessionUser is the part of a user row that authentication reads.
type SessionUser struct {
	Deleted    bool
	Moderation *Moderation // as stored: it may have expired
	Role       *string
}

// Tx is one transaction. Reads see the transaction's own writes. Methods
// that find nothing answer the domain's not-found error (user.not_found,
// conversation.not_found, message.not_found) unless they say otherwise.
// Inside View, writes fail.
//
// Where the database has row locks, the Lock methods hold the row until
// the transaction ends (SELECT ... FOR UPDATE): a write reads with them the
// rows whose stored state it is about to change on the strength of what it
// read, so that concurrent writes to one row take turns. Inside Update, the
// other reads of a user, a membership or a block hold what they read
// against change until the end (FOR SHARE): a send checked against a
// membership commits before a ban can remove it, an erasure waits for the
// send of the user it erases.
type Tx interface {
	// AfterCommit runs fn once the transaction has committed, in commit
	// order with the after-commit functions of other transactions; never
	// when it rolls back. fn must not block.
	AfterCommit(fn func())
	// AppendEvents stores events in the app's ordered log, as the write's
	// last step. Their Seq and Pos follow commit order: once a reader has
	// seen an event, no event committed later has a lower Seq or Pos. A
	// store that numbers them in the transaction (SQLite) sets them; one
	// that numbers them after the commit (PostgreSQL) leaves them 0, and
	// they reach the broker through the tailer (Service.TailEvents).
	AppendEvents(events []Event) error
	// ScrubEvents removes an erased user's profile from the stored events
	// that carried it (user.created, user.updated) and, with messages, the
	// text and custom data of their messages (message events, and the last
	// message of conversation events). The events keep their place. Every
	// read after the commit shows them scrubbed; the rows themselves may be
	// rewritten later, in bounded steps (Storage.Purge waits for them).
	ScrubEvents(appID, userID string, messages bool) error
	// EventsAfter lists the app's events after the log position after,
	// oldest first, at most limit, of the given types (any when none).
	EventsAfter(appID string, after int64, types []string, limit int) ([]Event, error)
	// LogAfter reads every app's events after the position, oldest first.
	LogAfter(after int64, limit int) ([]Event, error)
	// MembershipEvents reads the app's events in (after, through] whose
	// type is one of MembershipTypes and that changed the user's
	// memberships, and every conversation.deleted of the range.
	MembershipEvents(appID, userID string, after, through int64) ([]Event, error)
	// ConversationViews reads every membership of the conversation, removed
	// ones included, by user id.
	ConversationViews(c *Conversation) (map[string]*MemberView, error)
	// Settled fails, inside View, when a change of the user's memberships
	// (or a conversation's deletion) that this snapshot holds has no log
	// position yet; View then runs again on a newer snapshot. Stores that
	// number events in the writing transaction are always settled.
	Settled(appID, userID string) error
	// MemberViews reads the user's views of the conversations (every one
	// they ever took part in when convs is nil), by conversation id.
	MemberViews(appID, userID string, convs []string) (map[string]*MemberView, error)
	// LastEventSeq is the log's last global position (Event.Seq), 0 while
	// it is empty.
	LastEventSeq() (int64, error)
	// LastEventPos is the app's last position (Event.Pos), 0 before its
	// first event.
	LastEventPos(appID string) (int64, error)
	// EventHorizon is the app's position through which its events were
	// pruned (0: none were).
	EventHorizon(appID string) (int64, error)
	// PruneEvents deletes at most limit of the oldest events created before
	// before (ms), remembers per app how far it pruned, and reports how many
	// it deleted.
	PruneEvents(before int64, limit int) (int, error)

	// Webhooks. Webhooks lists an app's endpoints ("" for every app's).
	// Inside Update, Webhook and Webhooks hold the rows they read until the
	// end (FOR UPDATE where the database has row locks): the deliverer
	// moves cursors on what it read.
	InsertWebhook(w Webhook) error
	UpdateWebhook(w Webhook) error
	Webhook(appID, id string) (*Webhook, error)
	Webhooks(appID string) ([]Webhook, error)
	DeleteWebhook(appID, id string) error
	// QueueDeliveries makes a pending delivery, due at now, of each event
	// (again pending, keeping its attempts, when it was queued before).
	QueueDeliveries(webhookID string, events []Event, now int64) error
	// FailPending ends the endpoint's pending deliveries as failed.
	FailPending(webhookID string) error
	// ClaimDue takes up to limit of the endpoint's pending deliveries due
	// at now, the earliest first, and makes them due at until, a lease
	// that the recorded attempt ends; where several processes deliver,
	// each delivery is claimed by one. With until 0 it only reads them
	// (an Exclusive store's deliverer, inside View).
	ClaimDue(webhookID string, now, until int64, limit int) ([]WebhookDelivery, error)
	// NextDue is when the endpoint's next pending delivery is due (nil: none).
	NextDue(webhookID string) (*int64, error)
	// PendingDeliveries counts the pending deliveries of every endpoint.
	PendingDeliveries() (int64, error)
	// RecordAttempt appends an attempt to a delivery and sets its state.
	RecordAttempt(webhookID string, pos int64, a Attempt, status string, next *int64) error
	// Deliveries pages an endpoint's deliveries, newest event first, of a
	// status ("" for any).
	Deliveries(webhookID, status string, page Page) ([]WebhookDelivery, error)
	// DeliveryByEvent is webhook.not_found when there is none.
	DeliveryByEvent(webhookID, eventID string) (*WebhookDelivery, error)
	// QueuedEventsSince reads the app's events of the types that were
	// queued for the webhook (it has a delivery of them), created at or
	// after since (ms), in (after, through], oldest first, at most limit.
	QueuedEventsSince(appID, webhookID string, since, after, through int64, types []string, limit int) ([]Event, error)
	// PruneDeliveries deletes at most limit delivered or failed deliveries
	// queued before before (ms), and reports how many.
	PruneDeliveries(before int64, limit int) (int, error)
	// EventsAt reads the app's events at the positions (pruned ones missing).
	EventsAt(appID string, positions []int64) (map[int64]*Event, error)
	// QueueEvents queues the endpoint's deliveries of the app's events of
	// the types in (after, through], as QueueDeliveries does.
	QueueEvents(webhookID, appID string, after, through int64, types []string, now int64) error

	// Apps and keys.
	AppExists(appID string) (bool, error)
	CountApps() (int, error)
	InsertApp(appID string, settings Settings, now int64) error
	// Settings is app.not_found for an unknown app.
	Settings(appID string) (Settings, error)
	// LockSettings is Settings, locking the app's row.
	LockSettings(appID string) (Settings, error)
	SetSettings(appID string, s Settings) error
	InsertKey(k Key) error
	// KeyOwner is the app of the key with this hash, "" when there is none.
	KeyOwner(hash []byte) (string, error)
	// ExpireKeys lets the app's unrevoked keys that would live longer than
	// until (or forever) expire at until.
	ExpireKeys(appID string, until int64) error
	// RevokeKey reports false when the app has no such key.
	RevokeKey(appID, keyID string, now int64) (bool, error)
	// Keys lists every key of the app, oldest first.
	Keys(appID string) ([]Key, error)

	// Users. User returns erased users too (Deleted set) and the stored
	// moderation, expired or not.
	User(appID, userID string) (*User, error)
	// LockUser is User, locking the user's row.
	LockUser(appID, userID string) (*User, error)
	// SenderFacts reads a sender's facts in one statement, locking the
	// user's and the membership's rows as User and Member do; nil, without
	// error, when the user is unknown, erased or never took part
	// (UserModeration and Member then tell which).
	SenderFacts(appID string, c *Conversation, userID string) (*SenderFacts, error)
	// UserModeration is the stored moderation of a user (nil for none,
	// expired or not), read as User reads the row but nothing else of it:
	// EUserNotFound for an unknown or erased user.
	UserModeration(appID, userID string) (*Moderation, error)
	// InsertUser inserts the user unless the id is taken (a concurrent
	// creator wins quietly) and reports whether this call created it.
	InsertUser(appID, userID, name string, now int64) (bool, error)
	// UpdateUser writes the fields the patch sets.
	UpdateUser(appID, userID string, p *UserPatch) error
	// UserByExternalID is the id of the user holding the external id, "" for none.
	UserByExternalID(appID, externalID string) (string, error)
	// Users lists by id after page.StartingAfter (which must be a user of
	// the list, else request.invalid); withErased keeps erased users.
	Users(appID string, page Page, withErased bool) ([]User, error)
	UsersByIDs(appID string, ids []string) ([]User, error)
	// Erased reads, for each id that names a user, whether they were erased;
	// it reads nothing else, so checking a thousand ids is cheap.
	Erased(appID string, ids []string) (map[string]bool, error)
	UsersByExternalIDs(appID string, externalIDs []string) ([]User, error)
	TouchUser(appID, userID string, now int64) error
	// SearchUsers finds live users whose folded name contains q (folded),
	// with the badge when it is not "", ordered by name then id; at most
	// limit after offset.
	SearchUsers(appID, q, badge string, limit, offset int) ([]User, error)
	// Restricted lists users whose restriction (state, "" for both) is in
	// force at now, most recently restricted first.
	Restricted(appID, state string, now int64, page Page) ([]User, error)
	SetModeration(appID, userID string, m Moderation) error
	ClearModeration(appID, userID string) error
	// EraseUser clears every field but the id and the creation time, and
	// marks the user deleted.
	EraseUser(appID, userID string) error
	// EraseMessages empties the text and custom data of every message the
	// user sent in the app and marks them deleted: in every read after the
	// commit, and in the rows, which may be rewritten later in bounded steps
	// (Storage.Purge waits for them).
	EraseMessages(appID, userID string) error

	// Blocks.
	// Block reports whether it changed anything.
	Block(appID, blocker, blocked string, now int64) (bool, error)
	Unblock(appID, blocker, blocked string) (bool, error)
	// Blocked reports whether blocker blocked blocked.
	Blocked(appID, blocker, blocked string) (bool, error)
	// BlockedByAny reports whether any of blockers blocked blocked.
	BlockedByAny(appID, blocked string, blockers []string) (bool, error)
	// DropBlocks removes every block by or of the user.
	DropBlocks(appID, userID string) error
	// BlockedUsers lists the live users userID blocked, by id.
	BlockedUsers(appID, userID string) ([]User, error)

	// Audit log: append-only.
	AppendAudit(appID string, e AuditEntry) (string, error)
	AuditLog(appID, userID string, page Page) ([]AuditEntry, error)

	// Conversations. Conversation and LockConversation return the stored
	// row: attributes, PK and LastSeq, without participants or last message.
	Conversation(appID, convID string) (*Conversation, error)
	// LockConversation is Conversation that also holds the row until the
	// transaction ends (SELECT ... FOR UPDATE where the database has row
	// locks): writes that depend on LastSeq or membership take it first.
	LockConversation(appID, convID string) (*Conversation, error)
	// LockConversationFor is LockConversation, then SenderFacts of the
	// sender in it, which PostgreSQL reads in one round trip.
	LockConversationFor(appID, convID, sender string) (*Conversation, *SenderFacts, error)
	// CreateConversation inserts the conversation unless it exists (a
	// concurrent creator wins quietly) and returns it locked, and whether
	// this call created it.
	CreateConversation(appID, convID string, by Actor, now int64) (*Conversation, bool, error)
	// SetConversation writes the attributes the patch sets.
	SetConversation(c *Conversation, p *ConversationPatch) error
	// DeleteConversation reports false when there was no such conversation.
	// From the commit, the conversation, its messages and memberships are
	// gone from every read and its id is free; its messages' rows may be
	// removed later, in bounded steps, so that a large one does not hold
	// other writes back.
	DeleteConversation(appID, convID string) (bool, error)
	// Conversations lists the app's conversations newest created first,
	// complete (participants, last message).
	Conversations(appID string, page Page) ([]Conversation, error)
	// Complete fills in the current participants and, for each, the last
	// message up to views[c.PK] (absent: no limit).
	Complete(convs []Conversation, views map[int64]*int64) error

	// Participants.
	// Member is the user's membership, nil when they never took part.
	Member(c *Conversation, userID string) (*Member, error)
	// Members are the memberships of the users who ever took part, by user
	// id, in one read whatever their number.
	Members(c *Conversation, userIDs []string) (map[string]*Member, error)
	// SetMembers is SetMember for many users in few statements.
	SetMembers(appID string, c *Conversation, members []NewMember, now int64) error
	// CurrentMembers lists the ids of the current participants (any access),
	// at most limit of them when limit > 0: telling whether a conversation is
	// direct needs three, whatever its size.
	CurrentMembers(c *Conversation, limit int) ([]string, error)
	// SetMember makes the user a current participant with p and the freeze
	// point frozen, clearing any removal.
	SetMember(appID string, c *Conversation, userID string, p Participant, frozen *int64, now int64) error
	// RemoveMember marks the membership removed by an admin with the freeze point.
	RemoveMember(c *Conversation, userID string, frozen *int64, now int64) error
	// LockMemberships holds, in key order, the rows of the conversations the
	// user takes part in, or was removed from by a ban (FOR UPDATE where the
	// database has row locks). A ban, a reactivation or an erasure takes
	// them before the user's row: every write that touches a conversation
	// and its people locks the conversation first, then the users, and one
	// order is what keeps them from deadlocking.
	LockMemberships(appID, userID string) error
	// RemoveEverywhere removes the user from every conversation they take
	// part in, freezing each view at its conversation's last message (or
	// where it was frozen: the rule of Freeze, in one statement), marking
	// each removal by banID when not "", and returns the conversation ids.
	// Where the database has row locks it takes the conversations' rows
	// first (in key order), so that no send falls between a message's
	// sequence number and the freeze point.
	RemoveEverywhere(appID, userID, banID string, now int64) ([]string, error)
	// RestoreBanned brings back the memberships removed by bans since the
	// last ForgetBans, with their access (live access reads live again),
	// and returns them. The caller holds LockMemberships: a send to one of
	// those conversations comes wholly before or after.
	RestoreBanned(appID, userID string, now int64) ([]Restored, error)
	// ForgetBans makes later restores cover only later bans.
	ForgetBans(appID, userID string) error
	// Memberships lists the conversations the user takes or took part in,
	// by latest activity they may see, complete as they see them.
	Memberships(appID, userID string, page Page, f ListFilter) ([]Membership, error)
	// UnreadCount counts, up to MaxUnreadCount, the messages in the
	// member's view after their read pointer, their own left out.
	UnreadCount(c *Conversation, userID string, m *Member) (int, error)
	// SetReadPointer moves the user's read pointer to the message (its
	// sequence number and id) if that is forward, and reports whether it moved.
	SetReadPointer(c *Conversation, userID string, seq int64, msgID string) (bool, error)
	// ReadPointers are the user's read pointers, message id by conversation id.
	ReadPointers(appID, userID string) (map[string]string, error)

	// OpenReport is the id of the reporter's open report of the target
	// ("" when none).
	OpenReport(appID, reporterID, targetType, key string) (string, error)
	// InsertReport stores a new report with its snapshot of the target.
	InsertReport(appID string, r *Report) error
	// Report reads one report (locked in a write), with its target's open
	// count; ErrReportNotFound when the app has none of that id.
	Report(appID, id string) (*Report, error)
	// Reports pages the queue: open ones oldest first, resolved ones newest
	// first.
	Reports(appID string, q ReportQuery) ([]Report, error)
	// ResolveReports closes every open report of the target with res and
	// returns their ids, sorted.
	ResolveReports(appID, targetType, key string, res ReportResolution) ([]string, error)
	// ScrubReports clears what reports kept of an erased user.
	ScrubReports(appID, userID string, messages bool) error

	// SetPresence records whether process has a stream of the user open,
	// as of now.
	SetPresence(appID, userID, process string, open bool, now int64) error
	// RefreshPresence marks process's open streams seen now, and forgets
	// every row last seen before forgetBefore.
	RefreshPresence(process string, now, forgetBefore int64) error
	// Online are the users among userIDs with a stream open on a process
	// that was seen at openSince or later, or closed at closedSince or later.
	Online(appID string, userIDs []string, openSince, closedSince int64) (map[string]bool, error)
	// CurrentConversationIDs lists the conversations the user takes part in
	// now, newest joined first.
	// At most limit of them.
	CurrentConversationIDs(appID, userID string, limit int) ([]string, error)

	// Messages.
	Message(c *Conversation, msgID string) (*Message, error)
	// IdempotentMessage is the id of the message sent in c with the key by
	// sender ("" for the system) at or after since, "" for none.
	IdempotentMessage(c *Conversation, sender, key string, since int64) (string, error)
	// InsertMessages stores messages (Seq set by the caller, after
	// c.LastSeq, without gaps) and moves c.LastSeq to the last one. A key
	// of an older message of the same sender stops answering for it.
	InsertMessages(c *Conversation, msgs []Message, keys []*string) error
	// UpdateMessage writes the text, custom data and editedAt of m.
	UpdateMessage(c *Conversation, m *Message) error
	// DeleteMessage returns the deleted message's sequence number.
	DeleteMessage(c *Conversation, msgID string) (int64, error)
	// Messages lists up to the freeze point upTo (nil: all), newest first;
	// page.StartingAfter must be a message of that list.
	Messages(c *Conversation, upTo *int64, page Page) ([]Message, error)

	// Files. A message's file goes when the message goes (deleted, or with
	// its conversation); EraseUser deletes the user's uploads that no
	// message took, EraseMessages the files of their messages and every
	// file they uploaded.
	// FileSecret is the key of the app's download links.
	FileSecret(appID string) ([]byte, error)
	// InsertFile stores an upload that no message has taken yet.
	InsertFile(f File, data []byte) error
	// FileByToken is the app's file with the token, nil when there is none.
	FileByToken(appID, token string) (*File, error)
	// AttachFile gives the file to the message of c, and reports false
	// when another message has it already.
	AttachFile(c *Conversation, fileID, msgID string) (bool, error)
	// FileContent reads a file and its content if its message and its
	// message's conversation exist; message.not_found otherwise.
	FileContent(appID, fileID string) (*File, []byte, error)
	// PruneFiles deletes at most limit files that no message took, uploaded
	// before before (ms), and reports how many.
	PruneFiles(before int64, limit int) (int, error)
}

// NewMember is a user to make a current participant, with the access and
// the freeze point it takes.
type NewMember struct {
	UserID string
	Participant
	Frozen *int64
}

// Restored is a membership a reactivation brought back.
type Restored struct {
	ConversationID string
	Access         Access
	Notify         Notify
	Frozen         *int64 // the freeze point while it was removed
}
