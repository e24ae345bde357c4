//! The schema a live database actually has, and how it differs from the migrations.
//!
//! [`introspect`] reads the user tables of a database (PostgreSQL: the current schema;
//! SQLite: the main database) into a [`LiveSchema`]: each table's columns with their
//! normalised types, nullability, key and single-column unique constraints, and the
//! indexes created by `CREATE INDEX`. Bookkeeping tables are left out: the runner's
//! `rustango_migrations`, SQLite's own `sqlite_*` tables and the `__rustango_new_*`
//! tables of an SQLite rebuild.
//!
//! [`drift`] compares a live schema with the [`SchemaSnapshot`] the migrations leave
//! behind and lists every difference as a [`Drift`]. The expected column types come from
//! the code that writes the DDL ([`column_def`](crate::column_def) and
//! [`Dialect::column_type`]), so a database built by the migrations has no drift.
//!
//! ```
//! use rustango_migrate::{Drift, LiveSchema, SchemaSnapshot, TableState, drift};
//!
//! let live = LiveSchema::default();
//! let mut expected = SchemaSnapshot::default();
//! assert!(drift(&live, &expected, &rustango_query::Sqlite).is_empty());
//!
//! expected.tables.insert(
//!     "posts".into(),
//!     TableState {
//!         model: "Post".into(),
//!         name: "posts".into(),
//!         columns: vec![],
//!         indexes: vec![],
//!         checks: vec![],
//!         m2m: vec![],
//!     },
//! );
//! let found = drift(&live, &expected, &rustango_query::Sqlite);
//! assert_eq!(found, [Drift::MissingTable { table: "posts".into() }]);
//! assert_eq!(found[0].to_string(), "table `posts` is missing");
//! ```
//!
//! Reading a database:
//!
//! ```no_run
//! # async fn check(pool: &rustango_orm::Pool) -> Result<(), rustango_migrate::Error> {
//! let live = rustango_migrate::introspect(pool).await?;
//! let expected = rustango_migrate::SchemaSnapshot::from_registry();
//! for d in rustango_migrate::drift(&live, &expected, pool.dialect()) {
//!     println!("{d}");
//! }
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::fmt;

use rustango_core::{Value, ValueKind};
use rustango_orm::{Pool, raw};
use rustango_query::{Dialect, DialectKind};

use crate::{APPLIED_TABLE, Error, IndexState, SchemaSnapshot, TableState, column_def};

/// The schema of a live database: its user tables, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveSchema {
    /// Tables by name.
    pub tables: BTreeMap<String, LiveTable>,
}

/// One table of a live database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveTable {
    /// Columns by name.
    pub columns: BTreeMap<String, LiveColumn>,
    /// Explicitly created indexes by name (not those behind a primary key or a unique
    /// constraint).
    pub indexes: BTreeMap<String, LiveIndex>,
}

/// One column of a live table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveColumn {
    /// The type, normalised: upper case, the dialect's spelling (`BIGINT`,
    /// `VARCHAR(200)`, `TEXT`, `TIMESTAMPTZ`, `NUMERIC(10, 2)`).
    pub data_type: String,
    /// Accepts NULL.
    pub nullable: bool,
    /// Is (part of) the primary key.
    pub primary_key: bool,
    /// Has a single-column unique constraint (`UNIQUE` in its definition).
    pub unique: bool,
}

/// One explicitly created index of a live table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveIndex {
    /// The indexed columns, in order (an expression appears as its SQL text).
    pub columns: Vec<String>,
    /// A unique index.
    pub unique: bool,
}

impl fmt::Display for LiveIndex {
    /// `(a, b)`, or `UNIQUE (a, b)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.unique {
            f.write_str("UNIQUE ")?;
        }
        write!(f, "({})", self.columns.join(", "))
    }
}

/// One difference between a live database and the schema its migrations describe.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Drift {
    /// A table of the migrations does not exist.
    MissingTable {
        /// The table.
        table: String,
    },
    /// A table exists that no migration creates.
    UnexpectedTable {
        /// The table.
        table: String,
    },
    /// A column of the migrations does not exist.
    MissingColumn {
        /// The table.
        table: String,
        /// The column.
        column: String,
    },
    /// A column exists that no migration creates.
    UnexpectedColumn {
        /// The table.
        table: String,
        /// The column.
        column: String,
    },
    /// A column has another type than the migrations give it.
    ColumnType {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// The type in the database (normalised).
        live: String,
        /// The type the migrations write (normalised).
        expected: String,
    },
    /// A column accepts NULL where the migrations say NOT NULL, or the reverse.
    Nullability {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// Whether the database's column accepts NULL.
        live_nullable: bool,
    },
    /// A column is in the primary key where the migrations say it is not, or the
    /// reverse.
    PrimaryKey {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// Whether the database's column is in the primary key.
        live_primary_key: bool,
    },
    /// A column has a unique constraint the migrations do not give it, or lacks one
    /// they do.
    Unique {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// Whether the database's column has a unique constraint.
        live_unique: bool,
    },
    /// An index of the migrations does not exist.
    MissingIndex {
        /// The table.
        table: String,
        /// The index.
        index: String,
    },
    /// An index exists that no migration creates.
    UnexpectedIndex {
        /// The table.
        table: String,
        /// The index.
        index: String,
    },
    /// An index covers other columns, or differs in uniqueness, than the migrations
    /// say.
    IndexDefinition {
        /// The table.
        table: String,
        /// The index.
        index: String,
        /// The index in the database.
        live: LiveIndex,
        /// The index the migrations create.
        expected: LiveIndex,
    },
}

impl Drift {
    /// The table the difference is in.
    pub fn table(&self) -> &str {
        match self {
            Drift::MissingTable { table }
            | Drift::UnexpectedTable { table }
            | Drift::MissingColumn { table, .. }
            | Drift::UnexpectedColumn { table, .. }
            | Drift::ColumnType { table, .. }
            | Drift::Nullability { table, .. }
            | Drift::PrimaryKey { table, .. }
            | Drift::Unique { table, .. }
            | Drift::MissingIndex { table, .. }
            | Drift::UnexpectedIndex { table, .. }
            | Drift::IndexDefinition { table, .. } => table,
        }
    }
}

fn null_word(nullable: bool) -> &'static str {
    if nullable { "nullable" } else { "NOT NULL" }
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Drift::MissingTable { table } => write!(f, "table `{table}` is missing"),
            Drift::UnexpectedTable { table } => {
                write!(f, "table `{table}` is not in the migrations")
            }
            Drift::MissingColumn { table, column } => {
                write!(f, "column `{table}.{column}` is missing")
            }
            Drift::UnexpectedColumn { table, column } => {
                write!(f, "column `{table}.{column}` is not in the migrations")
            }
            Drift::ColumnType {
                table,
                column,
                live,
                expected,
            } => write!(
                f,
                "column `{table}.{column}` is {live} in the database but {expected} in the \
                 migrations"
            ),
            Drift::Nullability {
                table,
                column,
                live_nullable,
            } => write!(
                f,
                "column `{table}.{column}` is {} in the database but {} in the migrations",
                null_word(*live_nullable),
                null_word(!live_nullable)
            ),
            Drift::PrimaryKey {
                table,
                column,
                live_primary_key: true,
            } => write!(
                f,
                "column `{table}.{column}` is in the primary key in the database but not in \
                 the migrations"
            ),
            Drift::PrimaryKey { table, column, .. } => write!(
                f,
                "column `{table}.{column}` is not in the primary key in the database but is in \
                 the migrations"
            ),
            Drift::Unique {
                table,
                column,
                live_unique: true,
            } => write!(
                f,
                "column `{table}.{column}` is unique in the database but not in the migrations"
            ),
            Drift::Unique { table, column, .. } => write!(
                f,
                "column `{table}.{column}` is not unique in the database but unique in the \
                 migrations"
            ),
            Drift::MissingIndex { index, .. } => write!(f, "index `{index}` is missing"),
            Drift::UnexpectedIndex { index, .. } => {
                write!(f, "index `{index}` is not in the migrations")
            }
            Drift::IndexDefinition {
                index,
                live,
                expected,
                ..
            } => write!(
                f,
                "index `{index}` is {live} in the database but {expected} in the migrations"
            ),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Type names
// ---------------------------------------------------------------------------------------

/// One spelling per type: upper case, single spaces, `name(a, b)` arguments, and
/// PostgreSQL's long names (`character varying`, `timestamp with time zone`) and
/// aliases (`int8`, `bool`) replaced by the names the dialects write.
fn normalize_type(raw: &str) -> String {
    let upper = raw
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase();
    // `TIMESTAMP(3) WITH TIME ZONE` carries its arguments in the middle.
    let (base, args) = match (upper.find('('), upper.find(')')) {
        (Some(open), Some(close)) if open < close => {
            let args: Vec<&str> = upper[open + 1..close].split(',').map(str::trim).collect();
            let base = format!("{} {}", upper[..open].trim(), upper[close + 1..].trim());
            (base.trim().to_owned(), Some(args.join(", ")))
        }
        _ => (upper, None),
    };
    let base = match base.as_str() {
        "CHARACTER VARYING" => "VARCHAR",
        "CHARACTER" | "BPCHAR" => "CHAR",
        "TIMESTAMP WITH TIME ZONE" => "TIMESTAMPTZ",
        "TIMESTAMP WITHOUT TIME ZONE" => "TIMESTAMP",
        "TIME WITH TIME ZONE" => "TIMETZ",
        "TIME WITHOUT TIME ZONE" => "TIME",
        "INT" | "INT4" => "INTEGER",
        "INT2" => "SMALLINT",
        "INT8" => "BIGINT",
        "BOOL" => "BOOLEAN",
        "FLOAT4" => "REAL",
        "FLOAT8" => "DOUBLE PRECISION",
        "DECIMAL" => "NUMERIC",
        "BIT VARYING" => "VARBIT",
        other => other,
    };
    match args {
        Some(args) => format!("{base}({args})"),
        None => base.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------
// Reading the database
// ---------------------------------------------------------------------------------------

/// Tables that belong to the machinery, not to the project.
fn is_ignored(table: &str) -> bool {
    table == APPLIED_TABLE
        || table
            .get(..7)
            .is_some_and(|p| p.eq_ignore_ascii_case("sqlite_"))
        || table.starts_with("__rustango_new_")
}

fn bad_row(catalog: &'static str) -> Error {
    Error::Introspection {
        catalog,
        reason: "it returned a row of an unexpected shape",
    }
}

/// Reads one row's cells in order; `None` when a cell is missing or of another kind
/// (the caller turns that into [`Error::Introspection`]).
struct Cells(std::vec::IntoIter<Value>);

impl Cells {
    fn new(row: Vec<Value>) -> Self {
        Cells(row.into_iter())
    }

    /// Text, `Some(None)` for NULL.
    fn text_or_null(&mut self) -> Option<Option<String>> {
        match self.0.next()? {
            Value::String(s) => Some(Some(s)),
            Value::Null(_) => Some(None),
            _ => None,
        }
    }

    fn text(&mut self) -> Option<String> {
        self.text_or_null()?
    }

    /// A boolean, from a boolean or an integer (SQLite's pragmas say 0/1).
    fn flag(&mut self) -> Option<bool> {
        match self.0.next()? {
            Value::Bool(b) => Some(b),
            Value::I64(n) => Some(n != 0),
            Value::I32(n) => Some(n != 0),
            _ => None,
        }
    }

    fn int(&mut self) -> Option<i64> {
        match self.0.next()? {
            Value::I64(n) => Some(n),
            Value::I32(n) => Some(n.into()),
            Value::I16(n) => Some(n.into()),
            _ => None,
        }
    }
}

/// Reads the user tables of the database `pool` connects to.
///
/// PostgreSQL: the tables of `current_schema()`, from `pg_catalog`. SQLite: the tables of
/// the main database, from `sqlite_master` and the `pragma_table_info` /
/// `pragma_index_list` / `pragma_index_info` table-valued functions (joined, so table
/// names are never formatted into SQL, and each catalog is read by one query).
/// `rustango_migrations`, `sqlite_*` and `__rustango_new_*` tables are left out.
pub async fn introspect(pool: &Pool) -> Result<LiveSchema, Error> {
    match pool.backend() {
        DialectKind::Postgres => introspect_postgres(pool).await,
        DialectKind::Sqlite => introspect_sqlite(pool).await,
        _ => Err(Error::Introspection {
            catalog: "backend",
            reason: "this backend cannot be introspected yet",
        }),
    }
}

/// Adds the tables named by the first cell of each row; `None` on a malformed row.
fn add_tables(schema: &mut LiveSchema, rows: Vec<Vec<Value>>) -> Option<()> {
    for row in rows {
        let name = Cells::new(row).text()?;
        if !is_ignored(&name) {
            schema.tables.insert(name, LiveTable::default());
        }
    }
    Some(())
}

const PG_TABLES: &str = "SELECT c.relname::text \
     FROM pg_catalog.pg_class AS c \
     JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace \
     WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition";

const PG_COLUMNS: &str = "SELECT c.relname::text, a.attname::text, \
       pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull, \
       EXISTS (SELECT 1 FROM pg_catalog.pg_index AS i \
               WHERE i.indrelid = c.oid AND i.indisprimary \
                 AND a.attnum = ANY (i.indkey::int2[])), \
       EXISTS (SELECT 1 FROM pg_catalog.pg_constraint AS k \
               WHERE k.conrelid = c.oid AND k.contype = 'u' AND k.conkey = ARRAY[a.attnum]) \
     FROM pg_catalog.pg_class AS c \
     JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace \
     JOIN pg_catalog.pg_attribute AS a \
       ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
     WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition \
     ORDER BY c.relname, a.attnum";

/// Indexes that no primary key, unique or exclusion constraint owns, one row per key
/// column (an expression column is its SQL text).
const PG_INDEXES: &str = "SELECT t.relname::text, ic.relname::text, i.indisunique, \
       COALESCE(a.attname::text, pg_catalog.pg_get_indexdef(i.indexrelid, k.ord, true)) \
     FROM pg_catalog.pg_index AS i \
     JOIN pg_catalog.pg_class AS ic ON ic.oid = i.indexrelid \
     JOIN pg_catalog.pg_class AS t ON t.oid = i.indrelid \
     JOIN pg_catalog.pg_namespace AS n ON n.oid = t.relnamespace \
     CROSS JOIN LATERAL generate_series(1, i.indnkeyatts::int4) AS k(ord) \
     LEFT JOIN pg_catalog.pg_attribute AS a \
       ON a.attrelid = t.oid AND a.attnum = i.indkey[k.ord - 1] AND a.attnum > 0 \
     WHERE n.nspname = current_schema() AND NOT i.indisprimary \
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint AS con \
                       WHERE con.conindid = i.indexrelid AND con.conrelid = i.indrelid \
                         AND con.contype IN ('p', 'u', 'x')) \
     ORDER BY t.relname, ic.relname, k.ord";

async fn introspect_postgres(pool: &Pool) -> Result<LiveSchema, Error> {
    use ValueKind as K;
    let mut schema = LiveSchema::default();
    let rows = raw::fetch(pool, PG_TABLES, Vec::new(), &[K::String]).await?;
    add_tables(&mut schema, rows).ok_or_else(|| bad_row("pg_class"))?;

    let kinds = [K::String, K::String, K::String, K::Bool, K::Bool, K::Bool];
    for row in raw::fetch(pool, PG_COLUMNS, Vec::new(), &kinds).await? {
        let mut r = Cells::new(row);
        let cells = (|| {
            let names = (r.text()?, r.text()?, r.text()?);
            Some((names, r.flag()?, r.flag()?, r.flag()?))
        })();
        let ((table, column, data_type), not_null, primary_key, unique) =
            cells.ok_or_else(|| bad_row("pg_attribute"))?;
        if let Some(t) = schema.tables.get_mut(&table) {
            t.columns.insert(
                column,
                LiveColumn {
                    data_type: normalize_type(&data_type),
                    nullable: !not_null,
                    primary_key,
                    unique: unique && !primary_key,
                },
            );
        }
    }

    let kinds = [K::String, K::String, K::Bool, K::String];
    for row in raw::fetch(pool, PG_INDEXES, Vec::new(), &kinds).await? {
        let mut r = Cells::new(row);
        let cells = (|| Some((r.text()?, r.text()?, r.flag()?, r.text()?)))();
        let (table, index, unique, column) = cells.ok_or_else(|| bad_row("pg_index"))?;
        if let Some(t) = schema.tables.get_mut(&table) {
            t.indexes
                .entry(index)
                .or_insert_with(|| LiveIndex {
                    columns: Vec::new(),
                    unique,
                })
                .columns
                .push(column);
        }
    }
    Ok(schema)
}

const SQLITE_TABLES: &str = "SELECT name FROM sqlite_master WHERE type = 'table'";

const SQLITE_COLUMNS: &str = "SELECT m.name, p.name, p.type, p.\"notnull\", p.pk \
     FROM sqlite_master AS m JOIN pragma_table_info(m.name) AS p \
     WHERE m.type = 'table' \
     ORDER BY m.name, p.cid";

const SQLITE_INDEXES: &str = "SELECT m.name, il.name, il.\"unique\", il.origin, ii.name \
     FROM sqlite_master AS m \
     JOIN pragma_index_list(m.name) AS il \
     JOIN pragma_index_info(il.name) AS ii \
     WHERE m.type = 'table' \
     ORDER BY m.name, il.name, ii.seqno";

async fn introspect_sqlite(pool: &Pool) -> Result<LiveSchema, Error> {
    use ValueKind as K;
    let mut schema = LiveSchema::default();
    let rows = raw::fetch(pool, SQLITE_TABLES, Vec::new(), &[K::String]).await?;
    add_tables(&mut schema, rows).ok_or_else(|| bad_row("sqlite_master"))?;

    // (table, column, declared type, not null, position in the primary key)
    let kinds = [K::String, K::String, K::String, K::I64, K::I64];
    let mut pk_columns: BTreeMap<String, usize> = BTreeMap::new();
    let mut columns = Vec::new();
    for row in raw::fetch(pool, SQLITE_COLUMNS, Vec::new(), &kinds).await? {
        let mut r = Cells::new(row);
        let cells = (|| Some((r.text()?, r.text()?, r.text_or_null()?, r.flag()?, r.int()?)))();
        let (table, column, data_type, not_null, pk) =
            cells.ok_or_else(|| bad_row("pragma_table_info"))?;
        let data_type = data_type.unwrap_or_default();
        if pk > 0 {
            *pk_columns.entry(table.clone()).or_default() += 1;
        }
        columns.push((table, column, data_type, not_null, pk > 0));
    }
    for (table, column, data_type, not_null, primary_key) in columns {
        let Some(t) = schema.tables.get_mut(&table) else {
            continue;
        };
        let data_type = normalize_type(&data_type);
        // A lone `INTEGER PRIMARY KEY` is the rowid: never NULL, though the pragma
        // does not say NOT NULL.
        let rowid = primary_key && data_type == "INTEGER" && pk_columns.get(&table) == Some(&1);
        t.columns.insert(
            column,
            LiveColumn {
                data_type,
                nullable: !not_null && !rowid,
                primary_key,
                unique: false,
            },
        );
    }

    // (table, index, unique, origin: c = CREATE INDEX, u = UNIQUE, pk = PRIMARY KEY,
    // column or NULL for an expression)
    let kinds = [K::String, K::String, K::I64, K::String, K::String];
    let mut unique_constraints: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for row in raw::fetch(pool, SQLITE_INDEXES, Vec::new(), &kinds).await? {
        let mut r = Cells::new(row);
        let cells = (|| {
            Some((
                r.text()?,
                r.text()?,
                r.flag()?,
                r.text()?,
                r.text_or_null()?,
            ))
        })();
        let (table, index, unique, origin, column) =
            cells.ok_or_else(|| bad_row("pragma_index_list"))?;
        let column = column.unwrap_or_else(|| "<expression>".to_owned());
        let Some(t) = schema.tables.get_mut(&table) else {
            continue;
        };
        match origin.as_str() {
            "c" if !index.starts_with("sqlite_autoindex_") => t
                .indexes
                .entry(index)
                .or_insert_with(|| LiveIndex {
                    columns: Vec::new(),
                    unique,
                })
                .columns
                .push(column),
            "u" => unique_constraints
                .entry((table, index))
                .or_default()
                .push(column),
            _ => {}
        }
    }
    for ((table, _), columns) in unique_constraints {
        if let ([column], Some(t)) = (columns.as_slice(), schema.tables.get_mut(&table))
            && let Some(c) = t.columns.get_mut(column)
        {
            c.unique = !c.primary_key;
        }
    }
    Ok(schema)
}

// ---------------------------------------------------------------------------------------
// Comparing
// ---------------------------------------------------------------------------------------

/// A column as the migrations create it, in [`LiveColumn`]'s terms.
struct ExpectedColumn<'a> {
    name: &'a str,
    column: LiveColumn,
}

/// A table as the migrations create it.
#[derive(Default)]
struct ExpectedTable<'a> {
    columns: Vec<ExpectedColumn<'a>>,
    indexes: Vec<&'a IndexState>,
}

fn expected_type(dialect: &dyn Dialect, def: &rustango_query::ddl::ColumnDef<'_>) -> String {
    if def.is_serial_pk() && dialect.kind() == DialectKind::Sqlite {
        // `INTEGER PRIMARY KEY AUTOINCREMENT`, whatever the integer's width.
        return "INTEGER".to_owned();
    }
    normalize_type(&dialect.column_type(def))
}

fn expected_table<'a>(dialect: &dyn Dialect, t: &'a TableState) -> ExpectedTable<'a> {
    ExpectedTable {
        columns: t
            .columns
            .iter()
            .map(|c| {
                let def = column_def(t, c);
                ExpectedColumn {
                    name: &c.name,
                    column: LiveColumn {
                        data_type: expected_type(dialect, &def),
                        nullable: c.nullable && !c.primary_key,
                        primary_key: c.primary_key,
                        unique: c.unique && !c.primary_key,
                    },
                }
            })
            .collect(),
        indexes: t.indexes.iter().collect(),
    }
}

/// The junction table of a many-to-many relation: both key columns NOT NULL, of the
/// type of the key they point at, together the primary key (see
/// `rustango_query::ddl::create_junction_sql`). Without both ends in the snapshot only
/// its existence is checked (`None`).
fn expected_junction<'a>(
    dialect: &dyn Dialect,
    snapshot: &SchemaSnapshot,
    owner: &TableState,
    m: &'a crate::M2MState,
) -> Option<ExpectedTable<'a>> {
    let key_type = |t: &TableState| {
        let pk = t.columns.iter().find(|c| c.primary_key)?;
        Some(normalize_type(
            &dialect.column_type(&column_def(t, pk).as_plain_reference()),
        ))
    };
    let src = key_type(owner)?;
    let dst = key_type(snapshot.tables.get(&m.to)?)?;
    let key = |name: &'a str, data_type: String| ExpectedColumn {
        name,
        column: LiveColumn {
            data_type,
            nullable: false,
            primary_key: true,
            unique: false,
        },
    };
    Some(ExpectedTable {
        columns: vec![key(&m.src, src), key(&m.dst, dst)],
        indexes: Vec::new(),
    })
}

fn index_of(i: &IndexState) -> LiveIndex {
    LiveIndex {
        columns: i.columns.clone(),
        unique: i.unique,
    }
}

fn compare_table(out: &mut Vec<Drift>, name: &str, live: &LiveTable, expected: &ExpectedTable<'_>) {
    let col = |c: &str| (name.to_owned(), c.to_owned());
    for e in &expected.columns {
        let Some(l) = live.columns.get(e.name) else {
            let (table, column) = col(e.name);
            out.push(Drift::MissingColumn { table, column });
            continue;
        };
        let x = &e.column;
        if l.data_type != x.data_type {
            let (table, column) = col(e.name);
            out.push(Drift::ColumnType {
                table,
                column,
                live: l.data_type.clone(),
                expected: x.data_type.clone(),
            });
        }
        if l.nullable != x.nullable {
            let (table, column) = col(e.name);
            out.push(Drift::Nullability {
                table,
                column,
                live_nullable: l.nullable,
            });
        }
        if l.primary_key != x.primary_key {
            let (table, column) = col(e.name);
            out.push(Drift::PrimaryKey {
                table,
                column,
                live_primary_key: l.primary_key,
            });
        }
        if l.unique != x.unique {
            let (table, column) = col(e.name);
            out.push(Drift::Unique {
                table,
                column,
                live_unique: l.unique,
            });
        }
    }
    for c in live.columns.keys() {
        if !expected.columns.iter().any(|e| e.name == c) {
            let (table, column) = col(c);
            out.push(Drift::UnexpectedColumn { table, column });
        }
    }
    for i in &expected.indexes {
        let want = index_of(i);
        match live.indexes.get(&i.name) {
            None => out.push(Drift::MissingIndex {
                table: name.to_owned(),
                index: i.name.clone(),
            }),
            Some(l) if *l != want => out.push(Drift::IndexDefinition {
                table: name.to_owned(),
                index: i.name.clone(),
                live: l.clone(),
                expected: want,
            }),
            Some(_) => {}
        }
    }
    for index in live.indexes.keys() {
        if !expected.indexes.iter().any(|i| &i.name == index) {
            out.push(Drift::UnexpectedIndex {
                table: name.to_owned(),
                index: index.clone(),
            });
        }
    }
}

/// Every difference between the live schema and the one `expected` (normally the
/// snapshot of the last applied migration) describes, table by table in name order,
/// then the tables no migration creates.
///
/// Column types are compared as `dialect` writes them (serial integer keys are
/// `INTEGER` on SQLite), after the same normalisation as [`introspect`]'s. Junction
/// tables of many-to-many relations are expected tables too, with their two key
/// columns. CHECK constraints, defaults and foreign keys are not compared.
pub fn drift(live: &LiveSchema, expected: &SchemaSnapshot, dialect: &dyn Dialect) -> Vec<Drift> {
    // `None`: only the table's existence is checked.
    let mut tables: BTreeMap<&str, Option<ExpectedTable<'_>>> = BTreeMap::new();
    for t in expected.tables.values() {
        tables.insert(&t.name, Some(expected_table(dialect, t)));
    }
    for t in expected.tables.values() {
        for m in &t.m2m {
            // A model's own table of the same name wins; a junction declared on both
            // sides is checked once.
            tables
                .entry(&m.through)
                .or_insert_with(|| expected_junction(dialect, expected, t, m));
        }
    }

    let mut out = Vec::new();
    for (name, shape) in &tables {
        match (live.tables.get(*name), shape) {
            (None, _) => out.push(Drift::MissingTable {
                table: (*name).to_owned(),
            }),
            (Some(l), Some(e)) => compare_table(&mut out, name, l, e),
            (Some(_), None) => {}
        }
    }
    for name in live.tables.keys() {
        if !tables.contains_key(name.as_str()) {
            out.push(Drift::UnexpectedTable {
                table: name.clone(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_have_one_spelling() {
        for (raw, want) in [
            ("bigint", "BIGINT"),
            ("character varying(200)", "VARCHAR(200)"),
            ("VARCHAR(200)", "VARCHAR(200)"),
            ("timestamp with time zone", "TIMESTAMPTZ"),
            ("timestamp(3) with time zone", "TIMESTAMPTZ(3)"),
            ("time without time zone", "TIME"),
            ("numeric(10,2)", "NUMERIC(10, 2)"),
            ("NUMERIC(10, 2)", "NUMERIC(10, 2)"),
            ("double  precision", "DOUBLE PRECISION"),
            ("int8", "BIGINT"),
            ("bool", "BOOLEAN"),
            ("text", "TEXT"),
            ("", ""),
        ] {
            assert_eq!(normalize_type(raw), want, "{raw}");
        }
    }

    #[test]
    fn bookkeeping_tables_are_ignored() {
        assert!(is_ignored("rustango_migrations"));
        assert!(is_ignored("sqlite_sequence"));
        assert!(is_ignored("SQLITE_stat1"));
        assert!(is_ignored("__rustango_new_posts"));
        assert!(!is_ignored("posts"));
        assert!(!is_ignored("sqlite"));
        assert!(!is_ignored("é"));
    }
}
