package parley

import "unicode/utf8"

// Message types and origins.
const (
	UserMessage   = "UserMessage"
	SystemMessage = "SystemMessage"
	OriginREST    = "rest"
	OriginWeb     = "web"
	OriginImport  = "import"
)

// Limits of messages.
const (
	MaxTextRunes    = 10000
	MaxMessageBatch = 10
	MaxImportBatch  = 100
	// IdempotencyWindow is how long an idempotencyKey answers its first message (ms).
	IdempotencyWindow int64 = 24 * 60 * 60 * 1000
)

// Message is one message of a conversation.
type Message struct {
	ID                  string  `json:"id"`
	ConversationID      string  `json:"conversationId"`
	Type                string  `json:"type"`
	SenderID            *string `json:"senderId"`
	Text                string  `json:"text"`
	Custom              Custom  `json:"custom"`
	ReferencedMessageID *string `json:"referencedMessageId"`
	Origin              string  `json:"origin"`
	CreatedAt           int64   `json:"createdAt"`
	EditedAt            *int64  `json:"editedAt"`
	Deleted             bool    `json:"deleted"`

	// Attachment is the message's file, nil for none.
	Attachment *Attachment `json:"attachment"`

	// ReadBy are the participants whose read pointer is at or past the
	// message, its sender left out.
	ReadBy []string `json:"readBy"`
	Seq    int64    `json:"-"` // position in the conversation, from 1, without gaps
}

// NewMessage is a message to send: text, a file (attachmentToken), or both.
type NewMessage struct {
	Type                string  `json:"type" validate:"required,oneof=UserMessage SystemMessage"`
	Text                string  `json:"text" validate:"max=10000"`
	Sender              *string `json:"sender" validate:"omitnil,userid"`
	Custom              Custom  `json:"custom" validate:"custom"`
	ReferencedMessageID *string `json:"referencedMessageId" validate:"omitnil,messageid"`
	IdempotencyKey      *string `json:"idempotencyKey" validate:"omitnil,min=1,max=255"`
	AttachmentToken     *string `json:"attachmentToken" validate:"omitnil,min=1,max=64"`
}

// Validate checks what struct tags cannot: the sender goes with the type,
// and there is text or a file.
func (m *NewMessage) Validate() error {
	switch {
	case m.Type == UserMessage && m.Sender == nil:
		return Invalid("sender", "is required for a UserMessage")
	case m.Type == SystemMessage && m.Sender != nil:
		return Invalid("sender", "is not allowed for a SystemMessage")
	}
	return textOrFile(m.Text, m.AttachmentToken)
}

// textOrFile requires a message's text unless it carries a file.
func textOrFile(text string, token *string) error {
	if text == "" && token == nil {
		return Invalid("text", "is required unless the message carries an attachmentToken")
	}
	return nil
}

// ImportedMessage is a message from another system, with the time it was
// sent there. TalkJS's import calls that time timestamp: either name is
// taken, not both.
type ImportedMessage struct {
	Type           string   `json:"type" validate:"required,oneof=UserMessage SystemMessage"`
	Text           string   `json:"text" validate:"max=10000"`
	Sender         *string  `json:"sender" validate:"omitnil,userid"`
	Custom         Custom   `json:"custom" validate:"custom"`
	CreatedAt      *int64   `json:"createdAt" validate:"omitnil,min=0"`
	Timestamp      *int64   `json:"timestamp" validate:"omitnil,min=0"`
	ReadBy         []string `json:"readBy" validate:"max=1000,dive,userid"`
	IdempotencyKey *string  `json:"idempotencyKey" validate:"omitnil,min=1,max=255"`
	// AttachmentToken takes a file uploaded with POST /files.
	AttachmentToken *string `json:"attachmentToken" validate:"omitnil,min=1,max=64"`
}

// Validate checks what struct tags cannot: the sender goes with the type,
// there is text or a file, and the time is given once.
func (m *ImportedMessage) Validate() error {
	switch {
	case m.Type == UserMessage && m.Sender == nil:
		return Invalid("sender", "is required for a UserMessage")
	case m.Type == SystemMessage && m.Sender != nil:
		return Invalid("sender", "is not allowed for a SystemMessage")
	case m.CreatedAt == nil && m.Timestamp == nil:
		return Invalid("createdAt", "is required (ms since the Unix epoch)")
	case m.CreatedAt != nil && m.Timestamp != nil:
		return Invalid("timestamp", "is another name for createdAt: send one of them")
	}
	return textOrFile(m.Text, m.AttachmentToken)
}

// At is when the message was sent.
func (m *ImportedMessage) At() int64 {
	if m.CreatedAt != nil {
		return *m.CreatedAt
	}
	return *m.Timestamp
}

// ValidateText checks a message text: 1 to 10,000 characters.
func ValidateText(text string) error {
	if n := utf8.RuneCountInString(text); n == 0 || n > MaxTextRunes {
		return Invalid("text", "must be 1 to 10000 characters")
	}
	return nil
}

// MessagePatch edits a message: text and custom data, each optional.
type MessagePatch struct {
	Text   *string `json:"text" validate:"omitnil,min=1,max=10000"`
	Custom *Custom `json:"custom" validate:"omitnil,custom"`
}
