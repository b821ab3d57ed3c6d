package parley

import (
	"crypto/hmac"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Webhook formats: Standard Webhooks headers, or TalkJS's.
const (
	FormatStandard = "standard"
	FormatTalkJS   = "talkjs"
)

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// Webhook limits.
const (
	MaxWebhooks        = 100 // per app
	MaxWebhookURLBytes = 2048
	// DeliveryTimeout is how long an endpoint has to answer 2xx.
	DeliveryTimeout = 10 * time.Second
	// DisableAfter is how long an endpoint may fail without one success
	// before it is disabled.
	DisableAfter = 5 * 24 * time.Hour
)

// RetrySchedule is the wait before each retry after a failed attempt
// (API.md 13); after the last, the delivery has failed.
var RetrySchedule = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
	5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// RetryAfter is the wait before the next attempt after attempts failed
// ones, with up to 10% of jitter either way so that retries of many
// deliveries spread out; false when there is none left.
func RetryAfter(attempts int) (time.Duration, bool) {
	if attempts < 1 || attempts > len(RetrySchedule) {
		return 0, false
	}
	d := RetrySchedule[attempts-1]
	jitter := time.Duration((rand.Float64()*0.2 - 0.1) * float64(d))
	return d + jitter, true
}

// Webhook is an endpoint that receives an app's events.
type Webhook struct {
	ID             string   `json:"id"`
	AppID          string   `json:"-"`
	URL            string   `json:"url"`
	Events         []string `json:"events"`
	Description    *string  `json:"description"`
	Format         string   `json:"format"`
	Enabled        bool     `json:"enabled"`
	DisabledReason *string  `json:"disabledReason"`
	CreatedAt      int64    `json:"createdAt"`
	// Secret is shown when the endpoint is created and when it is rotated.
	Secret string `json:"secret,omitempty"`
	// Cursor is the app's position through which events were queued for it.
	Cursor        int64  `json:"-"`
	LastSuccessAt *int64 `json:"-"`
	FailingSince  *int64 `json:"-"`
}

// Wants reports whether the endpoint subscribes to events of the type.
func (w *Webhook) Wants(typ string) bool {
	return slices.Contains(w.Events, "*") || slices.Contains(w.Events, typ)
}

// Types are the event types to read for the endpoint (nil: all of them).
func (w *Webhook) Types() []string {
	if slices.Contains(w.Events, "*") {
		return EventTypes
	}
	return w.Events
}

// WebhookInput creates an endpoint.
type WebhookInput struct {
	URL         string           `json:"url"`
	Events      []string         `json:"events"`
	Description *string          `json:"description"`
	Format      Optional[string] `json:"format"`
}

// WebhookPatch changes an endpoint; absent fields are left alone, and
// only the description may be null.
type WebhookPatch struct {
	URL         Optional[string]   `json:"url"`
	Events      Optional[[]string] `json:"events"`
	Enabled     Optional[bool]     `json:"enabled"`
	Description Optional[string]   `json:"description"`
}

// Validate checks an endpoint's fields; the URL's addresses are checked by
// the service, which may resolve names.
func (in *WebhookInput) Validate() error {
	f := map[string]string{}
	if err := checkWebhookURL(in.URL); err != nil {
		f["url"] = err.Error()
	}
	if err := checkEventList(in.Events, true); err != nil {
		f["events"] = err.Error()
	}
	in.Events = slices.Compact(slices.Sorted(slices.Values(in.Events)))
	if in.Description != nil && len(*in.Description) > 1024 {
		f["description"] = "must be at most 1024 bytes"
	}
	if in.Format.Set && in.Format.Value != FormatStandard && in.Format.Value != FormatTalkJS {
		f["format"] = `must be "standard" or "talkjs"`
	}
	if len(f) > 0 {
		return &Error{Code: EInvalid, Message: "The webhook is invalid.", Fields: f}
	}
	return nil
}

// Validate checks the fields that are set.
func (p *WebhookPatch) Validate() error {
	f := map[string]string{}
	for name, o := range map[string]bool{"url": p.URL.Null, "events": p.Events.Null, "enabled": p.Enabled.Null} {
		if o {
			f[name] = "must not be null"
		}
	}
	if p.URL.Set && !p.URL.Null {
		if err := checkWebhookURL(p.URL.Value); err != nil {
			f["url"] = err.Error()
		}
	}
	if p.Events.Set && !p.Events.Null {
		if err := checkEventList(p.Events.Value, true); err != nil {
			f["events"] = err.Error()
		}
		p.Events.Value = slices.Compact(slices.Sorted(slices.Values(p.Events.Value)))
	}
	if p.Description.Set && !p.Description.Null && len(p.Description.Value) > 1024 {
		f["description"] = "must be at most 1024 bytes"
	}
	if len(f) > 0 {
		return &Error{Code: EInvalid, Message: "The webhook is invalid.", Fields: f}
	}
	return nil
}

func checkWebhookURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case raw == "" || len(raw) > MaxWebhookURLBytes:
		return fmt.Errorf("must be an http or https URL of at most %d bytes", MaxWebhookURLBytes)
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Fragment != "":
		return fmt.Errorf("must be an http or https URL without credentials or fragment")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("must have a port from 1 to 65535")
		}
	}
	if !hostName(u.Hostname()) {
		return fmt.Errorf("must name its host as a DNS name (ASCII, punycode for others) or an IP address in standard form")
	}
	return nil
}

// hostName accepts an IP address in standard form, or a DNS name of
// letters, digits and hyphens whose last label is not a number: the
// numeric spellings of addresses ("2130706433", "0x7f.1", "127.1") and
// Unicode look-alikes ("127。0。0。1") would be read as addresses by some
// resolver or client and dodge the address check.
func hostName(host string) bool {
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	labels := strings.Split(strings.TrimSuffix(host, "."), ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	last := strings.ToLower(labels[len(labels)-1])
	if strings.HasPrefix(last, "0x") {
		return false
	}
	_, err := strconv.ParseUint(last, 10, 64)
	return err != nil && len(host) <= 253
}

// checkEventList accepts ["*"] or a list of known event types.
func checkEventList(events []string, required bool) error {
	if len(events) == 0 {
		if required {
			return fmt.Errorf(`must list event types, or ["*"] for all`)
		}
		return nil
	}
	if len(events) > len(EventTypes) {
		return fmt.Errorf("lists too many types")
	}
	for _, e := range events {
		if e != "*" && !slices.Contains(EventTypes, e) {
			return fmt.Errorf("unknown event type %q", e)
		}
	}
	if slices.Contains(events, "*") && len(events) > 1 {
		return fmt.Errorf(`"*" stands alone`)
	}
	return nil
}

// NewWebhookID returns "wh_" and 22 base62 characters.
func NewWebhookID() string { return "wh_" + RandomBase62(22) }

// NewWebhookSecret returns "whsec_" and the base64 of 32 random bytes.
func NewWebhookSecret() string {
	b := make([]byte, 32)
	if _, err := crand.Read(b); err != nil {
		panic("webhook secret: " + err.Error())
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// SignStandard is the Standard Webhooks signature header of a body: "v1,"
// and the base64 HMAC-SHA256 of "<id>.<timestamp>.<body>", keyed with the
// secret's base64 part decoded.
func SignStandard(secret, id string, timestamp int64, body []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return "", fmt.Errorf("webhook secret: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + strconv.FormatInt(timestamp, 10) + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// SignTalkJS is TalkJS's signature of a body: the upper-case hex
// HMAC-SHA256 of "<timestamp ms>.<body>", keyed with the app's secret key.
func SignTalkJS(secretKey string, timestampMs int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secretKey))
	mac.Write([]byte(strconv.FormatInt(timestampMs, 10) + "."))
	mac.Write(body)
	return strings.ToUpper(hex.EncodeToString(mac.Sum(nil)))
}

// blockedPrefixes are ranges no webhook may reach besides the loopback,
// private, link-local, multicast and unspecified ones netip knows:
// carrier-grade NAT, "this network", benchmarking, reserved and broadcast,
// and the cloud metadata address of IPv6.
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("fd00:ec2::254/128"),
	netip.MustParsePrefix("::/96"),          // IPv4-compatible (deprecated): ::127.0.0.1
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("fec0::/10"),      // site-local (deprecated)
	netip.MustParsePrefix("2001::/32"),      // Teredo
	netip.MustParsePrefix("2001:db8::/32"),  // documentation
	netip.MustParsePrefix("100::/64"),       // discard
}

// PublicAddr reports whether a webhook may be delivered to the address:
// not loopback, private, link-local (cloud metadata, 169.254.169.254,
// among them), multicast, unspecified or reserved, however it is written
// (IPv4-mapped and NAT64 forms included).
func PublicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if nat64 := netip.MustParsePrefix("64:ff9b::/96"); nat64.Contains(a) {
		b := a.As16()
		a = netip.AddrFrom4([4]byte(b[12:]))
	}
	if sixToFour := netip.MustParsePrefix("2002::/16"); sixToFour.Contains(a) {
		b := a.As16()
		a = netip.AddrFrom4([4]byte(b[2:6]))
	}
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsMulticast() || a.IsInterfaceLocalMulticast() || a.IsUnspecified() {
		return false
	}
	for _, p := range blockedPrefixes {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// WebhookDelivery is one event's delivery to one endpoint.
type WebhookDelivery struct {
	WebhookID     string    `json:"-"`
	Pos           int64     `json:"-"`
	EventID       string    `json:"eventId"`
	Type          string    `json:"type"`
	Status        string    `json:"status"`
	Attempts      []Attempt `json:"attempts"`
	NextAttemptAt *int64    `json:"nextAttemptAt"`
	CreatedAt     int64     `json:"-"`
	// Failures counts the failed attempts since it was last queued.
	Failures int `json:"-"`
}

// Attempt is one try at a delivery.
type Attempt struct {
	At         int64   `json:"at"`
	StatusCode *int    `json:"statusCode"` // nil when no answer came
	Error      *string `json:"error"`      // nil when an answer came
	DurationMs int64   `json:"durationMs"`
}

// Succeeded reports whether the attempt counts as delivered.
func (a *Attempt) Succeeded() bool {
	return a.StatusCode != nil && *a.StatusCode >= 200 && *a.StatusCode < 300
}
