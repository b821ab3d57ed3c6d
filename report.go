package parley

// Reports (API.md section 15): users flag a message or a user; moderators
// work the queue and resolve every open report of a target at once.

// What a report targets, why, and how it ends.
const (
	ReportMessage = "message"
	ReportUser    = "user"

	ReportOpen     = "open"
	ReportResolved = "resolved"

	ResolveDismiss       = "dismiss"
	ResolveDeleteMessage = "delete_message"
	ResolveSilence       = "silence"
	ResolveBan           = "ban"

	// ActionReportResolve is the audit log's entry of a resolution.
	ActionReportResolve = "report.resolve"
	// EventReportCreated and EventReportResolved go to the backend stream,
	// webhooks, and the streams of the users who may work the queue
	// (reports.review), but for a report about the user themselves.
	EventReportCreated  = "report.created"
	EventReportResolved = "report.resolved"
	// PermReportsReview lets a role work the report queue from a client.
	PermReportsReview = "reports.review"
)

// Report is one user's report of a message or a user.
type Report struct {
	ID         string       `json:"id"`
	Status     string       `json:"status"`
	Reason     string       `json:"reason"`
	Note       *string      `json:"note"`
	ReporterID string       `json:"reporterId"`
	Target     ReportTarget `json:"target"`
	// OpenReports counts the open reports of the same target, this one
	// included while it is open.
	OpenReports int               `json:"openReports"`
	CreatedAt   int64             `json:"createdAt"`
	Resolution  *ReportResolution `json:"resolution"`
	PK          int64             `json:"-"`
}

// ReportTarget is what was reported, as it was then: a message keeps the
// text and custom data it had, whatever later edits or deletion do; a
// user, the name and photo they showed.
type ReportTarget struct {
	Type string `json:"type"`
	// UserID is the reported user: the user, or the message's sender
	// (null for a SystemMessage).
	UserID         *string       `json:"userId"`
	ConversationID *string       `json:"conversationId"`
	Message        *Message      `json:"message"`
	User           *ReportedUser `json:"user"`
	// Key is the message's id or the user's: open reports of one key are
	// resolved together.
	Key string `json:"-"`
}

// ReportedUser is a reported user's profile as it was.
type ReportedUser struct {
	ID       string  `json:"id"`
	Name     string  `json:"name"`
	PhotoURL *string `json:"photoUrl"`
}

// ReportResolution is how a report ended.
type ReportResolution struct {
	Action    string  `json:"action"`
	Reason    *string `json:"reason"`
	ExpiresAt *int64  `json:"expiresAt"`
	By        Actor   `json:"by"`
	At        int64   `json:"at"`
}

// NewReport is a user's report.
type NewReport struct {
	Reason string  `json:"reason" validate:"required,oneof=spam harassment hate sexual violence other"`
	Note   *string `json:"note" validate:"omitnil,max=1000"`
}

// Resolve is a moderator's decision on a report.
type Resolve struct {
	Action                  string  `json:"action" validate:"required,oneof=dismiss delete_message silence ban"`
	Reason                  *string `json:"reason" validate:"omitnil,max=1024"`
	ExpiresAt               *int64  `json:"expiresAt"`
	RemoveFromConversations *bool   `json:"removeFromConversations"`
}

// Validate checks what tags cannot: an expiry and a removal only go with
// a restriction.
func (r *Resolve) Validate() error {
	switch {
	case r.ExpiresAt != nil && r.Action != ResolveSilence && r.Action != ResolveBan:
		return Invalid("expiresAt", "goes only with silence or ban")
	case r.RemoveFromConversations != nil && r.Action != ResolveBan:
		return Invalid("removeFromConversations", "goes only with ban")
	}
	return nil
}

// NewReportID returns "rep_" followed by 22 base62 characters.
func NewReportID() string { return "rep_" + RandomBase62(22) }

// ReportQuery pages the queue.
type ReportQuery struct {
	Status string // ReportOpen (oldest first) or ReportResolved (newest first)
	Page   Page
	// NotAbout leaves out the reports whose reported user this is: a
	// moderator does not see who reported them.
	NotAbout string
}
