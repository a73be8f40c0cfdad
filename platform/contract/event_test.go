package contract_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bounded-dev/bounded/platform/contract"
)

// MustNew returns a new event or fails the test.
func MustNew(tb testing.TB, source, typ, subject string, data any) contract.Event {
	tb.Helper()
	e, err := contract.New(source, typ, subject, data)
	if err != nil {
		tb.Fatalf("New(%q, %q, %q): %v", source, typ, subject, err)
	}
	return e
}

func TestParseType(t *testing.T) {
	tests := []struct {
		in      string
		name    string
		version int
		wantErr bool
	}{
		{in: "orders.order_confirmed.v1", name: "orders.order_confirmed", version: 1},
		{in: "catalog.product_updated.v2", name: "catalog.product_updated", version: 2},
		{in: "a.b.v12", name: "a.b", version: 12},
		{in: "a1.b_2.c3.v3", name: "a1.b_2.c3", version: 3},
		{in: "orders.v2.v1", name: "orders.v2", version: 1},
		{in: "a.b.v999999999", name: "a.b", version: 999999999},
		{in: "", wantErr: true},
		{in: "orders", wantErr: true},
		{in: "orders.v1", wantErr: true}, // one name segment
		{in: "orders.order_confirmed", wantErr: true},
		{in: "orders.order_confirmed.v", wantErr: true},
		{in: "orders.order_confirmed.v0", wantErr: true},
		{in: "orders.order_confirmed.v01", wantErr: true},
		{in: "orders.order_confirmed.V1", wantErr: true},
		{in: "orders.order_confirmed.v1x", wantErr: true},
		{in: "orders.order_confirmed.v-1", wantErr: true},
		{in: "orders.order_confirmed.v+1", wantErr: true},
		{in: "orders.order_confirmed.v1234567890", wantErr: true},
		{in: "orders.order_confirmed.1", wantErr: true},
		{in: "Orders.order_confirmed.v1", wantErr: true},
		{in: "orders.orderConfirmed.v1", wantErr: true},
		{in: "orders.order-confirmed.v1", wantErr: true},
		{in: "orders..order_confirmed.v1", wantErr: true},
		{in: ".orders.order_confirmed.v1", wantErr: true},
		{in: "orders.1order.v1", wantErr: true},
		{in: "orders._order.v1", wantErr: true},
		{in: "orders.order_confirmed..v1", wantErr: true},
		{in: "orders.order confirmed.v1", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			name, version, err := contract.ParseType(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseType(%q) = %q, %d, want error", tt.in, name, version)
				}
				if !strings.Contains(err.Error(), tt.in) {
					t.Errorf("error %q does not quote the type %q", err, tt.in)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseType(%q): %v", tt.in, err)
			}
			if name != tt.name || version != tt.version {
				t.Errorf("ParseType(%q) = %q, %d, want %q, %d", tt.in, name, version, tt.name, tt.version)
			}
			if got := contract.TypeName(name, version); got != tt.in {
				t.Errorf("TypeName(%q, %d) = %q, want %q", name, version, got, tt.in)
			}
		})
	}
}

func TestNew(t *testing.T) {
	before := time.Now().UTC()
	e := MustNew(t, "/services/orders", "orders.order_confirmed.v1", "order-1", map[string]int{"total": 3})

	id, err := uuid.Parse(e.ID)
	if err != nil {
		t.Fatalf("id %q is not a UUID: %v", e.ID, err)
	}
	if id.Version() != 7 {
		t.Errorf("id version = %d, want 7", id.Version())
	}
	if e.Time.Location() != time.UTC {
		t.Errorf("time location = %v, want UTC", e.Time.Location())
	}
	if e.Time.Before(before.Truncate(time.Millisecond)) || e.Time.After(time.Now().Add(time.Second)) {
		t.Errorf("time = %v, want about now", e.Time)
	}
	if e.Source != "/services/orders" || e.Type != "orders.order_confirmed.v1" || e.Subject != "order-1" {
		t.Errorf("attributes = %q %q %q", e.Source, e.Type, e.Subject)
	}
	if e.DataContentType != "application/json" {
		t.Errorf("datacontenttype = %q, want application/json", e.DataContentType)
	}
	if string(e.Data) != `{"total":3}` {
		t.Errorf("data = %s", e.Data)
	}
	if err := e.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if e2 := MustNew(t, "/services/orders", "orders.order_confirmed.v1", "", nil); e2.ID == e.ID {
		t.Errorf("two events share id %q", e.ID)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name      string
		source    string
		typ       string
		data      any
		malformed bool
		wantMsg   string
	}{
		{name: "bad type", source: "/s", typ: "OrderConfirmed", data: 1, malformed: true, wantMsg: `attribute "type"`},
		{name: "no version", source: "/s", typ: "orders.order_confirmed", data: 1, malformed: true, wantMsg: `attribute "type"`},
		{name: "no source", source: "", typ: "orders.order_confirmed.v1", data: 1, malformed: true, wantMsg: `attribute "source"`},
		{name: "unmarshallable data", source: "/s", typ: "orders.order_confirmed.v1", data: make(chan int), wantMsg: "marshal data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := contract.New(tt.source, tt.typ, "", tt.data)
			if err == nil {
				t.Fatal("New succeeded, want error")
			}
			if got := errors.Is(err, contract.ErrMalformed); got != tt.malformed {
				t.Errorf("errors.Is(%v, ErrMalformed) = %v, want %v", err, got, tt.malformed)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tt.wantMsg)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	valid := contract.Event{
		ID:     "1",
		Source: "/services/orders",
		Type:   "orders.order_confirmed.v1",
		Time:   time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC),
	}
	if err := valid.Validate(); err != nil {
		t.Fatalf("Validate(valid): %v", err)
	}
	tests := []struct {
		name   string
		modify func(*contract.Event)
		attr   string
	}{
		{"missing id", func(e *contract.Event) { e.ID = "" }, `"id"`},
		{"missing source", func(e *contract.Event) { e.Source = "" }, `"source"`},
		{"missing type", func(e *contract.Event) { e.Type = "" }, `"type"`},
		{"bad type", func(e *contract.Event) { e.Type = "orders.order_confirmed.v0" }, `"type"`},
		{"missing time", func(e *contract.Event) { e.Time = time.Time{} }, `"time"`},
		{"time after 9999", func(e *contract.Event) { e.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, `"time"`},
		{"newline in subject", func(e *contract.Event) { e.Subject = "a\r\nce-type: x" }, `"subject"`},
		{"C1 control in id", func(e *contract.Event) { e.ID = "a\u0085" }, `"id"`},
		{"invalid UTF-8 in source", func(e *contract.Event) { e.Source = "/s\xff" }, `"source"`},
		{"noncharacter in traceparent", func(e *contract.Event) { e.TraceParent = "\uFFFE" }, `"traceparent"`},
		{"tab in datacontenttype", func(e *contract.Event) { e.DataContentType = "application/json;\tx=1" }, `"datacontenttype"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := valid
			tt.modify(&e)
			err := e.Validate()
			if err == nil {
				t.Fatal("Validate succeeded, want error")
			}
			if !errors.Is(err, contract.ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), "attribute "+tt.attr) {
				t.Errorf("error %q does not name attribute %s", err, tt.attr)
			}
		})
	}

	unicode := valid
	unicode.Subject = "Straße/商品/😀"
	if err := unicode.Validate(); err != nil {
		t.Errorf("Validate(non-ASCII subject): %v", err)
	}
}
