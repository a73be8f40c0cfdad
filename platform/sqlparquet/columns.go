package sqlparquet

import (
	"database/sql"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/bounded-dev/bounded/platform/sqldb"
)

// column is one result column and the Parquet field it becomes.
type column struct {
	index    int    // position in the result, and leaf column index in the file
	name     string // as the query returns it
	sqlType  string // as the driver reports it, for error messages
	kind     Kind
	optional bool
	// precision and scale of a Decimal.
	precision, scale int
	// infer: a SQLite expression with no declared type; its kind comes from
	// the first rows (inferKinds).
	infer bool
}

// columnsOf maps the result's columns to Parquet fields. overrides come
// from Config.Columns; notNull names columns the catalog says are NOT NULL.
func columnsOf(d sqldb.Dialect, types []*sql.ColumnType, overrides map[string]Kind, notNull map[string]bool) ([]*column, error) {
	cols := make([]*column, len(types))
	seen := make(map[string]bool, len(types))
	for i, t := range types {
		c := &column{index: i, name: t.Name(), sqlType: t.DatabaseTypeName(), optional: !notNull[t.Name()]}
		if seen[c.name] {
			return nil, fmt.Errorf("column %q appears twice in the result; a Parquet file needs unique names, so alias one", c.name)
		}
		seen[c.name] = true
		if nullable, ok := t.Nullable(); ok && !nullable {
			c.optional = false
		}
		if k, ok := overrides[c.name]; ok {
			c.kind = k
		} else if d == sqldb.Postgres {
			if err := c.postgresKind(t); err != nil {
				return nil, err
			}
		} else {
			c.sqliteKind()
		}
		if c.sqlType == "" {
			c.sqlType = "no declared type"
		}
		cols[i] = c
	}
	return cols, nil
}

// postgresKind picks the kind of a PostgreSQL column from its type name as
// pgx reports it.
func (c *column) postgresKind(t *sql.ColumnType) error {
	switch c.sqlType {
	case "BOOL":
		c.kind = Bool
	case "INT2":
		c.kind = Int16
	case "INT4":
		c.kind = Int32
	case "INT8":
		c.kind = Int64
	case "FLOAT4":
		c.kind = Float32
	case "FLOAT8":
		c.kind = Float64
	case "NUMERIC":
		// An unconstrained numeric has no precision to declare (pgx then
		// reports 65535), and one wider than 38 digits fits no warehouse's
		// decimal: both go as exact decimal text.
		c.kind = String
		if p, s, ok := t.DecimalSize(); ok {
			c.setDecimal(int(p), int(s))
		}
	case "TEXT", "VARCHAR", "BPCHAR", "NAME":
		c.kind = String
	case "UUID":
		// As text: BigQuery and Snowflake have no UUID type to load the
		// UUID logical type into (an override of UUID asks for it).
		c.kind = String
	case "JSON", "JSONB":
		c.kind = JSON
	case "BYTEA":
		c.kind = Bytes
	case "DATE":
		c.kind = Date
	case "TIMESTAMPTZ":
		c.kind = Timestamp
	case "TIMESTAMP":
		c.kind = LocalTimestamp
	default:
		typ := c.sqlType
		if _, err := strconv.Atoi(typ); err == nil {
			typ = "OID " + typ // a type pgx does not know by name
		}
		return fmt.Errorf("column %q has type %s, which has no Parquet mapping: cast it in the query (say %s::text) or name its Kind in Config.Columns",
			c.name, typ, c.name)
	}
	return nil
}

// sqliteDecimal matches a declared NUMERIC(p) or DECIMAL(p,s).
var sqliteDecimal = regexp.MustCompile(`^(?:NUMERIC|DECIMAL)\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)$`)

// sqliteKind picks the kind of a SQLite column from its declared type (as
// modernc reports it: upper case, with any arguments): a few names that say
// what the column means, then SQLite's own affinity rules
// (https://www.sqlite.org/datatype3.html#determination_of_column_affinity).
func (c *column) sqliteKind() {
	t := strings.TrimSpace(c.sqlType)
	switch {
	case t == "":
		c.infer = true
	case t == "BOOLEAN" || t == "BOOL":
		c.kind = Bool
	case t == "DATE":
		c.kind = Date
	case t == "DATETIME" || strings.HasPrefix(t, "TIMESTAMP"):
		c.kind = Timestamp
	case t == "JSON":
		c.kind = JSON
	case t == "UUID":
		c.kind = String
	case sqliteDecimal.MatchString(t):
		m := sqliteDecimal.FindStringSubmatch(t)
		p, _ := strconv.Atoi(m[1])
		s, _ := strconv.Atoi(m[2]) // "" when there is no scale: 0
		c.kind = Float64
		c.setDecimal(p, s)
	case strings.Contains(t, "INT"):
		c.kind = Int64
	case strings.Contains(t, "CHAR"), strings.Contains(t, "CLOB"), strings.Contains(t, "TEXT"):
		c.kind = String
	case strings.Contains(t, "BLOB"):
		c.kind = Bytes
	default:
		// REAL, FLOAT, DOUBLE and NUMERIC affinity alike: SQLite stores
		// a NUMERIC value as an integer when it can and as a float
		// otherwise, so a double holds both.
		c.kind = Float64
	}
}

// setDecimal makes c a Decimal if precision and scale fit a Parquet decimal
// that warehouses load (precision up to 38); otherwise it leaves c alone.
func (c *column) setDecimal(precision, scale int) {
	if precision >= 1 && precision <= 38 && scale >= 0 && scale <= precision {
		c.kind, c.precision, c.scale = Decimal, precision, scale
	}
}

func needsInference(cols []*column) bool {
	for _, c := range cols {
		if c.infer {
			return true
		}
	}
	return false
}

// inferKinds picks the kind of each untyped column from its values in rows:
// integers give Int64, floats (or integers and floats) Float64, text (or
// text and numbers) String, blobs Bytes. A column with only NULLs there
// becomes String, which also takes numbers that come later.
func inferKinds(cols []*column, rows [][]any) error {
	for _, c := range cols {
		if !c.infer {
			continue
		}
		for _, r := range rows {
			var k Kind
			switch r[c.index].(type) {
			case nil:
				continue
			case int64:
				k = Int64
			case float64:
				k = Float64
			case string:
				k = String
			case []byte:
				k = Bytes
			case bool:
				k = Bool
			case time.Time:
				k = Timestamp
			default:
				return fmt.Errorf("column %q (%s) holds %s", c.name, c.sqlType, describe(r[c.index]))
			}
			switch {
			case c.kind == 0 || c.kind == k:
				c.kind = k
			case numeric(c.kind) && numeric(k):
				c.kind = Float64
			case c.kind == String && numeric(k), numeric(c.kind) && k == String:
				c.kind = String
			default:
				return fmt.Errorf("column %q (%s) holds both %v and %v values: name its Kind in Config.Columns",
					c.name, c.sqlType, c.kind, k)
			}
		}
		if c.kind == 0 {
			c.kind = String
		}
	}
	return nil
}

func numeric(k Kind) bool { return k == Int64 || k == Float64 }

// schemaOf returns the Parquet schema of a file of cols.
func schemaOf(cols []*column) *parquet.Schema {
	g := fieldsInOrder{Group: parquet.Group{}, fields: make([]parquet.Field, len(cols))}
	for i, c := range cols {
		n := c.node()
		if c.optional {
			n = parquet.Optional(n)
		}
		g.Group[c.name] = n
		g.fields[i] = field{Node: n, name: c.name}
	}
	return parquet.NewSchema("schema", g)
}

func (c *column) node() parquet.Node {
	switch c.kind {
	case Bool:
		return parquet.Leaf(parquet.BooleanType)
	case Int16:
		return parquet.Int(16)
	case Int32:
		return parquet.Int(32)
	case Int64:
		return parquet.Int(64)
	case Float32:
		return parquet.Leaf(parquet.FloatType)
	case Float64:
		return parquet.Leaf(parquet.DoubleType)
	case Decimal:
		switch {
		case c.precision <= 9:
			return parquet.Decimal(c.scale, c.precision, parquet.Int32Type)
		case c.precision <= 18:
			return parquet.Decimal(c.scale, c.precision, parquet.Int64Type)
		default:
			return parquet.Decimal(c.scale, c.precision, parquet.FixedLenByteArrayType(16))
		}
	case String:
		return parquet.String()
	case JSON:
		return parquet.JSON()
	case UUID:
		return parquet.UUID()
	case Bytes:
		return parquet.Leaf(parquet.ByteArrayType)
	case Date:
		return parquet.Date()
	case LocalTimestamp:
		return parquet.TimestampAdjusted(parquet.Microsecond, false)
	case Timestamp, UnixSeconds, UnixMillis, UnixMicros:
		return parquet.Timestamp(parquet.Microsecond)
	}
	panic(fmt.Sprintf("sqlparquet: column %q has no kind", c.name)) // columnsOf and inferKinds set one
}

// fieldsInOrder is a Parquet group whose fields keep the order of the
// result's columns: the fields of a parquet.Group, a map, come out sorted
// by name, and a warehouse shows a table's columns in file order. The
// embedded Group provides the other Node methods.
type fieldsInOrder struct {
	parquet.Group
	fields []parquet.Field
}

func (g fieldsInOrder) Fields() []parquet.Field { return g.fields }

type field struct {
	parquet.Node
	name string
}

func (f field) Name() string { return f.name }

// Value serves writers that deconstruct Go values by reflection, which the
// exporter never does: it writes parquet.Rows.
func (f field) Value(reflect.Value) reflect.Value { return reflect.Value{} }
