package parley

import (
	"maps"
	"slices"
	"strconv"
)

// MemberView is the part of a membership that decides which events of a
// conversation its user receives: section 11 applies the access table of
// section 5 to events. A nil view: never a participant, or the conversation
// is gone.
type MemberView struct {
	Current bool   `json:"c,omitempty"` // a participant now, any access
	Access  Access `json:"a,omitempty"`
	Frozen  *int64 `json:"f,omitempty"` // the freeze point; nil while reading live
}

// View returns the member's view (nil for nil).
func (m *Member) View() *MemberView {
	if m == nil {
		return nil
	}
	return &MemberView{Current: !m.Removed, Access: m.Access, Frozen: m.FrozenSeq}
}

// Live reports whether the member receives new messages: a current
// participant with ReadWrite or Read.
func (v *MemberView) Live() bool { return v != nil && v.Current && v.Frozen == nil }

// IsCurrent reports whether the view is of a current participant.
func (v *MemberView) IsCurrent() bool { return v != nil && v.Current }

// Sees reports whether the message with sequence number seq is inside the view.
func (v *MemberView) Sees(seq int64) bool { return v != nil && (v.Frozen == nil || seq <= *v.Frozen) }

// EventMeta routes an event to the users who may receive it. It is stored
// with the event and never sent.
type EventMeta struct {
	// Seq is the message's sequence number (message.*), or the
	// conversation's last one (conversation.*).
	Seq int64 `json:"s,omitempty"`
	// Before is the memberships of the event's user before the change, by
	// conversation (participant.*, user.banned, user.reactivated,
	// user.erased); for conversation.deleted, every member's, by user.
	Before map[string]*MemberView `json:"b,omitempty"`
	// Restored are the memberships a reactivation brought back, by conversation.
	Restored map[string]Participant `json:"r,omitempty"`
}

// membershipEvent reports whether events of the type change the
// memberships of their user (Data.UserID).
func membershipEvent(typ string) bool {
	switch typ {
	case EventParticipantAdded, EventParticipantUpdated, EventParticipantRemoved,
		EventUserBanned, EventUserReactivated, EventUserErased:
		return true
	}
	return false
}

// MembershipTypes are the event types that change their user's memberships,
// and conversation.deleted, which ends every member's.
var MembershipTypes = []string{EventParticipantAdded, EventParticipantUpdated, EventParticipantRemoved,
	EventUserBanned, EventUserReactivated, EventUserErased, EventConversationDeleted}

// step is a change of a membership: the view before it, or, for a ban,
// none (beforeBan derives it).
type step struct {
	pos    int64
	before *MemberView
	banned bool
}

// beforeBan is a membership's view before the ban that left it as after: a
// ban removes a current membership, keeps its access, and freezes a live
// view (a None view keeps its freeze point).
func beforeBan(after *MemberView) *MemberView {
	if after == nil {
		return nil
	}
	v := *after
	v.Current = true
	if v.Access.ReadsLive() {
		v.Frozen = nil
	}
	return &v
}

// viewChange is a membership's view after the event at the app's position pos.
type viewChange struct {
	pos  int64
	view *MemberView
}

// Feed follows one user through the app's log, in order: which events they
// receive, in which form, and when their stream must end. It knows the
// user's memberships as of Pos and, from the log, how they change after it
// up to the position a snapshot was read at; beyond that it reads a new
// snapshot of the conversations an event changes.
type Feed struct {
	App, User string
	// Pos is the position of the last event considered.
	Pos int64
	// Reviewer is set while the user may work the report queue: they
	// receive report events, but for reports about themselves.
	Reviewer bool
	views    map[string]*MemberView
	later    map[string][]viewChange
	known    map[string]int64 // by conversation, "" for all: how far later reaches
}

// FeedSnapshot is what a feed starts from, read in one snapshot at the log
// position Last: the user's memberships then, and the events after the
// feed's position that changed them.
type FeedSnapshot struct {
	Last    int64
	Views   map[string]*MemberView
	Changes []Event // membership events of the user, and conversation.deleted, after the position
}

// NewFeed returns a feed of the user's events after position pos.
func NewFeed(app, user string, pos int64) *Feed {
	return &Feed{App: app, User: user, Pos: pos, views: map[string]*MemberView{},
		later: map[string][]viewChange{}, known: map[string]int64{}}
}

// Load takes a snapshot of the conversations convs (every one when nil):
// their views as of Pos come from the first change after Pos, or from the
// snapshot when nothing changed them since.
func (f *Feed) Load(snap FeedSnapshot, convs []string) {
	wanted := func(conv string) bool { return convs == nil || slices.Contains(convs, conv) }
	if convs == nil {
		clear(f.views)
		clear(f.later)
		clear(f.known)
	}
	steps := map[string][]step{} // the view before each change
	for i := range snap.Changes {
		e := &snap.Changes[i]
		switch {
		case e.Pos <= f.Pos:
		case e.Type == EventUserBanned && e.Data.UserID == f.User:
			// A ban's event carries no memberships (ten thousand of them
			// would make it large): each view before it follows from the
			// view after it.
			for _, conv := range e.Data.ConversationIDs {
				if wanted(conv) {
					steps[conv] = append(steps[conv], step{pos: e.Pos, banned: true})
				}
			}
		case e.Meta == nil:
		case e.Type == EventConversationDeleted:
			if before, ok := e.Meta.Before[f.User]; ok && wanted(e.Data.ConversationID) {
				steps[e.Data.ConversationID] = append(steps[e.Data.ConversationID], step{pos: e.Pos, before: before})
			}
		default:
			for conv, before := range e.Meta.Before {
				if wanted(conv) {
					steps[conv] = append(steps[conv], step{pos: e.Pos, before: before})
				}
			}
		}
	}
	for conv, v := range snap.Views {
		if wanted(conv) {
			f.views[conv] = v
			delete(f.later, conv)
		}
	}
	for _, conv := range convs {
		if _, ok := snap.Views[conv]; !ok {
			delete(f.views, conv)
			delete(f.later, conv)
		}
	}
	for conv, ss := range steps {
		slices.SortFunc(ss, func(a, b step) int { return int(a.pos - b.pos) })
		// From the snapshot back: each change's view after it is the next
		// one's view before it.
		later := make([]viewChange, len(ss))
		after := snap.Views[conv]
		for i := len(ss) - 1; i >= 0; i-- {
			later[i] = viewChange{ss[i].pos, after}
			if ss[i].banned {
				after = beforeBan(after)
			} else {
				after = ss[i].before
			}
		}
		f.views[conv] = after
		f.later[conv] = later
	}
	if convs == nil {
		f.known[""] = snap.Last
	}
	for _, conv := range convs {
		f.known[conv] = snap.Last
	}
}

// Known reports whether the feed knows what the event at seq does to the
// memberships of convs; when not, the caller loads a snapshot of them first.
func (f *Feed) Known(seq int64, convs []string) bool {
	for _, c := range convs {
		if max(f.known[""], f.known[c]) < seq {
			return false
		}
	}
	return true
}

// apply moves the conversation's view past the change at seq.
func (f *Feed) apply(conv string, seq int64) {
	later := f.later[conv]
	for len(later) > 0 && later[0].pos <= seq {
		if later[0].pos == seq {
			f.views[conv] = later[0].view
		}
		later = later[1:]
	}
	f.later[conv] = later
	if f.views[conv] == nil {
		delete(f.views, conv)
	}
}

// Changes returns the conversations whose membership the event changes for
// the feed's user: those Next must know about (see Known).
func (f *Feed) Changes(e *Event) []string {
	switch {
	case e.Type == EventConversationDeleted:
		if _, ok := f.views[e.Data.ConversationID]; ok {
			return []string{e.Data.ConversationID}
		}
		if e.Meta != nil {
			if _, ok := e.Meta.Before[f.User]; ok {
				return []string{e.Data.ConversationID}
			}
		}
	case membershipEvent(e.Type) && e.Data.UserID == f.User:
		switch e.Type {
		case EventUserBanned, EventUserReactivated, EventUserErased:
			return e.Data.ConversationIDs
		}
		return []string{e.Data.ConversationID}
	}
	return nil
}

// Delivery is the verdict on one event for one user.
type Delivery struct {
	Events []Event
	// End is the error that ends the user's stream (their ban or erasure).
	End error
	// Recheck asks the stream to check its credential again: the app's keys
	// or settings changed.
	Recheck bool
	// Restate asks for the conversation as the user sees it now, in place of
	// the event's (their view ends before its last message).
	Restate bool
}

// Next decides what the user receives of e, the event after Pos, and
// moves past it. The feed must know e's changes (Known with Changes(e)).
func (f *Feed) Next(e *Event) Delivery {
	f.Pos = e.Pos
	d := e.Data
	me := d.UserID == f.User
	conv := f.views[d.ConversationID]
	var seq int64
	if e.Meta != nil {
		seq = e.Meta.Seq
	}
	one := func(data EventData) Delivery {
		out := *e
		out.Data, out.Meta, out.Cursor = data, nil, cursorOf(e.Pos)
		return Delivery{Events: []Event{out}}
	}
	switch e.Type {
	case EventMessageSent:
		if conv.Live() {
			return one(EventData{ConversationID: d.ConversationID, Message: d.Message})
		}
	case EventMessageUpdated:
		if conv.Sees(seq) {
			return one(EventData{ConversationID: d.ConversationID, Message: d.Message})
		}
	case EventMessageDeleted:
		if conv.Sees(seq) {
			return one(EventData{ConversationID: d.ConversationID, MessageID: d.MessageID})
		}
	case EventConversationUpdated:
		if conv.IsCurrent() {
			out := one(EventData{Conversation: d.Conversation})
			out.Restate = !conv.Sees(seq)
			return out
		}
	case EventConversationDeleted:
		f.apply(d.ConversationID, e.Pos)
		if conv != nil {
			return one(EventData{ConversationID: d.ConversationID})
		}
	case EventParticipantAdded, EventParticipantUpdated:
		if me {
			f.apply(d.ConversationID, e.Pos)
		}
		if me || conv.IsCurrent() {
			return one(EventData{ConversationID: d.ConversationID, UserID: d.UserID, Access: d.Access, Notify: d.Notify})
		}
	case EventParticipantRemoved:
		if me {
			f.apply(d.ConversationID, e.Pos)
		}
		if me || conv.IsCurrent() {
			return one(EventData{ConversationID: d.ConversationID, UserID: d.UserID})
		}
	case EventUserUpdated:
		if me {
			// A new role may grant or take permissions.
			out := one(d)
			out.Recheck = true
			return out
		}
	case EventReadUpdated:
		if me {
			return one(d)
		}
	case EventUserSilenced:
		if me {
			return Delivery{Recheck: true} // a silenced user's permissions are suspended
		}
	case EventReportCreated:
		if f.Reviewer && d.Report != nil && !f.about(d.Report.Target.UserID) {
			return one(EventData{Report: d.Report})
		}
	case EventReportResolved:
		if f.Reviewer && !f.about(&d.TargetUserID) {
			return one(EventData{ReportIDs: d.ReportIDs, Resolution: d.Resolution})
		}
	case EventUserErased:
		if me {
			return Delivery{End: Errorf(EAuthDenied, "This user may not use the app.")}
		}
		return f.expand(e, EventParticipantRemoved, false)
	case EventUserBanned:
		out := f.expand(e, EventParticipantRemoved, me)
		if me {
			// Whether the ban is still in force is for the stream to check:
			// a client resuming from before a lifted ban goes on.
			for _, c := range d.ConversationIDs {
				f.apply(c, e.Pos)
			}
			out.Recheck = true
		}
		return out
	case EventUserReactivated:
		out := f.expand(e, EventParticipantAdded, me)
		if me {
			for _, c := range d.ConversationIDs {
				f.apply(c, e.Pos)
			}
			out.Recheck = true // a silenced user's permissions come back
		}
		return out
	case EventKeysChanged, EventSettingsChanged:
		return Delivery{Recheck: true}
	}
	return Delivery{}
}

// about reports whether a report's target is the feed's user: a moderator
// never learns who reported them.
func (f *Feed) about(userID *string) bool { return userID != nil && *userID == f.User }

// expand turns a change of a user's memberships in many conversations at
// once into one participant event for each conversation: for the user
// themselves (me), and for the other participants of each.
func (f *Feed) expand(e *Event, typ string, me bool) Delivery {
	var out []Event
	for _, c := range e.Data.ConversationIDs {
		if !me && !f.views[c].IsCurrent() {
			continue
		}
		d := EventData{ConversationID: c, UserID: e.Data.UserID}
		if typ == EventParticipantAdded {
			d.Access, d.Notify = ReadWrite, NotifyOn
			if e.Meta != nil {
				p := e.Meta.Restored[c]
				d.Access, d.Notify = p.Access, p.Notify
			}
		}
		out = append(out, Event{ID: e.ID + "." + strconv.Itoa(len(out)), Cursor: cursorOf(e.Pos), Seq: e.Seq, Pos: e.Pos,
			AppID: e.AppID, Type: typ, CreatedAt: e.CreatedAt, Data: d})
	}
	// A client cut off inside the expansion resumes after the parts it saw.
	for i := 0; i < len(out)-1; i++ {
		out[i].Cursor = partCursor(e.Pos, i+1)
	}
	return Delivery{Events: out}
}

// Conversations are every conversation the feed knows the user in: at its
// position, or later in its snapshot. A stream's subscription wants them.
func (f *Feed) Conversations() []string {
	out := slices.Collect(maps.Keys(f.views))
	for c := range f.later {
		if _, ok := f.views[c]; !ok {
			out = append(out, c)
		}
	}
	return out
}

// ConversationIDs are the conversations the feed's user takes part in now.
func (f *Feed) ConversationIDs() []string {
	var out []string
	for c, v := range f.views {
		if v.IsCurrent() {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}
