package parley

import "slices"

// Member is the stored state of one user in one conversation. A nil *Member
// means the user never took part.
type Member struct {
	Access    Access
	Notify    Notify
	Removed   bool
	RemovedAt *int64
	// RemovedByAdmin marks a removal by the backend or a moderator: no client
	// may undo it.
	RemovedByAdmin bool
	// FrozenSeq is the freeze point: nil while the member reads live, else the
	// sequence number of the last message the member may see. It is set when
	// access leaves ReadWrite/Read and kept until access is ReadWrite or Read again.
	FrozenSeq *int64
	// ReadSeq is the sequence number of the newest message the member read
	// (0: none).
	ReadSeq int64
}

// Current reports whether the member is a participant now (any access).
func (m *Member) Current() bool { return m != nil && !m.Removed }

// Sees reports whether the member may read the message with sequence seq.
func (m *Member) Sees(seq int64) bool {
	if m == nil {
		return false
	}
	return m.FrozenSeq == nil || seq <= *m.FrozenSeq
}

// Freeze returns the freeze point after a member's access becomes next, or
// after removal, given the conversation's last sequence number. Live access
// clears it; otherwise an existing point is kept (None then removal, or a
// membership restored with None), and a new one is the last sequence now.
func Freeze(prev *Member, next Access, removed bool, lastSeq int64) *int64 {
	if !removed && next.ReadsLive() {
		return nil
	}
	if prev != nil && prev.FrozenSeq != nil {
		p := *prev.FrozenSeq
		return &p
	}
	return &lastSeq
}

// Surface is the side of the API a request comes from.
type Surface int

// Surfaces.
const (
	Backend Surface = iota // a secret key or app JWT
	Client                 // a user session
)

// SenderFacts are what a send checks of a sender who takes part in the
// conversation, read at once: their stored restriction (in force or not),
// their membership and, when the sender is one of exactly two current
// participants, the other one (who may have blocked them), else "".
type SenderFacts struct {
	Moderation *Moderation
	Member     *Member
	Other      string
}

// WriteFacts are what decides whether a user may send in a conversation,
// read inside the transaction that would write.
type WriteFacts struct {
	Conversation string      // its id, for the answer
	Moderation   *Moderation // in force now, or nil
	Member       *Member     // nil: never a participant
	// Blocked is true in a direct conversation whose other participant blocked the sender.
	Blocked bool
}

// writeRefusals are CheckWrite's refusals in its order.
var writeRefusals = []string{EUserBanned, EUserSilenced, ERemoved, ESenderNotParticipant, EReadOnly, EUserBlocked}

// FirstRefusal is whichever of two write refusals comes first in
// CheckWrite's order (a before b when they tie), for a write whose
// senders are refused for different reasons. prev may be nil.
func FirstRefusal(prev, err error) error {
	if prev == nil || slices.Index(writeRefusals, ErrorCode(err)) < slices.Index(writeRefusals, ErrorCode(prev)) {
		return err
	}
	return prev
}

// IsWriteRefusal reports whether err is one of CheckWrite's refusals.
func IsWriteRefusal(err error) bool { return slices.Contains(writeRefusals, ErrorCode(err)) }

// CheckWrite returns nil when the user may send, else the first refusal in
// the contract's order: (on the client surface, a conversation never joined)
// banned, silenced, removed (or never a participant), read-only (Read and
// None), blocked.
func CheckWrite(f WriteFacts, s Surface) error {
	// A client learns nothing about a conversation it never took part in.
	if f.Member == nil && s == Client {
		return ErrConversationNotFound(f.Conversation)
	}
	if f.Moderation != nil {
		switch f.Moderation.State {
		case StateBanned:
			return Errorf(EUserBanned, "The user is banned.")
		case StateSilenced:
			return Errorf(EUserSilenced, "The user is silenced and cannot send messages.")
		}
	}
	switch {
	case f.Member == nil:
		return Errorf(ESenderNotParticipant, "The sender is not a participant of the conversation.")
	case f.Member.Removed:
		return Errorf(ERemoved, "The user was removed from the conversation.")
	case f.Member.Access != ReadWrite:
		return Errorf(EReadOnly, "The user may read but not write in the conversation.")
	case f.Blocked:
		return Errorf(EUserBlocked, "The other participant blocked this user.")
	}
	return nil
}
