package contract

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// SpecVersion is the CloudEvents specification version of every [Event].
const SpecVersion = "1.0"

// ContentTypeJSON is the datacontenttype [New] sets.
const ContentTypeJSON = "application/json"

// Sentinel errors. Errors returned by this package wrap at most one of them;
// test with errors.Is.
var (
	// ErrMalformed reports an event, message or payload that is not well formed:
	// a missing or invalid attribute, or data that is not valid JSON for its
	// type. Retrying will not help.
	ErrMalformed = errors.New("malformed event")
	// ErrUnknownType reports an event whose name a [Registry] does not know.
	ErrUnknownType = errors.New("unknown event type")
	// ErrUnknownVersion reports an event whose version a [Registry] cannot
	// turn into its latest registered version: newer than the latest, or
	// missing an upcaster on the way.
	ErrUnknownVersion = errors.New("unknown event version")
)

// Event is a CloudEvents 1.0 event. The zero value is not valid; build events
// with [New] or [FromMessage].
type Event struct {
	// ID identifies the event; together with Source it is unique. Consumers
	// deduplicate on it. New sets a UUIDv7.
	ID string
	// Source identifies the producer, e.g. "/services/orders" (a URI-reference,
	// not checked beyond being non-empty).
	Source string
	// Type is the versioned event type, e.g. "orders.order_confirmed.v1".
	Type string
	// Subject optionally names the entity the event is about, usually the
	// aggregate id. Producers order events per subject.
	Subject string
	// Time is when the occurrence happened.
	Time time.Time
	// DataContentType is the media type of Data; empty means JSON.
	DataContentType string
	// Data is the payload, JSON for events built with New.
	Data []byte
	// TraceParent is the optional W3C trace context of the producing span.
	TraceParent string
}

// New returns an event of type typ from source about subject (which may be
// empty) with a UUIDv7 id, the current UTC time, and data marshalled with
// encoding/json (pass a json.RawMessage to use JSON that is already encoded).
// It returns an error wrapping [ErrMalformed] if the resulting event is not
// valid (see [Event.Validate]), and the marshalling error if data cannot be
// marshalled.
func New(source, typ, subject string, data any) (Event, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return Event{}, fmt.Errorf("new event %s: generate id: %w", typ, err)
	}
	b, err := json.Marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("new event %s: marshal data: %w", typ, err)
	}
	e := Event{
		ID:              id.String(),
		Source:          source,
		Type:            typ,
		Subject:         subject,
		Time:            time.Now().UTC(),
		DataContentType: ContentTypeJSON,
		Data:            b,
	}
	if err := e.Validate(); err != nil {
		return Event{}, fmt.Errorf("new event: %w", err)
	}
	return e, nil
}

// Validate reports whether e is a well-formed event: id, source and type are
// present, type is well formed (see [ParseType]), time is set and can be
// written in RFC 3339 (years 0000 to 9999 in UTC), and no attribute holds
// characters CloudEvents disallows (control characters, noncharacters,
// invalid UTF-8), which also keeps them safe to send as message headers.
// Data is not inspected. The error names the attribute and wraps
// [ErrMalformed].
func (e Event) Validate() error {
	if e.ID == "" {
		return attrErr("id", "required")
	}
	if e.Source == "" {
		return attrErr("source", "required")
	}
	if e.Type == "" {
		return attrErr("type", "required")
	}
	if _, _, err := ParseType(e.Type); err != nil {
		return fmt.Errorf("%w: attribute \"type\": %w", ErrMalformed, err)
	}
	if e.Time.IsZero() {
		return attrErr("time", "required")
	}
	if y := e.Time.UTC().Year(); y < 0 || y > 9999 {
		return attrErr("time", fmt.Sprintf("year %d outside 0000-9999", y))
	}
	for _, a := range [...]struct{ name, value string }{
		{"id", e.ID},
		{"source", e.Source},
		{"subject", e.Subject},
		{"datacontenttype", e.DataContentType},
		{"traceparent", e.TraceParent},
	} {
		if err := checkString(a.value); err != nil {
			return attrErr(a.name, err.Error())
		}
	}
	return nil
}

func attrErr(attr, problem string) error {
	return fmt.Errorf("%w: attribute %q: %s", ErrMalformed, attr, problem)
}

// checkString enforces the CloudEvents String type: no control characters
// (U+0000-U+001F, U+007F-U+009F), no noncharacters, valid UTF-8.
func checkString(s string) error {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f { // fast path: printable ASCII
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			return fmt.Errorf("invalid UTF-8 at byte %d", i)
		case r < 0x20 || (r >= 0x7f && r <= 0x9f):
			return fmt.Errorf("control character %U at byte %d", r, i)
		case (r >= 0xfdd0 && r <= 0xfdef) || r&0xfffe == 0xfffe:
			return fmt.Errorf("noncharacter %U at byte %d", r, i)
		}
		i += size
	}
	return nil
}

// ParseType splits an event type into its name and version:
// "orders.order_confirmed.v1" is name "orders.order_confirmed", version 1.
//
// A name is at least two dot-separated segments, each a lowercase letter
// followed by lowercase letters, digits or underscores. The version suffix is
// ".v" and a decimal number of at least 1 without leading zeros, so that
// TypeName(ParseType(t)) == t for every t ParseType accepts. The error
// describes what is wrong and does not wrap a sentinel.
func ParseType(t string) (name string, version int, err error) {
	i := strings.LastIndexByte(t, '.')
	if i < 0 {
		return "", 0, fmt.Errorf("event type %q: want <name>.v<version>", t)
	}
	name, suffix := t[:i], t[i+1:]
	version, err = parseVersion(suffix)
	if err != nil {
		return "", 0, fmt.Errorf("event type %q: %w", t, err)
	}
	if err := checkName(name); err != nil {
		return "", 0, fmt.Errorf("event type %q: %w", t, err)
	}
	return name, version, nil
}

// TypeName is the inverse of [ParseType]: TypeName("orders.order_confirmed", 1)
// is "orders.order_confirmed.v1". It does not validate; the result is a valid
// type if name is a valid name and version >= 1.
func TypeName(name string, version int) string {
	return name + ".v" + strconv.Itoa(version)
}

// maxVersionDigits keeps strconv.Atoi away from overflow on every platform.
const maxVersionDigits = 9

func parseVersion(s string) (int, error) {
	if len(s) < 2 || s[0] != 'v' {
		return 0, fmt.Errorf("version suffix %q: want v<number>", s)
	}
	digits := s[1:]
	if len(digits) > maxVersionDigits {
		return 0, fmt.Errorf("version suffix %q: too long", s)
	}
	if digits[0] == '0' {
		return 0, fmt.Errorf("version suffix %q: want a number >= 1 without leading zeros", s)
	}
	n := 0
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("version suffix %q: want v<number>", s)
		}
		n = n*10 + int(c-'0')
	}
	return n, nil
}

// checkName reports whether name is a valid event name (see ParseType).
func checkName(name string) error {
	segments := 0
	start := 0
	for i := 0; i <= len(name); i++ {
		if i < len(name) && name[i] != '.' {
			continue
		}
		seg := name[start:i]
		if !validSegment(seg) {
			return fmt.Errorf("name segment %q: want [a-z][a-z0-9_]*", seg)
		}
		segments++
		start = i + 1
	}
	if segments < 2 {
		return fmt.Errorf("name %q: want at least two dot-separated segments", name)
	}
	return nil
}

func validSegment(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}
