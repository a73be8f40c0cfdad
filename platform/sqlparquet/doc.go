// Package sqlparquet exports the result of a SQL query, or a whole table, as
// a Parquet file that a warehouse (DuckDB, BigQuery, ClickHouse, Snowflake)
// can load. It needs no code per table: the Parquet schema comes from the
// result's column types, as the driver reports them, for both dialects of
// package sqldb.
//
//	e, err := sqlparquet.NewExporter(db, sqlparquet.Config{Columns: map[string]sqlparquet.Kind{
//		"checked_out_at": sqlparquet.UnixMillis, // INTEGER milliseconds on SQLite, timestamptz on PostgreSQL
//		"inferred":       sqlparquet.Bool,       // INTEGER 0 or 1 on SQLite, boolean on PostgreSQL
//	}})
//	...
//	n, err := e.ExportTable(ctx, dir, "fact_checkout") // writes dir/fact_checkout.parquet
//
// Rows stream from the database to the file, one row group of
// Config.RowGroupSize rows (default 100,000) at a time, so memory stays
// bounded whatever the size of the table. [Exporter.ExportTable] writes to
// a temporary file and renames it into place, so a reader never sees a
// partial file. Columns keep the order of the result.
//
// # Type mapping
//
// Every column is OPTIONAL, except that [Exporter.ExportTable] makes a
// column REQUIRED when the catalog says it is NOT NULL (and, on SQLite, for
// an INTEGER PRIMARY KEY, which is the rowid). A value that its column's
// type cannot take is an error naming the column and the row, never a
// silent NULL.
//
// PostgreSQL, by the type name pgx reports:
//
//	SQL type                     Parquet physical type     logical type
//	bool                         BOOLEAN
//	int2 (smallint)              INT32                     INT(16, signed)
//	int4 (integer)               INT32                     INT(32, signed)
//	int8 (bigint)                INT64                     INT(64, signed)
//	float4 (real)                FLOAT
//	float8 (double precision)    DOUBLE
//	numeric(p,s), p <= 9         INT32                     DECIMAL(p, s)
//	numeric(p,s), p <= 18        INT64                     DECIMAL(p, s)
//	numeric(p,s), p <= 38        FIXED_LEN_BYTE_ARRAY(16)  DECIMAL(p, s)
//	numeric, numeric(p>38,s)     BYTE_ARRAY                STRING: the exact decimal text
//	text, varchar, char(n), name BYTE_ARRAY                STRING (char(n) keeps its padding)
//	uuid                         BYTE_ARRAY                STRING: the canonical text
//	json, jsonb                  BYTE_ARRAY                JSON (jsonb as PostgreSQL prints it)
//	bytea                        BYTE_ARRAY
//	date                         INT32                     DATE
//	timestamptz                  INT64                     TIMESTAMP(MICROS, isAdjustedToUTC=true)
//	timestamp                    INT64                     TIMESTAMP(MICROS, isAdjustedToUTC=false)
//	anything else                an error naming the column and its type
//
// Unconstrained numeric becomes text rather than a double because a double
// would round it; cast it in the query (amount::numeric(18,2)) to get a
// DECIMAL. uuid becomes text because BigQuery and Snowflake have no type to
// load Parquet's UUID into; the UUID override asks for the 16-byte UUID
// type. For a type with no mapping (interval, time, arrays, enums, ranges,
// ...) cast it in the query (x::text) or name a Kind in Config.Columns.
// The infinite dates and timestamps are errors.
//
// SQLite, by the declared type modernc.org/sqlite reports (a few names
// first, then SQLite's own rules for a column's affinity):
//
//	declared type                Parquet physical type     logical type
//	BOOLEAN, BOOL                BOOLEAN                   (from 0 and 1)
//	DATE                         INT32                     DATE (from text YYYY-MM-DD)
//	DATETIME, TIMESTAMP...       INT64                     TIMESTAMP(MICROS, isAdjustedToUTC=true), from text
//	JSON                         BYTE_ARRAY                JSON
//	UUID                         BYTE_ARRAY                STRING
//	NUMERIC(p,s), DECIMAL(p,s)   as numeric(p,s) above, for p <= 38, from the stored integer or float
//	   (p <= 38)                 rounded to s digits
//	containing INT               INT64                     INT(64, signed)
//	containing CHAR, CLOB, TEXT  BYTE_ARRAY                STRING
//	containing BLOB              BYTE_ARRAY
//	anything else (REAL, FLOAT,  DOUBLE
//	   DOUBLE, NUMERIC, ...)
//	none (an expression)         from the values in the first 1,000 rows: integers INT64, floats (or
//	                             integers and floats) DOUBLE, text (or text and numbers) STRING,
//	                             blobs BYTE_ARRAY, only NULLs STRING
//
// SQLite types values, not columns, so a column may hold a value its
// declared type does not suggest (text in an INTEGER column): that is an
// error naming the column and row; an override of String accepts numbers
// too. Text times are read in RFC 3339, in SQLite's formats and in Go's
// time.Time.String format (what modernc.org/sqlite stores for a time.Time
// argument); text with no offset is UTC. The driver reads a zero-length
// blob as NULL.
//
// # Overrides
//
// Where the SQL type does not say what a column holds, Config.Columns says
// it, by column name: UnixMillis for an INTEGER of milliseconds since the
// epoch (UnixSeconds, UnixMicros alike), Timestamp for a TEXT time, Bool
// for an INTEGER 0 or 1, Float64 for an untyped expression that is
// sometimes an integer. A Kind also takes values that already carry its
// meaning (a time.Time for UnixMillis, a bool for Bool), so one map serves
// both dialects of a table. See [Kind] for what each kind accepts.
//
// Timestamps are microseconds: a finer time (SQLite text with nanoseconds)
// is truncated toward the past.
//
// # Loading the files
//
// These are the documented ways to load Parquet in each system; the
// package's tests read the files back with parquet-go, not with these
// systems.
//
// DuckDB reads the files in place:
//
//	SELECT * FROM read_parquet('dir/*.parquet');
//	CREATE TABLE fact_order AS SELECT * FROM read_parquet('dir/fact_order.parquet');
//
// BigQuery loads a file from disk or Cloud Storage, creating the table from
// the file's schema (its Parquet conversion table says what DECIMAL and a
// TIMESTAMP with isAdjustedToUTC=false become; bq load's
// --decimal_target_types chooses the decimal type):
//
//	bq load --source_format=PARQUET mydataset.fact_order dir/fact_order.parquet
//	bq load --source_format=PARQUET mydataset.fact_order 'gs://bucket/dir/fact_order*.parquet'
//
// ClickHouse reads Parquet from standard input or with the file table
// function (relative to its user_files directory):
//
//	clickhouse-client --query "INSERT INTO fact_order FORMAT Parquet" < dir/fact_order.parquet
//	INSERT INTO fact_order SELECT * FROM file('dir/fact_order.parquet', Parquet);
//
// Snowflake copies from a stage, matching columns by name:
//
//	PUT file://dir/*.parquet @my_stage;
//	COPY INTO fact_order FROM @my_stage/fact_order.parquet
//	  FILE_FORMAT = (TYPE = PARQUET) MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE;
package sqlparquet
