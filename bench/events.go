package bench

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bounded-dev/bounded/platform/contract"
)

// uniqueName returns prefix followed by 10 random lowercase letters and
// digits: a valid PostgreSQL identifier, SQLite file name and NATS stream
// name, unique in practice (the scheme of testenv.UniqueName, which lives in
// a package for tests).
func uniqueName(prefix string) string {
	return prefix + strings.ToLower(rand.Text()[:10])
}

// eventSpace makes the events of one measurement. An event's id is a UUID
// (version 8, "custom") whose first 80 bits are random per space and whose
// last 48 bits are the event's index, so that whoever receives the event can
// tell, from its Nats-Msg-Id alone, which event it is, without a shared map.
type eventSpace struct {
	prefix  string // "xxxxxxxx-xxxx-8xxx-yxxx-": the random part of every id
	typ     string // the event type, also the NATS subject the relay uses
	payload int    // body size in bytes
}

const eventSource = "/bounded/bench"

func newEventSpace(stream string, payload int) eventSpace {
	var b [10]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	hi := binary.BigEndian.Uint32(b[0:4])
	mid := binary.BigEndian.Uint16(b[4:6])
	ver := 0x8000 | binary.BigEndian.Uint16(b[6:8])&0x0fff   // version 8
	vari := 0x8000 | binary.BigEndian.Uint16(b[8:10])&0x3fff // RFC 9562 variant
	return eventSpace{
		prefix:  fmt.Sprintf("%08x-%04x-%04x-%04x-", hi, mid, ver, vari),
		typ:     stream + ".bench_event.v1",
		payload: payload,
	}
}

// id returns the id of event i.
func (s eventSpace) id(i int) string {
	const hex = "0123456789abcdef"
	var b [36]byte
	n := copy(b[:], s.prefix)
	for k := 11; k >= 0; k-- {
		b[n+k] = hex[i&0xf]
		i >>= 4
	}
	return string(b[:])
}

// index returns the index of the event with the given id, and false for an
// id that is not of this space.
func (s eventSpace) index(id string) (int, bool) {
	if len(id) != 36 || !strings.HasPrefix(id, s.prefix) {
		return 0, false
	}
	n, err := strconv.ParseUint(id[24:], 16, 48)
	if err != nil {
		return 0, false
	}
	return int(n), true
}

// data returns a JSON body of exactly s.payload bytes naming event i.
func (s eventSpace) data(i int) []byte {
	b := make([]byte, 0, s.payload)
	b = append(b, `{"n":`...)
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, `,"pad":"`...)
	for len(b) < s.payload-2 {
		b = append(b, 'x')
	}
	return append(b, `"}`...)
}

// event returns event i about subject (the aggregate id).
func (s eventSpace) event(i int, subject string) contract.Event {
	return contract.Event{
		ID:              s.id(i),
		Source:          eventSource,
		Type:            s.typ,
		Subject:         subject,
		Time:            time.Now().UTC(),
		DataContentType: contract.ContentTypeJSON,
		Data:            s.data(i),
	}
}

// message returns the message the relay publishes for e (see relay.publish):
// e's CloudEvents headers, e's data, on subject e.Type. The caller adds
// Nats-Msg-Id with jetstream.WithMsgID, as the relay does.
func message(e contract.Event) *nats.Msg {
	return &nats.Msg{Subject: e.Type, Header: nats.Header(e.Header()), Data: e.Data}
}

// messageBytes is the size of the message the relay publishes for e:
// headers (with Nats-Msg-Id) plus body, as NATS counts them on the wire.
func messageBytes(e contract.Event) (headers, body int) {
	m := message(e)
	m.Header.Set(jetstream.MsgIDHeader, e.ID)
	h := 12 // "NATS/1.0\r\n" and the final "\r\n"
	for k, vs := range m.Header {
		for _, v := range vs {
			h += len(k) + 2 + len(v) + 2
		}
	}
	return h, len(m.Data)
}

// pgIdent quotes a PostgreSQL identifier.
func pgIdent(name string) string { return pgx.Identifier{name}.Sanitize() }
