package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/go-chi/chi/v5"

	parley "github.com/parley-chat/parley"
	"github.com/parley-chat/parley/auth"
)

// Timings of the client stream's WebSocket.
const (
	// authenticateWithin is how long a socket may stay without an
	// authenticate frame.
	authenticateWithin = 10 * time.Second
	// frameWithin bounds writing one frame, unless Server.FrameTimeout says
	// otherwise: a client that takes longer is gone.
	frameWithin = 10 * time.Second
	// pingEvery is how often the server checks that the client still answers.
	pingEvery = 30 * time.Second
	// maxClientFrame bounds what a client may send in one frame.
	maxClientFrame = 16 << 10
)

// meEvents is the client stream: a WebSocket when the request asks for an
// upgrade, else the long poll.
func (s *Server) meEvents(w http.ResponseWriter, r *http.Request) {
	if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		s.socket(w, r)
		return
	}
	if s.blockedAddress(w, r) {
		return
	}
	p, err := s.authenticateClient(w, r, headerCredentials(r), false)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.longPoll(w, r, func(ctx context.Context, q parley.EventQuery) (*parley.EventPage, error) {
		return s.Events.UserEvents(ctx, appID(r), streamCredential(p), q)
	})
}

func streamCredential(p *auth.Principal) parley.StreamCredential {
	return parley.StreamCredential{UserID: p.UserID, KeyID: p.KeyID, Verified: p.Verified, Session: p.Session}
}

// authenticateFrame is the body of a client's first frame.
type authenticateFrame struct {
	Token     string `json:"token"`
	UserID    string `json:"userId"`
	Signature string `json:"signature"`
	Since     string `json:"since"`
}

// authenticated is the body of the server's first frame.
type authenticated struct {
	User            *parley.UserView  `json:"user"`
	ConversationIDs []string          `json:"conversationIds"`
	ReadPointers    map[string]string `json:"readPointers"`
	Cursor          string            `json:"cursor"`
}

// discard is a ResponseWriter for what authentication writes (rate-limit
// headers) once the connection is a WebSocket.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// socket serves the client stream over a WebSocket (API.md 11.1).
// Credentials in the upgrade's headers are checked before the upgrade, and
// a refusal is an ordinary HTTP answer; otherwise the first frame must
// authenticate. Origins are not checked: the credentials travel in headers
// or frames, never in cookies, so another site's page cannot borrow them.
//
// Once upgraded, the stream runs in a goroutine of its own and the handler
// returns: a stream idles for hours, and the handler's goroutine would keep
// the stack that net/http and the router grew under it.
func (s *Server) socket(w http.ResponseWriter, r *http.Request) {
	if err := checkUpgrade(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	var p *auth.Principal
	since := r.URL.Query().Get("since")
	if creds := headerCredentials(r); creds != (auth.ClientCredentials{}) {
		if s.blockedAddress(w, r) {
			return
		}
		var err error
		if p, err = s.authenticateClient(w, r, creds, false); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	// The server's read and write timeouts are for requests, not streams.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	c, err := websocket.Accept(smallBuffers{w}, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return // Accept answered the request
	}
	c.SetReadLimit(maxClientFrame)
	s.Metrics.streamOpened(webSocketStream) // closed when the socket ends
	go s.serveSocket(c, detach(r), p, since)
}

// checkUpgrade refuses, in JSON, a WebSocket handshake the library would
// refuse in plain text.
func checkUpgrade(r *http.Request) error {
	connection := false
	for _, v := range r.Header.Values("Connection") {
		for _, token := range strings.Split(v, ",") {
			connection = connection || strings.EqualFold(strings.TrimSpace(token), "upgrade")
		}
	}
	switch {
	case !r.ProtoAtLeast(1, 1) || !connection:
		return parley.Invalid("Connection", "a WebSocket handshake needs HTTP/1.1 and Connection: Upgrade")
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		return parley.Invalid("Sec-WebSocket-Version", "must be 13")
	case r.Header.Get("Sec-WebSocket-Key") == "":
		return parley.Invalid("Sec-WebSocket-Key", "is required for a WebSocket handshake")
	}
	return nil
}

// detach returns what of r a stream needs once its handler returned: a
// context that the return does not cancel, with a route context of its own
// (the router reuses its own), and the client's address.
func detach(r *http.Request) *http.Request {
	rctx := chi.NewRouteContext()
	rctx.URLParams.Add("appId", appID(r))
	ctx := context.WithValue(context.WithoutCancel(r.Context()), chi.RouteCtxKey, rctx)
	return (&http.Request{Method: r.Method, URL: &url.URL{Path: r.URL.Path}, RemoteAddr: r.RemoteAddr, Header: http.Header{}}).WithContext(ctx)
}

// serveSocket authenticates the socket if the upgrade did not and starts
// the stream. The client's frames are then read by a fresh goroutine, whose
// stack stays small (this one grew while it authenticated and read the
// database); frames to the client are written by a goroutine that runs
// only while there is something to send (pump). An idle stream costs one
// goroutine, parked in a read.
func (s *Server) serveSocket(c *websocket.Conn, r *http.Request, p *auth.Principal, since string) {
	ctx, cancel := s.streamContext(r)
	sock := &socketConn{s: s, c: c, ctx: ctx, cancel: cancel}
	if err := sock.start(r, p, since); err != nil {
		sock.fail(err)
		cancel()
		_ = c.CloseNow()
		if sock.st != nil {
			sock.st.Close()
		}
		s.Metrics.streamClosed(webSocketStream)
		return
	}
	go sock.run()
}

// start authenticates (when p is nil), opens the stream and sends the
// authenticated frame.
func (sc *socketConn) start(r *http.Request, p *auth.Principal, since string) error {
	var err error
	if p == nil {
		if p, since, err = sc.frameCredentials(r, since); err != nil {
			return err
		}
	}
	if sc.st, err = sc.s.Events.OpenStream(sc.ctx, appID(r), streamCredential(p), since); err != nil {
		return err
	}
	hello, err := sc.s.hello(sc.ctx, appID(r), p.UserID, sc.st)
	if err != nil {
		return err
	}
	return sc.send("authenticated", hello)
}

// run pumps what is waiting and reads the client's frames until the stream
// ends, then closes it.
func (sc *socketConn) run() {
	defer sc.s.Metrics.streamClosed(webSocketStream)
	defer sc.c.CloseNow()
	defer sc.close()
	// The read loop outlives a shutdown's cancellation: a read whose context
	// ends drops the connection, and the client is owed 1001 (going away).
	sc.readCtx, sc.stopRead = context.WithCancel(context.Background())
	defer sc.stopRead()
	away := context.AfterFunc(sc.s.streams, func() {
		if !sc.failed.Load() {
			_ = sc.c.Close(websocket.StatusGoingAway, "server shutting down")
		}
	})
	defer away()
	sc.st.OnReady(sc.ready)
	sc.ping = time.AfterFunc(pingEvery, sc.keepAlive)
	sc.ready() // the backlog, and what arrived meanwhile
	sc.readLoop()
}

// smallBuffers hands websocket.Accept the connection with small buffers:
// net/http's are 4 KB each way, which thousands of mostly idle streams
// would keep. A larger frame is read and written through them in pieces.
type smallBuffers struct{ http.ResponseWriter }

func (w smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	// What the client sent after its request is in net/http's buffer; it
	// must be in the new one's too, where websocket.Accept looks for it.
	buffered, _ := brw.Reader.Peek(brw.Reader.Buffered())
	held := bytes.Clone(buffered)
	in := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(held), conn), max(512, len(held)))
	if _, err := in.Peek(len(held)); err != nil {
		return nil, nil, err
	}
	return conn, bufio.NewReadWriter(in, bufio.NewWriterSize(conn, 1024)), nil
}

// frameCredentials reads the authenticate frame. A client silent for
// authenticateWithin gets the error frame and the close from a timer: a
// read whose context expires would drop the connection without them.
func (sc *socketConn) frameCredentials(r *http.Request, since string) (*auth.Principal, string, error) {
	s := sc.s
	late := parley.Errorf(parley.EAuthMissingIDOrToken, "Send [\"authenticate\", {...}] first, within 10 seconds.")
	timer := time.AfterFunc(authenticateWithin, func() { sc.fail(late) })
	_, data, err := sc.c.Read(sc.ctx)
	if !timer.Stop() || err != nil {
		return nil, "", late
	}
	var frame []json.RawMessage
	var body authenticateFrame
	if json.Unmarshal(data, &frame) != nil || len(frame) != 2 || string(frame[0]) != `"authenticate"` ||
		decodeJSON(frame[1], &body, false) != nil {
		return nil, "", parley.Invalid("frame", `the first frame must be ["authenticate", {"token"} or {"userId", "signature"?}, with "since"?]`)
	}
	creds := auth.ClientCredentials{UserID: body.UserID, Signature: body.Signature}
	if body.Token != "" {
		creds.Authorization = "Bearer " + body.Token
	}
	if body.Since != "" {
		since = body.Since
	}
	if perMinute := s.Limits.AuthFailures; perMinute > 0 {
		if st := s.failures.Peek(s.failureKey(r), perMinute/60, parley.BurstOf(perMinute)); st.Remaining < 1 {
			s.Metrics.rateLimited(authFailuresLimit)
			return nil, "", parley.ErrRateLimited("Too many failed authentications from this address.", st.Retry)
		}
	}
	p, err := s.authenticateClient(&discard{h: http.Header{}}, r, creds, false)
	return p, since, err
}

// hello is the authenticated frame's body.
func (s *Server) hello(ctx context.Context, app, userID string, st *parley.Stream) (*authenticated, error) {
	u, err := s.Users.User(ctx, app, userID)
	if err != nil {
		return nil, err
	}
	ids, err := s.Users.CurrentConversationIDs(ctx, app, userID)
	if err != nil {
		return nil, err
	}
	pointers, err := s.Reads.ReadPointers(ctx, app, userID)
	if err != nil {
		return nil, err
	}
	return &authenticated{User: u.ViewAt(s.now()), ConversationIDs: ids, ReadPointers: pointers, Cursor: st.Start}, nil
}

// socketConn is one client's WebSocket and stream.
type socketConn struct {
	s      *Server
	c      *websocket.Conn
	st     *parley.Stream
	ctx    context.Context
	cancel context.CancelFunc
	// readCtx ends only with the stream (end), not with a shutdown.
	readCtx  context.Context
	stopRead context.CancelFunc
	ping     *time.Timer
	// pumping is set while a pump runs; mu is held by the pump and by
	// close, so the stream is used by one goroutine at a time.
	pumping atomic.Bool
	mu      sync.Mutex
	failed  atomic.Bool
}

// ready starts a pump unless one runs. The broker calls it under its lock:
// it must not block.
func (sc *socketConn) ready() {
	if sc.pumping.CompareAndSwap(false, true) {
		go sc.pump()
	}
}

// pump writes the stream's events until it has none, then ends. An event
// that arrives between the last Poll and the end starts it again: the flag
// is dropped first, then the subscription looked at.
func (sc *socketConn) pump() {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	for sc.ctx.Err() == nil {
		events, err := sc.st.Poll(sc.ctx)
		if err != nil {
			if sc.ctx.Err() == nil {
				sc.fail(err)
			}
			sc.end()
			return // pumping stays set: nothing more to pump
		}
		for i := range events {
			if err := sc.send("event", &events[i]); err != nil {
				sc.end()
				return
			}
		}
		if len(events) > 0 || !sc.st.Live() {
			continue
		}
		sc.pumping.Store(false)
		if !sc.st.Pending() || !sc.pumping.CompareAndSwap(false, true) {
			return
		}
	}
}

// end stops the stream: its pump and its read loop.
func (sc *socketConn) end() {
	sc.cancel()
	if sc.stopRead != nil {
		sc.stopRead()
	}
}

// close ends the stream once no pump uses it.
func (sc *socketConn) close() {
	sc.cancel()
	if sc.ping != nil {
		sc.ping.Stop()
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.st.Close()
}

// send writes one frame, [kind, body].
func (sc *socketConn) send(kind string, body any) error {
	data, err := json.Marshal([]any{kind, body})
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(sc.ctx, sc.s.frameTimeout())
	defer cancel()
	return sc.c.Write(wctx, websocket.MessageText, data)
}

func (s *Server) frameTimeout() time.Duration {
	if s.FrameTimeout > 0 {
		return s.FrameTimeout
	}
	return frameWithin
}

// closeCodes are the close codes of refusals: 4000 and the HTTP status's
// last two digits for client errors (4001 for 401 codes, 4003 for
// auth.denied), 4008 for a slow consumer.
func closeCode(code string) websocket.StatusCode {
	if code == parley.ESlowConsumer {
		return 4008
	}
	if st := statuses[code]; st >= 400 && st < 500 {
		return websocket.StatusCode(4000 + st - 400)
	}
	return websocket.StatusInternalError
}

// fail sends the error frame and closes the connection with its code,
// once.
func (sc *socketConn) fail(err error) {
	if !sc.failed.CompareAndSwap(false, true) {
		return
	}
	code := parley.ErrorCode(err)
	body := map[string]string{"code": code, "message": parley.ErrorMessage(err)}
	if code == parley.EInternal || statuses[code] >= 500 {
		sc.s.Logger.Error("event stream", "code", code, "error", err.Error())
	}
	_ = sc.send("error", body)
	_ = sc.c.Close(closeCode(code), code)
}

// keepAlive pings the client now and then, so that a peer that vanished
// without closing is noticed; it runs on a timer, not in a goroutine of
// its own.
func (sc *socketConn) keepAlive() {
	pctx, cancel := context.WithTimeout(sc.ctx, sc.s.frameTimeout())
	defer cancel()
	if err := sc.c.Ping(pctx); err != nil {
		sc.end()
		return
	}
	sc.ping.Reset(pingEvery)
}

// readLoop answers the client's pings until the client goes away or the
// stream ends.
func (sc *socketConn) readLoop() {
	defer sc.cancel()
	for {
		_, data, err := sc.c.Read(sc.readCtx)
		if err != nil {
			return
		}
		var frame []json.RawMessage
		if json.Unmarshal(data, &frame) == nil && len(frame) == 2 && string(frame[0]) == `"ping"` {
			if err := sc.send("pong", frame[1]); err != nil && !errors.Is(err, context.Canceled) {
				return
			}
		}
	}
}
