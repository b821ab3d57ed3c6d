// Package api is Parley's HTTP surface: the router, one file per resource,
// JSON in and out, and one error writer.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	parley "github.com/parley-chat/parley"
	"github.com/parley-chat/parley/auth"
)

// Server holds the handlers' dependencies.
type Server struct {
	Apps          parley.AppService
	Users         parley.UserService
	Conversations parley.ConversationService
	Messages      parley.MessageService
	Blocks        parley.BlockService
	Sessions      parley.SessionService
	Moderation    parley.ModerationService
	Events        parley.EventService
	Reads         parley.ReadService
	Webhooks      parley.WebhookService
	Reports       parley.ReportService
	Files         parley.FileService
	Auth          *auth.Authenticator
	// Ready reports whether the database answers, for /readyz.
	Ready   func(ctx context.Context) error
	OpenAPI []byte
	Logger  *slog.Logger
	Now     func() time.Time
	// Limits are the rate limits; zero values turn them off.
	Limits RateLimits
	// Metrics records requests, streams and refusals (nil: nothing).
	Metrics *Metrics
	// PublicURL is the server as browsers reach it, for console links
	// ("": the request's own host).
	PublicURL string
	// MaxFileSize is the largest upload in bytes (0: parley.DefaultMaxFileSize).
	MaxFileSize int64
	// FrameTimeout bounds writing one frame of an event stream: a client
	// that has not taken it by then is gone (0: 10 seconds).
	FrameTimeout time.Duration

	// buckets limit credentials, failures limit failed authentications:
	// apart, so that churning one cannot evict the other.
	buckets, failures *parley.Buckets

	// The last readiness check, reused for a second: it writes, and
	// anyone may ask.
	readyMu  sync.Mutex
	readyAt  time.Time
	readyErr error

	// routes are the requests' metrics, by route (nil without Metrics).
	routes *routeTable

	// streams ends when the server shuts down: event streams outlive the
	// requests that Shutdown waits for.
	streams      context.Context
	closeStreams context.CancelFunc

	// router is what Handler returns; a batch runs its operations through it.
	router http.Handler
}

// CloseStreams ends every event stream and pending long poll.
func (s *Server) CloseStreams() { s.closeStreams() }

// streamContext is the request's context, ended too by CloseStreams.
func (s *Server) streamContext(r *http.Request) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parley.WithoutSettingsMemo(r.Context()))
	stop := context.AfterFunc(s.streams, cancel)
	return ctx, func() { stop(); cancel() }
}

// Handler returns the router. Routes are matched before the app and the
// credentials are checked, so an unknown route or method is answered first.
func (s *Server) Handler() http.Handler {
	s.buckets, s.failures = parley.NewBuckets(s.Now), parley.NewBuckets(s.Now)
	s.streams, s.closeStreams = context.WithCancel(context.Background())
	r := chi.NewRouter()
	r.Use(s.logRequests, secureHeaders, s.addressLimit, s.recoverPanics, s.cors, s.refuseUnreadable)
	r.NotFound(s.routeNotFound)
	r.MethodNotAllowed(s.methodNotAllowed)

	// Uptime monitors often probe with HEAD.
	r.Get("/healthz", s.healthz)
	r.Head("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	r.Head("/readyz", s.readyz)
	r.Get("/openapi.yaml", s.openapi)
	r.Get("/console", s.console)
	r.Get("/console/*", s.console)

	r.Group(func(r chi.Router) {
		r.Use(s.requireApp, s.requireAdmin)
		r.Post("/v1/{appId}/batch", s.batch)
		r.Post("/v1/{appId}/files", s.upload)
		r.Post("/v1/{appId}/console-links", s.consoleLink)
		r.Get("/v1/{appId}/settings", s.getSettings)
		r.Patch("/v1/{appId}/settings", s.patchSettings)

		r.Get("/v1/{appId}/users", s.listUsers)
		r.Put("/v1/{appId}/users", s.putUsers)
		r.Get("/v1/{appId}/users/{userId}", s.getUser)
		r.Put("/v1/{appId}/users/{userId}", s.putUser)
		r.Get("/v1/{appId}/users/{userId}/conversations", s.userConversations)
		r.Delete("/v1/{appId}/users/{userId}", s.eraseUser)
		r.Get("/v1/{appId}/users/search", s.searchUsers)
		r.Post("/v1/{appId}/users/{userId}/ban", decodeThen(s, s.ban))
		r.Post("/v1/{appId}/users/{userId}/silence", decodeThen(s, s.silence))
		r.Post("/v1/{appId}/users/{userId}/reactivate", decodeThen(s, s.reactivate))
		r.Get("/v1/{appId}/users/{userId}/blocks", s.userBlocks)
		r.Put("/v1/{appId}/users/{userId}/blocks/{otherUserId}", s.putUserBlock)
		r.Delete("/v1/{appId}/users/{userId}/blocks/{otherUserId}", s.deleteUserBlock)
		r.Get("/v1/{appId}/moderation/users", s.restrictedUsers)
		r.Get("/v1/{appId}/moderation/log", s.auditLog)
		r.Get("/v1/{appId}/moderation/reports", s.listReports)
		r.Post("/v1/{appId}/moderation/reports/{reportId}/resolve", s.resolveReport)
		r.Get("/v1/{appId}/events", s.appEvents)

		r.Post("/v1/{appId}/webhooks", s.createWebhook)
		r.Get("/v1/{appId}/webhooks", s.listWebhooks)
		r.Get("/v1/{appId}/webhooks/{webhookId}", s.getWebhook)
		r.Patch("/v1/{appId}/webhooks/{webhookId}", s.patchWebhook)
		r.Delete("/v1/{appId}/webhooks/{webhookId}", s.deleteWebhook)
		r.Post("/v1/{appId}/webhooks/{webhookId}/rotate-secret", s.rotateWebhookSecret)
		r.Get("/v1/{appId}/webhooks/{webhookId}/deliveries", s.listDeliveries)
		r.Post("/v1/{appId}/webhooks/{webhookId}/deliveries/{eventId}/retry", s.retryDelivery)
		r.Post("/v1/{appId}/webhooks/{webhookId}/replay", s.replayWebhook)

		r.Get("/v1/{appId}/conversations", s.listConversations)
		r.Get("/v1/{appId}/conversations/{conversationId}", s.getConversation)
		r.Put("/v1/{appId}/conversations/{conversationId}", s.putConversation)
		r.Delete("/v1/{appId}/conversations/{conversationId}", s.deleteConversation)

		r.Put("/v1/{appId}/conversations/{conversationId}/participants/{userId}", s.putParticipant)
		r.Patch("/v1/{appId}/conversations/{conversationId}/participants/{userId}", s.patchParticipant)
		r.Delete("/v1/{appId}/conversations/{conversationId}/participants/{userId}", s.deleteParticipant)

		r.Post("/v1/{appId}/conversations/{conversationId}/readBy/{userId}", s.markReadBy)
		r.Get("/v1/{appId}/conversations/{conversationId}/messages", s.listMessages)
		r.Post("/v1/{appId}/conversations/{conversationId}/messages", s.postMessages)
		r.Post("/v1/{appId}/import/conversations/{conversationId}/messages", s.importMessages)
		r.Get("/v1/{appId}/conversations/{conversationId}/messages/{messageId}", s.getMessage)
		r.Patch("/v1/{appId}/conversations/{conversationId}/messages/{messageId}", s.patchMessage)
		r.Delete("/v1/{appId}/conversations/{conversationId}/messages/{messageId}", s.deleteMessage)
	})

	// A download link is its own credential.
	r.With(s.requireApp).Get("/v1/{appId}/files/{fileId}", s.download)

	// The client surface: one signed-in user. The event stream
	// authenticates itself: a WebSocket may do it in its first frame.
	r.With(s.requireApp).Get("/v1/{appId}/me/events", s.meEvents)
	r.Group(func(r chi.Router) {
		r.Use(s.requireApp, s.requireClient(true))
		r.Put("/v1/{appId}/me", s.putMe)
	})
	r.Group(func(r chi.Router) {
		r.Use(s.requireApp, s.requireClient(false))
		r.Get("/v1/{appId}/me", s.getMe)
		r.Get("/v1/{appId}/me/users", s.listMeUsers)
		r.Get("/v1/{appId}/me/users/{userId}", s.getMeUser)
		r.Get("/v1/{appId}/me/users/search", s.meSearchUsers)
		r.Post("/v1/{appId}/me/users/{userId}/ban", s.meBan)
		r.Post("/v1/{appId}/me/users/{userId}/silence", s.meSilence)
		r.Post("/v1/{appId}/me/users/{userId}/reactivate", s.meReactivate)
		r.Post("/v1/{appId}/me/users/{userId}/report", s.meReportUser)
		r.Get("/v1/{appId}/me/moderation/reports", s.listReports)
		r.Get("/v1/{appId}/me/moderation/users", s.restrictedUsers)
		r.Get("/v1/{appId}/me/moderation/log", s.auditLog)
		r.Post("/v1/{appId}/me/moderation/reports/{reportId}/resolve", s.resolveReport)
		r.Patch("/v1/{appId}/me/conversations/{conversationId}/participants/{userId}", s.mePatchParticipant)
		r.Delete("/v1/{appId}/me/conversations/{conversationId}/participants/{userId}", s.meDeleteParticipant)
		r.Patch("/v1/{appId}/me/conversations/{conversationId}/messages/{messageId}", s.mePatchMessage)
		r.Delete("/v1/{appId}/me/conversations/{conversationId}/messages/{messageId}", s.meDeleteMessage)
		r.Post("/v1/{appId}/me/conversations/{conversationId}/messages/{messageId}/report", s.meReportMessage)
		r.Get("/v1/{appId}/me/conversations", s.getMeConversations)
		r.Get("/v1/{appId}/me/conversations/{conversationId}", s.getMeConversation)
		r.Put("/v1/{appId}/me/conversations/{conversationId}", s.putMeConversation)
		r.Post("/v1/{appId}/me/conversations/{conversationId}/read", s.meMarkRead)
		r.Get("/v1/{appId}/me/conversations/{conversationId}/messages", s.getMeMessages)
		r.Post("/v1/{appId}/me/conversations/{conversationId}/messages", s.postMeMessage)
		r.Post("/v1/{appId}/me/files", s.upload)
		r.Get("/v1/{appId}/me/blocks", s.getMeBlocks)
		r.Put("/v1/{appId}/me/blocks/{userId}", s.putMeBlock)
		r.Delete("/v1/{appId}/me/blocks/{userId}", s.deleteMeBlock)
	})
	if s.Metrics != nil {
		s.routes = s.Metrics.routes(r)
	}
	s.router = r
	return r
}

func (s *Server) now() int64 { return s.Now().UnixMilli() }

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ok(w, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if err := s.ready(r); err != nil {
		s.Logger.Error("not ready", "error", err.Error())
		s.writeError(w, r, parley.ErrStorageUnavailable("The database cannot be written now."))
		return
	}
	ok(w, map[string]string{"status": "ok"})
}

// ready runs the readiness check at most once a second.
func (s *Server) ready(r *http.Request) error {
	s.readyMu.Lock()
	defer s.readyMu.Unlock()
	if now := time.Now(); now.Sub(s.readyAt) >= time.Second {
		s.readyErr, s.readyAt = s.Ready(r.Context()), now
	}
	return s.readyErr
}

func (s *Server) openapi(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(s.OpenAPI)
}
