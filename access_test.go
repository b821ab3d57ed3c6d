package parley_test

import (
	"testing"

	parley "github.com/parley-chat/parley"
)

func ptr[T any](v T) *T { return &v }

func TestFreeze(t *testing.T) {
	live := &parley.Member{Access: parley.ReadWrite}
	frozenAt3 := &parley.Member{Access: parley.NoAccess, FrozenSeq: ptr(int64(3))}
	removedAt3 := &parley.Member{Access: parley.Read, Removed: true, FrozenSeq: ptr(int64(3))}
	tests := []struct {
		name    string
		prev    *parley.Member
		next    parley.Access
		removed bool
		want    *int64
	}{
		{"new live member", nil, parley.ReadWrite, false, nil},
		{"new member with None freezes now", nil, parley.NoAccess, false, ptr(int64(9))},
		{"live to Read stays live", live, parley.Read, false, nil},
		{"live to None freezes now", live, parley.NoAccess, false, ptr(int64(9))},
		{"live removed freezes now", live, parley.ReadWrite, true, ptr(int64(9))},
		{"None removed keeps the point", frozenAt3, parley.NoAccess, true, ptr(int64(3))},
		{"removed back with None keeps the point", removedAt3, parley.NoAccess, false, ptr(int64(3))},
		{"removed back with Read reads live", removedAt3, parley.Read, false, nil},
		{"None back to ReadWrite reads live", frozenAt3, parley.ReadWrite, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parley.Freeze(tt.prev, tt.next, tt.removed, 9)
			if (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
				t.Errorf("got %v, want %v", deref(got), deref(tt.want))
			}
		})
	}
}

func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestSees(t *testing.T) {
	var never *parley.Member
	frozen := &parley.Member{FrozenSeq: ptr(int64(5))}
	live := &parley.Member{}
	for _, tt := range []struct {
		m    *parley.Member
		seq  int64
		want bool
	}{{never, 1, false}, {frozen, 5, true}, {frozen, 6, false}, {live, 1000, true}} {
		if got := tt.m.Sees(tt.seq); got != tt.want {
			t.Errorf("%+v sees %d = %v, want %v", tt.m, tt.seq, got, tt.want)
		}
	}
}

func TestCheckWriteOrder(t *testing.T) {
	banned := &parley.Moderation{State: parley.StateBanned}
	silenced := &parley.Moderation{State: parley.StateSilenced}
	rw := &parley.Member{Access: parley.ReadWrite}
	read := &parley.Member{Access: parley.Read}
	none := &parley.Member{Access: parley.NoAccess}
	removed := &parley.Member{Access: parley.ReadWrite, Removed: true}
	tests := []struct {
		name    string
		facts   parley.WriteFacts
		surface parley.Surface
		want    string
	}{
		{"allowed", parley.WriteFacts{Member: rw}, parley.Backend, ""},
		{"banned before everything", parley.WriteFacts{Moderation: banned, Member: removed, Blocked: true}, parley.Backend, parley.EUserBanned},
		{"silenced before removal", parley.WriteFacts{Moderation: silenced, Member: removed}, parley.Backend, parley.EUserSilenced},
		{"removed before read-only", parley.WriteFacts{Member: removed, Blocked: true}, parley.Backend, parley.ERemoved},
		{"never a participant, backend", parley.WriteFacts{}, parley.Backend, parley.ESenderNotParticipant},
		{"never a participant, client", parley.WriteFacts{}, parley.Client, parley.EConversationNotFound},
		{"never a participant comes first on the client", parley.WriteFacts{Moderation: silenced}, parley.Client, parley.EConversationNotFound},
		{"Read", parley.WriteFacts{Member: read, Blocked: true}, parley.Backend, parley.EReadOnly},
		{"None", parley.WriteFacts{Member: none}, parley.Client, parley.EReadOnly},
		{"blocked last", parley.WriteFacts{Member: rw, Blocked: true}, parley.Client, parley.EUserBlocked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parley.ErrorCode(parley.CheckWrite(tt.facts, tt.surface)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestModerationActiveAt(t *testing.T) {
	var none *parley.Moderation
	for _, tt := range []struct {
		m    *parley.Moderation
		want bool
	}{
		{none, false},
		{&parley.Moderation{State: parley.StateBanned}, true},
		{&parley.Moderation{State: parley.StateBanned, ExpiresAt: ptr(int64(100))}, false},
		{&parley.Moderation{State: parley.StateSilenced, ExpiresAt: ptr(int64(101))}, true},
	} {
		if got := tt.m.ActiveAt(100); got != tt.want {
			t.Errorf("%+v active at 100 = %v, want %v", tt.m, got, tt.want)
		}
	}
}

func TestSessionAdmit(t *testing.T) {
	banned := &parley.Moderation{State: parley.StateBanned}
	silenced := &parley.Moderation{State: parley.StateSilenced}
	tests := []struct {
		name     string
		s        parley.Session
		creating bool
		want     string
	}{
		{"existing user", parley.Session{UserExists: true}, false, ""},
		{"silenced user", parley.Session{UserExists: true, Moderation: silenced}, false, ""},
		{"missing user", parley.Session{}, false, parley.EUserNotFound},
		{"missing user creating themselves", parley.Session{}, true, ""},
		{"banned user", parley.Session{UserExists: true, Moderation: banned}, false, parley.EAuthDenied},
		{"banned user on PUT /me", parley.Session{UserExists: true, Moderation: banned}, true, parley.EAuthDenied},
		{"erased user", parley.Session{UserExists: true, UserDeleted: true}, true, parley.EAuthDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parley.ErrorCode(tt.s.Admit("u", tt.creating)); got != tt.want {
				t.Errorf("Admit = %q, want %q", got, tt.want)
			}
		})
	}
}
