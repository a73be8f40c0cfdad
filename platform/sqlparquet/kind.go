package sqlparquet

import "fmt"

// Kind is the type of a Parquet column together with the way a SQL value is
// read into it. The exporter picks a Kind for each result column from the
// column's SQL type (see the package documentation); [Config.Columns]
// overrides that choice where the SQL type does not say what the column
// holds, such as an INTEGER column of unix milliseconds.
//
// A Kind also accepts values that already carry their meaning: a timestamp
// kind takes a time.Time whatever it says about integers, and Bool takes a
// bool as well as 0 or 1. So one Columns map serves a table that is a
// timestamptz on PostgreSQL and an INTEGER of milliseconds on SQLite.
type Kind int

// The zero Kind is invalid: an override must name one of these.
const (
	// Bool is BOOLEAN, from a bool or the integers 0 and 1.
	Bool Kind = iota + 1
	// Int16 is INT32 annotated INT(16, signed), from an integer in range.
	Int16
	// Int32 is INT32 annotated INT(32, signed), from an integer in range.
	Int32
	// Int64 is INT64 annotated INT(64, signed), from an integer.
	Int64
	// Float32 is FLOAT, from a float (rounded) or an integer.
	Float32
	// Float64 is DOUBLE, from a float or an integer (exact up to 2^53).
	Float64
	// Decimal is DECIMAL(precision, scale) on INT32 (precision up to 9),
	// INT64 (up to 18) or FIXED_LEN_BYTE_ARRAY(16) (up to 38), from a
	// decimal string, an integer or a float (rounded to the scale). The
	// exporter chooses it for a column declared NUMERIC(p,s) or
	// DECIMAL(p,s) with p <= 38; it cannot be an override, because an
	// override carries no precision or scale.
	Decimal
	// String is BYTE_ARRAY annotated STRING, from valid UTF-8 text;
	// integers and floats are written in decimal, times in RFC 3339.
	String
	// JSON is BYTE_ARRAY annotated JSON, from text that is valid JSON.
	JSON
	// UUID is FIXED_LEN_BYTE_ARRAY(16) annotated UUID, from a UUID's text
	// or its 16 bytes. The exporter never chooses it by itself (see the
	// package documentation); ask for it with an override.
	UUID
	// Bytes is BYTE_ARRAY with no annotation, from bytes or text.
	Bytes
	// Date is INT32 annotated DATE (days since 1970-01-01), from a
	// time.Time (its calendar date in its own location) or text
	// YYYY-MM-DD.
	Date
	// Timestamp is INT64 annotated TIMESTAMP(MICROS, isAdjustedToUTC=true),
	// from a time.Time or text (RFC 3339, SQLite's formats, or Go's
	// time.Time.String; text with no offset is UTC). Sub-microsecond
	// digits are truncated toward the past.
	Timestamp
	// LocalTimestamp is INT64 annotated TIMESTAMP(MICROS,
	// isAdjustedToUTC=false): a wall-clock time with no zone, like
	// PostgreSQL's timestamp without time zone. It takes the wall clock of
	// a time.Time or of text as written.
	LocalTimestamp
	// UnixSeconds, UnixMillis and UnixMicros are Timestamp, from an integer
	// (or float) count of seconds, milliseconds or microseconds since
	// 1970-01-01 UTC; they also take what Timestamp takes.
	UnixSeconds
	UnixMillis
	UnixMicros
	kindEnd
)

var kindNames = [...]string{
	Bool: "Bool", Int16: "Int16", Int32: "Int32", Int64: "Int64", Float32: "Float32", Float64: "Float64",
	Decimal: "Decimal", String: "String", JSON: "JSON", UUID: "UUID", Bytes: "Bytes", Date: "Date",
	Timestamp: "Timestamp", LocalTimestamp: "LocalTimestamp",
	UnixSeconds: "UnixSeconds", UnixMillis: "UnixMillis", UnixMicros: "UnixMicros",
}

func (k Kind) String() string {
	if k > 0 && k < kindEnd {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// validOverride reports whether k may be named in Config.Columns.
func (k Kind) validOverride() bool { return k > 0 && k < kindEnd && k != Decimal }
