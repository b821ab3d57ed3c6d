package api

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	parley "github.com/parley-chat/parley"
)

// reportID is the answer to a report.
type reportID struct {
	ID string `json:"id"`
}

// meReportMessage is POST /me/conversations/{id}/messages/{messageId}/report.
func (s *Server) meReportMessage(w http.ResponseWriter, r *http.Request) {
	convID, msgID, err := messageParams(r)
	s.report(w, r, err, func(body parley.NewReport) (string, error) {
		return s.Reports.ReportMessage(r.Context(), appID(r), caller(r), convID, msgID, body)
	})
}

// meReportUser is POST /me/users/{userId}/report.
func (s *Server) meReportUser(w http.ResponseWriter, r *http.Request) {
	userID, err := userIDParam(r)
	s.report(w, r, err, func(body parley.NewReport) (string, error) {
		return s.Reports.ReportUser(r.Context(), appID(r), caller(r), userID, body)
	})
}

// report answers a report: the path's error (pathErr) first, then the
// body's, then what file says.
func (s *Server) report(w http.ResponseWriter, r *http.Request, pathErr error, file func(parley.NewReport) (string, error)) {
	if pathErr != nil {
		s.writeError(w, r, pathErr)
		return
	}
	var body parley.NewReport
	if err := decode(w, r, &body, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	id, err := file(body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, reportID{id})
}

// listReports is GET /moderation/reports and /me/moderation/reports.
func (s *Server) listReports(w http.ResponseWriter, r *http.Request) {
	page, err := pageParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	reports, err := s.Reports.Reports(r.Context(), appID(r), caller(r), parley.ReportQuery{Status: r.URL.Query().Get("status"), Page: page})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, list[[]parley.Report]{nonNil(reports)})
}

// resolveReport is POST /moderation/reports/{reportId}/resolve and its
// /me twin: a client's permission comes before its body.
func (s *Server) resolveReport(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "reportId")
	if !strings.HasPrefix(id, "rep_") || !parley.ValidID(id) {
		s.writeError(w, r, parley.Errorf(parley.EReportNotFound, "There is no such report."))
		return
	}
	by := caller(r)
	if by.Surface == parley.Client {
		if err := s.Moderation.Authorize(r.Context(), appID(r), by, "", parley.PermReportsReview); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	var body parley.Resolve
	if err := decode(w, r, &body, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	rep, err := s.Reports.ResolveReport(r.Context(), appID(r), by, id, body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok(w, rep)
}
