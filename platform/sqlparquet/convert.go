package sqlparquet

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/parquet-go/parquet-go"
)

// value converts v, as database/sql scanned it into an any, into the
// Parquet value of c's field, levels set.
func (c *column) value(v any) (parquet.Value, error) {
	if v == nil {
		if !c.optional {
			return parquet.Value{}, errors.New("NULL in a NOT NULL column")
		}
		return parquet.NullValue().Level(0, 0, c.index), nil
	}
	pv, err := c.convert(v)
	if err != nil {
		return parquet.Value{}, err
	}
	def := 0
	if c.optional {
		def = 1
	}
	return pv.Level(0, def, c.index), nil
}

func (c *column) convert(v any) (parquet.Value, error) {
	switch c.kind {
	case Bool:
		switch v := v.(type) {
		case bool:
			return parquet.BooleanValue(v), nil
		case int64:
			if v == 0 || v == 1 {
				return parquet.BooleanValue(v == 1), nil
			}
			return parquet.Value{}, fmt.Errorf("%d is not a boolean (0 or 1)", v)
		}
	case Int16, Int32:
		if i, ok := v.(int64); ok {
			lo, hi := int64(math.MinInt32), int64(math.MaxInt32)
			if c.kind == Int16 {
				lo, hi = math.MinInt16, math.MaxInt16
			}
			if i < lo || i > hi {
				return parquet.Value{}, fmt.Errorf("%d is out of range for %v", i, c.kind)
			}
			return parquet.Int32Value(int32(i)), nil
		}
	case Int64:
		if i, ok := v.(int64); ok {
			return parquet.Int64Value(i), nil
		}
	case Float32:
		switch v := v.(type) {
		case float64:
			return parquet.FloatValue(float32(v)), nil
		case int64:
			return parquet.FloatValue(float32(v)), nil
		}
	case Float64:
		switch v := v.(type) {
		case float64:
			return parquet.DoubleValue(v), nil
		case int64:
			return parquet.DoubleValue(float64(v)), nil
		}
	case Decimal:
		return c.decimal(v)
	case String:
		switch v := v.(type) {
		case string:
			if !utf8.ValidString(v) {
				return parquet.Value{}, errors.New("text is not valid UTF-8")
			}
			return parquet.ByteArrayValue([]byte(v)), nil
		case []byte:
			if !utf8.Valid(v) {
				return parquet.Value{}, errors.New("bytes are not valid UTF-8")
			}
			return parquet.ByteArrayValue(v), nil
		case int64:
			return parquet.ByteArrayValue(strconv.AppendInt(nil, v, 10)), nil
		case float64:
			return parquet.ByteArrayValue(strconv.AppendFloat(nil, v, 'g', -1, 64)), nil
		case bool:
			return parquet.ByteArrayValue(strconv.AppendBool(nil, v)), nil
		case time.Time:
			return parquet.ByteArrayValue(v.AppendFormat(nil, time.RFC3339Nano)), nil
		}
	case JSON:
		var b []byte
		switch v := v.(type) {
		case string:
			b = []byte(v)
		case []byte:
			b = v
		default:
			return parquet.Value{}, fmt.Errorf("cannot write %s as %v", describe(v), c.kind)
		}
		if !json.Valid(b) {
			return parquet.Value{}, errors.New("text is not valid JSON")
		}
		return parquet.ByteArrayValue(b), nil
	case UUID:
		switch v := v.(type) {
		case string:
			u, err := uuid.Parse(v)
			if err != nil {
				return parquet.Value{}, err
			}
			return parquet.FixedLenByteArrayValue(u[:]), nil
		case []byte:
			if len(v) != 16 {
				return parquet.Value{}, fmt.Errorf("%d bytes are not a UUID", len(v))
			}
			return parquet.FixedLenByteArrayValue(v), nil
		}
	case Bytes:
		switch v := v.(type) {
		case []byte:
			return parquet.ByteArrayValue(v), nil
		case string:
			return parquet.ByteArrayValue([]byte(v)), nil
		}
	case Date:
		var t time.Time
		switch v := v.(type) {
		case time.Time:
			t = v
		case string:
			var err error
			if t, err = time.Parse(time.DateOnly, v); err != nil {
				return parquet.Value{}, err
			}
		default:
			return parquet.Value{}, fmt.Errorf("cannot write %s as %v", describe(v), c.kind)
		}
		y, m, d := t.Date()
		days := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400 // exact: midnight UTC
		if days < math.MinInt32 || days > math.MaxInt32 {
			return parquet.Value{}, fmt.Errorf("date %v is out of range", t)
		}
		return parquet.Int32Value(int32(days)), nil
	case Timestamp, LocalTimestamp, UnixSeconds, UnixMillis, UnixMicros:
		return c.timestamp(v)
	}
	return parquet.Value{}, fmt.Errorf("cannot write %s as %v", describe(v), c.kind)
}

// timestamp converts v into microseconds since the epoch.
func (c *column) timestamp(v any) (parquet.Value, error) {
	var t time.Time
	switch v := v.(type) {
	case time.Time:
		t = v
	case string:
		var err error
		if t, err = parseTime(v); err != nil {
			return parquet.Value{}, err
		}
	case int64, float64:
		var perSecond float64
		switch c.kind {
		case UnixSeconds:
			perSecond = 1
		case UnixMillis:
			perSecond = 1e3
		case UnixMicros:
			perSecond = 1e6
		default:
			return parquet.Value{}, fmt.Errorf("a number (%v) is not a timestamp unless Config.Columns says its unit: UnixSeconds, UnixMillis or UnixMicros", v)
		}
		if i, ok := v.(int64); ok {
			perMicro := int64(1e6 / perSecond)
			if i > math.MaxInt64/perMicro || i < math.MinInt64/perMicro {
				return parquet.Value{}, fmt.Errorf("%d is out of range for %v", i, c.kind)
			}
			return parquet.Int64Value(i * perMicro), nil
		}
		us := math.Round(v.(float64) * (1e6 / perSecond))
		if math.IsNaN(us) || us < math.MinInt64 || us >= math.MaxInt64 {
			return parquet.Value{}, fmt.Errorf("%v is out of range for %v", v, c.kind)
		}
		return parquet.Int64Value(int64(us)), nil
	default:
		return parquet.Value{}, fmt.Errorf("cannot write %s as %v", describe(v), c.kind)
	}
	if c.kind == LocalTimestamp {
		// The wall clock as written, whatever its zone.
		y, mo, d := t.Date()
		h, mi, s := t.Clock()
		t = time.Date(y, mo, d, h, mi, s, t.Nanosecond(), time.UTC)
	}
	return parquet.Int64Value(t.UnixMicro()), nil
}

// timeLayouts are the text forms of a time parseTime accepts: RFC 3339,
// SQLite's (https://www.sqlite.org/lang_datefunc.html), and Go's
// time.Time.String, which is what modernc.org/sqlite stores for a time.Time
// argument by default. Layouts with no offset read as UTC.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999 -0700 MST",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02T15:04",
	time.DateOnly,
}

func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, " m="); i >= 0 { // a monotonic clock reading
		s = s[:i]
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("cannot read %q as a time", s)
}

// decimal converts v into the unscaled integer of c's decimal field.
func (c *column) decimal(v any) (parquet.Value, error) {
	var text string
	switch v := v.(type) {
	case string:
		text = v
	case int64:
		text = strconv.FormatInt(v, 10)
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return parquet.Value{}, fmt.Errorf("%v is not a decimal", v)
		}
		text = strconv.FormatFloat(v, 'f', c.scale, 64)
	default:
		return parquet.Value{}, fmt.Errorf("cannot write %s as %v", describe(v), c.kind)
	}
	digits, err := unscaled(text, c.scale, c.precision)
	if err != nil {
		return parquet.Value{}, err
	}
	switch {
	case c.precision <= 9:
		i, _ := strconv.ParseInt(digits, 10, 32) // at most 9 digits
		return parquet.Int32Value(int32(i)), nil
	case c.precision <= 18:
		i, _ := strconv.ParseInt(digits, 10, 64) // at most 18 digits
		return parquet.Int64Value(i), nil
	}
	// FIXED_LEN_BYTE_ARRAY(16): big-endian two's complement. 38 digits
	// stay below 2^127, so the sign bit is free.
	i, _ := new(big.Int).SetString(digits, 10)
	if i.Sign() < 0 {
		i.Add(i, twoTo128)
	}
	b := make([]byte, 16)
	i.FillBytes(b)
	return parquet.FixedLenByteArrayValue(b), nil
}

var twoTo128 = new(big.Int).Lsh(big.NewInt(1), 128)

// unscaled returns the plain decimal text s (an optional sign, digits, an
// optional point and digits) as the integer s × 10^scale, in decimal, or an
// error if that integer has more than precision digits or s has non-zero
// digits beyond the scale.
func unscaled(s string, scale, precision int) (string, error) {
	sign := ""
	body := s
	if body != "" && (body[0] == '-' || body[0] == '+') {
		if body[0] == '-' {
			sign = "-"
		}
		body = body[1:]
	}
	whole, frac, _ := strings.Cut(body, ".")
	if whole == "" && frac == "" || !allDigits(whole) || !allDigits(frac) {
		return "", fmt.Errorf("%q is not a decimal number", s)
	}
	if len(frac) > scale {
		if strings.Trim(frac[scale:], "0") != "" {
			return "", fmt.Errorf("%s has more than %d digits after the point", s, scale)
		}
		frac = frac[:scale]
	}
	digits := strings.TrimLeft(whole+frac+strings.Repeat("0", scale-len(frac)), "0")
	if len(digits) > precision {
		return "", fmt.Errorf("%s does not fit DECIMAL(%d,%d)", s, precision, scale)
	}
	if digits == "" {
		return "0", nil
	}
	return sign + digits, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// describe names the type of a value as database/sql scanned it, for
// error messages.
func describe(v any) string {
	switch v := v.(type) {
	case int64:
		return fmt.Sprintf("an integer (%d)", v)
	case float64:
		return fmt.Sprintf("a float (%v)", v)
	case bool:
		return fmt.Sprintf("a boolean (%t)", v)
	case string:
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		return fmt.Sprintf("text (%q)", v)
	case []byte:
		return fmt.Sprintf("a blob of %d bytes", len(v))
	case time.Time:
		return fmt.Sprintf("a time (%s)", v.Format(time.RFC3339Nano))
	}
	return fmt.Sprintf("a %T", v)
}
