package store

import parley "github.com/parley-chat/parley"

// An erasure's purge of the event log (purgeEvents), and what reading an
// event does while it waits for it.

// scrubEvents rewrites, among the app's events that the condition in
// selects, those that carried what the erasure removes: the user's profile (in
// user.created and user.updated, and as a reported user in report.created),
// their restrictions' reasons, which may say who they are, and with messages
// their messages' text and custom data (reported ones too) and the notes
// they wrote as a reporter. The events keep their place. scrubEvent does the same to an event
// read before its row is rewritten.
func (t *tx) scrubEvents(p *purgeRow, in string, args ...any) error {
	if t.pg() {
		return t.scrubEventsPG(p, in, args)
	}
	where := func(cond string, condArgs ...any) (string, []any) {
		return ` WHERE ` + in + ` AND ` + cond, append(append([]any{}, args...), condArgs...)
	}
	q, a := where(`type IN ('user.created', 'user.updated') AND json_extract(data, '$.userId') = ?`, *p.UserID)
	if _, err := t.exec("scrub user events", `UPDATE events SET data = json_object('userId', json_extract(data, '$.userId'))`+q, a...); err != nil {
		return err
	}
	q, a = where(`type IN ('user.banned', 'user.silenced') AND json_extract(data, '$.userId') = ?
		AND json_type(data, '$.moderation') = 'object'`, *p.UserID) // json_set would make one
	if _, err := t.exec("scrub moderation events", `UPDATE events SET data = json_set(data, '$.moderation.reason', NULL)`+q, a...); err != nil {
		return err
	}
	q, a = where(`type = 'report.created' AND json_extract(data, '$.report.target.user.id') = ?`, *p.UserID)
	if _, err := t.exec("scrub reported profile events", `UPDATE events SET data = json_set(data,
		'$.report.target.user.name', '', '$.report.target.user.photoUrl', NULL)`+q, a...); err != nil || !p.WithMessages {
		return err
	}
	q, a = where(`type = 'report.created' AND json_extract(data, '$.report.reporterId') = ?`, *p.UserID)
	if _, err := t.exec("scrub report note events", `UPDATE events SET data = json_set(data, '$.report.note', NULL)`+q, a...); err != nil {
		return err
	}
	for _, path := range []string{"$.message", "$.conversation.lastMessage", "$.report.target.message"} {
		q, a = where(`json_extract(data, '`+path+`.senderId') = ?`, *p.UserID)
		if _, err := t.exec("scrub message events", `UPDATE events SET data = json_set(data,
			'`+path+`.text', '', '`+path+`.custom', json('{}'), '`+path+`.deleted', json('true'),
			'`+path+`.attachment', json('null'))`+q, a...); err != nil {
			return err
		}
	}
	return nil
}

// scrubEventsPG is scrubEvents with PostgreSQL's JSON functions.
func (t *tx) scrubEventsPG(p *purgeRow, in string, args []any) error {
	where := func(cond string) (string, []any) {
		return ` WHERE ` + in + ` AND ` + cond, append(append([]any{}, args...), *p.UserID)
	}
	q, a := where(`type IN ('user.created', 'user.updated') AND data::jsonb ->> 'userId' = ?`)
	if _, err := t.exec("scrub user events", `UPDATE events SET data = jsonb_build_object('userId', data::jsonb -> 'userId')::text`+q, a...); err != nil {
		return err
	}
	q, a = where(`type IN ('user.banned', 'user.silenced') AND data::jsonb ->> 'userId' = ? AND data::jsonb -> 'moderation' IS NOT NULL`)
	if _, err := t.exec("scrub moderation events", `UPDATE events SET data = jsonb_set(data::jsonb, '{moderation,reason}', 'null')::text`+q, a...); err != nil {
		return err
	}
	q, a = where(`type = 'report.created' AND data::jsonb #>> '{report,target,user,id}' = ?`)
	if _, err := t.exec("scrub reported profile events", `UPDATE events SET data = jsonb_set(jsonb_set(data::jsonb,
		'{report,target,user,name}', '""'), '{report,target,user,photoUrl}', 'null')::text`+q, a...); err != nil || !p.WithMessages {
		return err
	}
	q, a = where(`type = 'report.created' AND data::jsonb #>> '{report,reporterId}' = ?`)
	if _, err := t.exec("scrub report note events", `UPDATE events SET data = jsonb_set(data::jsonb, '{report,note}', 'null')::text`+q, a...); err != nil {
		return err
	}
	for _, path := range []string{"message", "conversation,lastMessage", "report,target,message"} {
		q, a = where(`data::jsonb #>> '{` + path + `,senderId}' = ?`)
		if _, err := t.exec("scrub message events", `UPDATE events SET data = jsonb_set(jsonb_set(jsonb_set(jsonb_set(data::jsonb,
			'{`+path+`,text}', '""'), '{`+path+`,custom}', '{}'), '{`+path+`,deleted}', 'true'), '{`+path+`,attachment}', 'null')::text`+q, a...); err != nil {
			return err
		}
	}
	return nil
}

// erasing is the pending erasure of a user's events.
type erasing struct {
	userID   string
	messages bool
}

// scrubEvent does to an event what scrubEvents does to its row.
func scrubEvent(e *parley.Event, p erasing) {
	switch e.Type {
	case parley.EventUserCreated, parley.EventUserUpdated:
		if e.Data.UserID == p.userID {
			e.Data = parley.EventData{UserID: p.userID}
		}
	case parley.EventUserBanned, parley.EventUserSilenced:
		if e.Data.UserID == p.userID && e.Data.Moderation != nil {
			e.Data.Moderation.Reason = nil
		}
	case parley.EventReportCreated:
		if r := e.Data.Report; r != nil {
			if u := r.Target.User; u != nil && u.ID == p.userID {
				u.Name, u.PhotoURL = "", nil
			}
			if p.messages {
				scrubMessage(r.Target.Message, p.userID)
				if r.ReporterID == p.userID {
					r.Note = nil
				}
			}
		}
	}
	if !p.messages {
		return
	}
	scrubMessage(e.Data.Message, p.userID)
	if e.Data.Conversation != nil {
		scrubMessage(e.Data.Conversation.LastMessage, p.userID)
	}
}

func scrubMessage(m *parley.Message, userID string) {
	if m != nil && m.SenderID != nil && *m.SenderID == userID {
		m.Text, m.Custom, m.Deleted, m.Attachment = "", parley.Custom{}, true, nil
	}
}

// scrubPending applies, to events read from rows that an erasure's purge
// has yet to rewrite (eventRow.Erasing), what the purge will do.
func (t *tx) scrubPending(rows []eventRow, out []parley.Event) error {
	var apps []string
	seen := map[string]bool{}
	for _, r := range rows {
		if r.Erasing && !seen[r.AppID] {
			seen[r.AppID] = true
			apps = append(apps, r.AppID)
		}
	}
	if len(apps) == 0 {
		return nil
	}
	var pending []struct {
		AppID        string `db:"app_id"`
		UserID       string `db:"user_id"`
		WithMessages bool   `db:"with_messages"`
	}
	if err := t.in("read pending erasures", &pending, `SELECT app_id, user_id, with_messages FROM purges
		WHERE kind = '`+purgeEvents+`' AND app_id IN (?) AND user_id IS NOT NULL`, apps); err != nil {
		return err
	}
	for i := range out {
		for _, p := range pending {
			if p.AppID == out[i].AppID {
				scrubEvent(&out[i], erasing{p.UserID, p.WithMessages})
			}
		}
	}
	return nil
}
