package store

import (
	parley "github.com/parley-chat/parley"
	"slices"
)

// reportRow is a report as stored, with its open count when listed.
type reportRow struct {
	PK                  int64   `db:"pk"`
	ID                  string  `db:"id"`
	ReporterID          string  `db:"reporter_id"`
	TargetType          string  `db:"target_type"`
	TargetID            string  `db:"target_id"`
	TargetUserID        *string `db:"target_user_id"`
	ConversationID      *string `db:"conversation_id"`
	SnapType            *string `db:"snap_type"`
	SnapText            *string `db:"snap_text"`
	SnapCustom          *string `db:"snap_custom"`
	SnapCreatedAt       *int64  `db:"snap_created_at"`
	SnapEditedAt        *int64  `db:"snap_edited_at"`
	SnapOrigin          *string `db:"snap_origin"`
	SnapPhotoURL        *string `db:"snap_photo_url"`
	Reason              string  `db:"reason"`
	Note                *string `db:"note"`
	CreatedAt           int64   `db:"created_at"`
	ResolvedAt          *int64  `db:"resolved_at"`
	Action              *string `db:"action"`
	ResolvedBy          *string `db:"resolved_by"`
	ResolutionReason    *string `db:"resolution_reason"`
	ResolutionExpiresAt *int64  `db:"resolution_expires_at"`
	OpenReports         int     `db:"open_reports"`
}

const reportColumns = `r.pk, r.id, r.reporter_id, r.target_type, r.target_id, r.target_user_id, r.conversation_id,
	r.snap_type, r.snap_text, r.snap_custom, r.snap_created_at, r.snap_edited_at, r.snap_origin, r.snap_photo_url,
	r.reason, r.note, r.created_at, r.resolved_at, r.action, r.resolved_by, r.resolution_reason, r.resolution_expires_at,
	(SELECT count(*) FROM reports o WHERE o.app_id = r.app_id AND o.target_type = r.target_type
		AND o.target_id = r.target_id AND o.resolved_at IS NULL) AS open_reports`

func (r *reportRow) report() parley.Report {
	out := parley.Report{PK: r.PK, ID: r.ID, Status: parley.ReportOpen, Reason: r.Reason, Note: r.Note, ReporterID: r.ReporterID,
		OpenReports: r.OpenReports, CreatedAt: r.CreatedAt,
		Target: parley.ReportTarget{Type: r.TargetType, UserID: r.TargetUserID, ConversationID: r.ConversationID, Key: r.TargetID}}
	text := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	switch r.TargetType {
	case parley.ReportMessage:
		custom := parley.Custom{}
		if r.SnapCustom != nil {
			custom = customMap(*r.SnapCustom)
		}
		var created int64
		if r.SnapCreatedAt != nil {
			created = *r.SnapCreatedAt
		}
		out.Target.Message = &parley.Message{ID: r.TargetID, ConversationID: text(r.ConversationID), Type: text(r.SnapType),
			SenderID: r.TargetUserID, Text: text(r.SnapText), Custom: custom, Origin: text(r.SnapOrigin), CreatedAt: created,
			EditedAt: r.SnapEditedAt, ReadBy: []string{}}
	case parley.ReportUser:
		out.Target.User = &parley.ReportedUser{ID: r.TargetID, Name: text(r.SnapText), PhotoURL: r.SnapPhotoURL}
	}
	if r.ResolvedAt != nil {
		out.Status = parley.ReportResolved
		out.Resolution = &parley.ReportResolution{Action: text(r.Action), Reason: r.ResolutionReason,
			ExpiresAt: r.ResolutionExpiresAt, By: parley.Actor(text(r.ResolvedBy)), At: *r.ResolvedAt}
	}
	return out
}

func (t *tx) OpenReport(appID, reporterID, targetType, key string) (string, error) {
	var id string
	err := t.get("find open report", &id, `SELECT id FROM reports WHERE app_id = ? AND reporter_id = ? AND target_type = ?
		AND target_id = ? AND resolved_at IS NULL`, appID, reporterID, targetType, key)
	if notFound(err) {
		return "", nil
	}
	return id, err
}

func (t *tx) InsertReport(appID string, r *parley.Report) error {
	var typ, text, custom, origin, photo *string
	var created, edited *int64
	switch {
	case r.Target.Message != nil:
		m := r.Target.Message
		c := jsonText(m.Custom)
		typ, text, custom, origin, created, edited = &m.Type, &m.Text, &c, &m.Origin, &m.CreatedAt, m.EditedAt
	case r.Target.User != nil:
		text, photo = &r.Target.User.Name, r.Target.User.PhotoURL
	}
	return t.get("insert report", &r.PK, `INSERT INTO reports (id, app_id, reporter_id, target_type, target_id, target_user_id,
		conversation_id, snap_type, snap_text, snap_custom, snap_created_at, snap_edited_at, snap_origin, snap_photo_url,
		reason, note, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING pk`,
		r.ID, appID, r.ReporterID, r.Target.Type, r.Target.Key, r.Target.UserID, r.Target.ConversationID,
		typ, text, custom, created, edited, origin, photo, r.Reason, r.Note, r.CreatedAt)
}

func (t *tx) Report(appID, id string) (*parley.Report, error) {
	var r reportRow
	err := t.get("read report", &r, `SELECT `+reportColumns+` FROM reports r WHERE r.app_id = ? AND r.id = ?`+t.locking(" FOR UPDATE OF r"), appID, id)
	if notFound(err) {
		return nil, parley.ErrReportNotFound(id)
	} else if err != nil {
		return nil, err
	}
	out := r.report()
	return &out, nil
}

// Reports pages the queue: open ones oldest first, resolved ones newest
// first.
func (t *tx) Reports(appID string, q parley.ReportQuery) ([]parley.Report, error) {
	open := q.Status != parley.ReportResolved
	state, order, cmp, start := `r.resolved_at IS NULL`, `ASC`, `>`, int64(0)
	if !open {
		state, order, cmp, start = `r.resolved_at IS NOT NULL`, `DESC`, `<`, afterPage
	}
	state += ` AND (? = '' OR r.target_user_id IS NULL OR r.target_user_id <> ?)`
	if q.Page.StartingAfter != "" {
		err := t.get("find report cursor", &start, `SELECT r.pk FROM reports r WHERE r.app_id = ? AND r.id = ? AND `+state,
			appID, q.Page.StartingAfter, q.NotAbout, q.NotAbout)
		if notFound(err) {
			return nil, parley.ErrNotInList()
		} else if err != nil {
			return nil, err
		}
	}
	var rows []reportRow
	if err := t.sel("list reports", &rows, `SELECT `+reportColumns+` FROM reports r WHERE r.app_id = ? AND `+state+`
		AND r.pk `+cmp+` ? ORDER BY r.pk `+order+` LIMIT ?`, appID, q.NotAbout, q.NotAbout, start, q.Page.Limit); err != nil {
		return nil, err
	}
	out := make([]parley.Report, len(rows))
	for i := range rows {
		out[i] = rows[i].report()
	}
	return out, nil
}

func (t *tx) ResolveReports(appID, targetType, key string, res parley.ReportResolution) ([]string, error) {
	ids := []string{}
	err := t.sel("resolve reports", &ids, `UPDATE reports SET resolved_at = ?, action = ?, resolved_by = ?,
		resolution_reason = ?, resolution_expires_at = ?
		WHERE app_id = ? AND target_type = ? AND target_id = ? AND resolved_at IS NULL RETURNING id`,
		res.At, res.Action, string(res.By), res.Reason, res.ExpiresAt, appID, targetType, key)
	slices.Sort(ids)
	return ids, err
}

// ScrubReports clears what reports kept of an erased user: the profile
// they showed, and with messages the text and custom data of their
// reported messages and the notes they wrote as a reporter. The copies in
// report.created events go with the erasure's purge of the log
// (scrubEvents), in its bounded steps.
func (t *tx) ScrubReports(appID, userID string, messages bool) error {
	if _, err := t.exec("scrub reported profiles", `UPDATE reports SET snap_text = '', snap_photo_url = NULL
		WHERE app_id = ? AND target_user_id = ? AND target_type = 'user'`, appID, userID); err != nil || !messages {
		return err
	}
	if _, err := t.exec("scrub reported messages", `UPDATE reports SET snap_text = '', snap_custom = '{}'
		WHERE app_id = ? AND target_user_id = ? AND target_type = 'message'`, appID, userID); err != nil {
		return err
	}
	_, err := t.exec("scrub report notes", `UPDATE reports SET note = NULL WHERE app_id = ? AND reporter_id = ?`, appID, userID)
	return err
}
