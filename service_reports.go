package parley

import (
	"context"
	"time"
)

// ReportService takes users' reports and works the moderators' queue
// (API.md section 15).
type ReportService interface {
	// ReportMessage reports a message in the caller's view; a reporter's
	// second report of the same target while the first is open answers
	// the first's id.
	ReportMessage(ctx context.Context, appID string, by Caller, convID, msgID string, r NewReport) (string, error)
	// ReportUser reports a user.
	ReportUser(ctx context.Context, appID string, by Caller, userID string, r NewReport) (string, error)
	// Reports pages the queue, for the backend or a role with reports.review.
	Reports(ctx context.Context, appID string, by Caller, q ReportQuery) ([]Report, error)
	// ResolveReport acts on the report's target and closes every open
	// report of it, in one transaction with the action.
	ResolveReport(ctx context.Context, appID string, by Caller, id string, r Resolve) (*Report, error)
}

var _ ReportService = (*Service)(nil)

// ReportMessage implements ReportService.
func (s *Service) ReportMessage(ctx context.Context, appID string, by Caller, convID, msgID string, r NewReport) (string, error) {
	if err := Check(&r, ""); err != nil {
		return "", err
	}
	var id string
	err := s.write(ctx, appID, func(w *change) error {
		_, _, m, err := w.visibleMessage(convID, msgID, by.UserID)
		if err != nil {
			return err
		}
		if m.Deleted {
			return ErrMessageNotFound()
		}
		if m.SenderID != nil && *m.SenderID == by.UserID {
			return Errorf(EInvalid, "You cannot report your own message.")
		}
		id, err = w.report(by, &r, ReportTarget{Type: ReportMessage, UserID: m.SenderID, ConversationID: &convID, Message: m, Key: m.ID})
		return err
	})
	return id, err
}

// ReportUser implements ReportService.
func (s *Service) ReportUser(ctx context.Context, appID string, by Caller, userID string, r NewReport) (string, error) {
	if err := Check(&r, ""); err != nil {
		return "", err
	}
	if userID == by.UserID {
		return "", Errorf(EInvalid, "You cannot report yourself.")
	}
	var id string
	err := s.write(ctx, appID, func(w *change) error {
		u, err := liveUser(w, appID, userID, false)
		if err != nil {
			return err
		}
		id, err = w.report(by, &r, ReportTarget{Type: ReportUser, UserID: &u.ID, Key: u.ID,
			User: &ReportedUser{ID: u.ID, Name: u.Name, PhotoURL: u.PhotoURL}})
		return err
	})
	return id, err
}

// report stores the caller's report of the target, unless they have one
// open already, whose id it answers.
func (w *change) report(by Caller, r *NewReport, target ReportTarget) (string, error) {
	if id, err := w.OpenReport(w.app, by.UserID, target.Type, target.Key); err != nil || id != "" {
		return id, err
	}
	rep := &Report{ID: NewReportID(), Status: ReportOpen, Reason: r.Reason, Note: r.Note, ReporterID: by.UserID,
		Target: target, CreatedAt: w.now}
	if rep.Target.Message != nil {
		m := *rep.Target.Message
		m.ReadBy = []string{}
		rep.Target.Message = &m
	}
	if err := w.InsertReport(w.app, rep); err != nil {
		return "", err
	}
	// The event carries the report as the queue shows it.
	stored, err := w.Report(w.app, rep.ID)
	if err != nil {
		return "", err
	}
	w.emit(EventReportCreated, EventData{Report: stored})
	return rep.ID, nil
}

// Reports implements ReportService.
func (s *Service) Reports(ctx context.Context, appID string, by Caller, q ReportQuery) ([]Report, error) {
	switch q.Status {
	case "":
		q.Status = ReportOpen
	case ReportOpen, ReportResolved:
	default:
		return nil, Invalid("status", "must be open or resolved")
	}
	if by.Surface == Client {
		q.NotAbout = by.UserID
	}
	var out []Report
	err := s.read(ctx, func(tx Tx) error {
		if err := s.permit(tx, appID, by, PermReportsReview); err != nil {
			return err
		}
		var err error
		out, err = tx.Reports(appID, q)
		return err
	})
	return out, err
}

// ResolveReport implements ReportService. A moderator never resolves, nor
// sees, a report about themselves. From a client the caller needs
// reports.review and what the action needs besides: messages.moderate to
// delete a message, users.manage to silence or ban (whom the backend
// alone acts on managers). A message deleted meanwhile is deleted enough.
func (s *Service) ResolveReport(ctx context.Context, appID string, by Caller, id string, r Resolve) (*Report, error) {
	if err := Check(&r, ""); err != nil {
		return nil, err
	}
	var out *Report
	err := s.write(ctx, appID, func(w *change) error {
		if err := s.permit(w, appID, by, PermReportsReview); err != nil {
			return err
		}
		rep, err := w.Report(appID, id)
		if err != nil {
			return err
		}
		if by.Surface == Client && rep.Target.UserID != nil && *rep.Target.UserID == by.UserID {
			return Errorf(EPermissionDenied, "Reports about you are for the backend or another moderator.")
		}
		if rep.Status == ReportResolved {
			return Errorf(EConflict, "This report was resolved already.")
		}
		t := rep.Target
		restriction := Restriction{Reason: r.Reason, ExpiresAt: r.ExpiresAt}
		switch r.Action {
		case ResolveDeleteMessage:
			if t.Type != ReportMessage {
				return Invalid("action", "delete_message needs a reported message")
			}
			if err := s.permit(w, appID, by, PermMessagesModerate); err != nil {
				return err
			}
			if err := s.notManagersMessage(w, by, t); err != nil {
				return err
			}
			if err := w.deleteReported(t, by); err != nil {
				return err
			}
		case ResolveSilence, ResolveBan:
			if t.UserID == nil {
				return Invalid("action", "a SystemMessage has no sender to "+r.Action)
			}
			if err := restriction.ValidateAt(time.UnixMilli(w.now)); err != nil {
				return err
			}
			if r.Action == ResolveSilence {
				err = s.silence(w, by, *t.UserID, restriction)
			} else {
				err = s.ban(w, by, *t.UserID, restriction, r.RemoveFromConversations == nil || *r.RemoveFromConversations)
			}
			if err != nil {
				return err
			}
		}
		res := ReportResolution{Action: r.Action, Reason: r.Reason, ExpiresAt: r.ExpiresAt, By: by.Actor, At: w.now}
		ids, err := w.ResolveReports(appID, t.Type, t.Key, res)
		if err != nil {
			return err
		}
		resolved := EventData{ReportIDs: ids, Resolution: &res}
		if t.UserID != nil {
			resolved.TargetUserID = *t.UserID // the reported user, whose streams leave it out
		}
		w.emit(EventReportResolved, resolved)
		entry := AuditEntry{Action: ActionReportResolve, Actor: by.Actor, Reason: r.Reason, ExpiresAt: r.ExpiresAt,
			ConversationID: t.ConversationID, CreatedAt: w.now}
		if t.UserID != nil {
			entry.UserID = *t.UserID
		}
		if t.Type == ReportMessage {
			entry.MessageID = &t.Key
		}
		if _, err := w.AppendAudit(appID, entry); err != nil {
			return err
		}
		rep.Status, rep.Resolution, rep.OpenReports = ReportResolved, &res, 0
		out = rep
		return nil
	})
	return out, err
}

// notManagersMessage refuses a client's deletion of a message whose sender's
// role grants users.manage: such messages are the backend's to delete, as
// on DELETE /me/conversations/{id}/messages/{id}. An erased sender manages
// nothing.
func (s *Service) notManagersMessage(w *change, by Caller, t ReportTarget) error {
	if by.Surface != Client || t.UserID == nil {
		return nil
	}
	sender, err := w.User(w.app, *t.UserID)
	if ErrorCode(err) == EUserNotFound {
		return nil
	} else if err != nil {
		return err
	}
	return s.notManager(w, w.app, sender)
}

// deleteReported deletes a reported message, with its audit entry; one
// already gone (deleted, or its conversation) needs nothing more.
func (w *change) deleteReported(t ReportTarget, by Caller) error {
	c, err := w.LockConversation(w.app, *t.ConversationID)
	if ErrorCode(err) == EConversationNotFound {
		return nil
	} else if err != nil {
		return err
	}
	m, err := w.Message(c, t.Key)
	if ErrorCode(err) == EMessageNotFound || (err == nil && m.Deleted) {
		return nil
	} else if err != nil {
		return err
	}
	if err := w.deleteMessage(c, t.Key); err != nil {
		return err
	}
	sender := ""
	if t.UserID != nil {
		sender = *t.UserID
	}
	_, err = w.AppendAudit(w.app, AuditEntry{Action: ActionMessageDelete, UserID: sender, ConversationID: t.ConversationID,
		MessageID: &t.Key, Actor: by.Actor, CreatedAt: w.now})
	return err
}
