package contract

import (
	"fmt"
	"time"
)

// Header names of the CloudEvents NATS binding in binary content mode.
const (
	HeaderSpecVersion = "ce-specversion"
	HeaderID          = "ce-id"
	HeaderSource      = "ce-source"
	HeaderType        = "ce-type"
	HeaderSubject     = "ce-subject"
	HeaderTime        = "ce-time"
	HeaderContentType = "content-type"
	HeaderTraceParent = "traceparent"
)

// headerCount is the number of headers Header can produce.
const headerCount = 8

// Header returns the NATS message headers that carry e's attributes in the
// binary content mode of the CloudEvents NATS binding; the message body is
// e.Data as is. ce-subject, content-type and traceparent are left out when
// empty. Time is written in RFC 3339 with nanoseconds, in UTC.
//
// The result is assignable to nats.Header. Header does not validate e; events
// built with [New] or [FromMessage] are valid. It is on the publish hot path,
// so it allocates only the map, one array backing every value slice, and the
// time string.
func (e Event) Header() map[string][]string {
	var buf [len(time.RFC3339Nano) + 8]byte
	ts := string(e.Time.UTC().AppendFormat(buf[:0], time.RFC3339Nano))

	// One backing array for all values; each value slice has capacity 1 so an
	// append by the caller copies instead of overwriting its neighbour.
	vals := make([]string, 0, headerCount)
	h := make(map[string][]string, headerCount)
	set := func(k, v string) {
		vals = append(vals, v)
		n := len(vals)
		h[k] = vals[n-1 : n : n]
	}
	set(HeaderSpecVersion, SpecVersion)
	set(HeaderID, e.ID)
	set(HeaderSource, e.Source)
	set(HeaderType, e.Type)
	if e.Subject != "" {
		set(HeaderSubject, e.Subject)
	}
	set(HeaderTime, ts)
	if e.DataContentType != "" {
		set(HeaderContentType, e.DataContentType)
	}
	if e.TraceParent != "" {
		set(HeaderTraceParent, e.TraceParent)
	}
	return h
}

// FromMessage parses an event from the headers and body of a NATS message in
// binary content mode (see [Event.Header]) and validates it (see
// [Event.Validate]). A header is looked up by its lowercase name and, failing
// that, by its canonical MIME form ("Ce-Id"), in case a gateway rewrote it.
// Other headers, including unknown ce- extensions, are ignored.
//
// Every error wraps [ErrMalformed] and names the offending header or
// attribute: a missing
// required header, a header with more than one value, a specversion other
// than "1.0", a time that is not RFC 3339, or an attribute Validate rejects.
//
// The returned event's Data is data itself, not a copy.
func FromMessage(header map[string][]string, data []byte) (Event, error) {
	var (
		e   Event
		err error
		sv  string
		ts  string
	)
	if sv, err = headerValue(header, HeaderSpecVersion, "Ce-Specversion", true); err != nil {
		return Event{}, err
	}
	if sv != SpecVersion {
		return Event{}, fmt.Errorf("from message: %w: header %q: unsupported specversion %q, want %q",
			ErrMalformed, HeaderSpecVersion, sv, SpecVersion)
	}
	if e.ID, err = headerValue(header, HeaderID, "Ce-Id", true); err != nil {
		return Event{}, err
	}
	if e.Source, err = headerValue(header, HeaderSource, "Ce-Source", true); err != nil {
		return Event{}, err
	}
	if e.Type, err = headerValue(header, HeaderType, "Ce-Type", true); err != nil {
		return Event{}, err
	}
	if e.Subject, err = headerValue(header, HeaderSubject, "Ce-Subject", false); err != nil {
		return Event{}, err
	}
	if ts, err = headerValue(header, HeaderTime, "Ce-Time", true); err != nil {
		return Event{}, err
	}
	t, perr := time.Parse(time.RFC3339Nano, ts)
	if perr != nil {
		return Event{}, fmt.Errorf("from message: %w: header %q: %q is not an RFC 3339 time",
			ErrMalformed, HeaderTime, ts)
	}
	e.Time = t.UTC()
	if e.DataContentType, err = headerValue(header, HeaderContentType, "Content-Type", false); err != nil {
		return Event{}, err
	}
	if e.TraceParent, err = headerValue(header, HeaderTraceParent, "Traceparent", false); err != nil {
		return Event{}, err
	}
	e.Data = data
	if err := e.Validate(); err != nil {
		return Event{}, fmt.Errorf("from message: %w", err)
	}
	return e, nil
}

// headerValue returns the single value of header key (or its canonical form
// alt). A required header that is absent or empty is an error, as is any
// header with more than one value.
func headerValue(h map[string][]string, key, alt string, required bool) (string, error) {
	v, ok := h[key]
	if !ok {
		v, ok = h[alt]
	}
	switch {
	case len(v) > 1:
		return "", fmt.Errorf("from message: %w: header %q has %d values, want one", ErrMalformed, key, len(v))
	case len(v) == 1 && v[0] != "":
		return v[0], nil
	case required:
		return "", fmt.Errorf("from message: %w: header %q is missing", ErrMalformed, key)
	default:
		return "", nil
	}
}
