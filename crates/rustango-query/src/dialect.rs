use rustango_core::ValueKind;

use crate::ddl::ColumnDef;

/// Which backend a dialect writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DialectKind {
    /// PostgreSQL.
    Postgres,
    /// SQLite.
    Sqlite,
    /// MySQL / MariaDB.
    MySql,
}

/// How one SQL backend spells things.
pub trait Dialect: std::fmt::Debug + Send + Sync {
    /// The backend.
    fn kind(&self) -> DialectKind;
    /// The identifier quote character.
    fn quote_char(&self) -> char;
    /// Writes the placeholder of the `n`-th (1-based) parameter.
    fn placeholder(&self, n: usize, out: &mut String);
    /// Whether `INSERT`/`UPDATE … RETURNING` is available.
    fn supports_returning(&self) -> bool {
        !matches!(self.kind(), DialectKind::MySql)
    }
    /// Whether foreign keys are declared inside `CREATE TABLE` (SQLite cannot add them
    /// afterwards) rather than by `ALTER TABLE`.
    fn inline_foreign_keys(&self) -> bool {
        matches!(self.kind(), DialectKind::Sqlite)
    }
    /// The column type of a column (without `NULL`/`PRIMARY KEY`).
    fn column_type(&self, column: &ColumnDef<'_>) -> String;
    /// The type name used in `CAST(... AS type)` for a kind.
    fn cast_type(&self, kind: ValueKind) -> &'static str;
}

/// The one function that quotes identifiers: wraps `ident` in the dialect's quote
/// character and doubles any quote character inside it.
pub fn quote_ident(dialect: &dyn Dialect, ident: &str, out: &mut String) {
    let q = dialect.quote_char();
    out.push(q);
    for c in ident.chars() {
        if c == q {
            out.push(q);
        }
        out.push(c);
    }
    out.push(q);
}

fn text_type(field: &ColumnDef<'_>, unlimited: &str) -> String {
    match field.max_length {
        Some(n) => format!("VARCHAR({n})"),
        None => unlimited.to_owned(),
    }
}

fn numeric(field: &ColumnDef<'_>, name: &str, fallback: &str) -> String {
    match (field.max_digits, field.decimal_places) {
        (Some(p), Some(s)) => format!("{name}({p}, {s})"),
        (Some(p), None) => format!("{name}({p}, 0)"),
        _ => fallback.to_owned(),
    }
}

/// PostgreSQL.
#[derive(Debug, Clone, Copy, Default)]
pub struct Postgres;

impl Dialect for Postgres {
    fn kind(&self) -> DialectKind {
        DialectKind::Postgres
    }
    fn quote_char(&self) -> char {
        '"'
    }
    fn placeholder(&self, n: usize, out: &mut String) {
        use std::fmt::Write;
        let _ = write!(out, "${n}");
    }
    fn column_type(&self, f: &ColumnDef<'_>) -> String {
        match f.kind {
            ValueKind::String => text_type(f, "TEXT"),
            ValueKind::Decimal => numeric(f, "NUMERIC", "NUMERIC"),
            k => self.cast_type(k).to_owned(),
        }
    }
    fn cast_type(&self, kind: ValueKind) -> &'static str {
        match kind {
            ValueKind::Bool => "BOOLEAN",
            ValueKind::I16 => "SMALLINT",
            ValueKind::I32 => "INTEGER",
            ValueKind::I64 => "BIGINT",
            ValueKind::F32 => "REAL",
            ValueKind::F64 => "DOUBLE PRECISION",
            ValueKind::String => "TEXT",
            ValueKind::Bytes => "BYTEA",
            ValueKind::Uuid => "UUID",
            ValueKind::Date => "DATE",
            ValueKind::Time => "TIME",
            ValueKind::DateTime => "TIMESTAMPTZ",
            ValueKind::Json => "JSONB",
            ValueKind::Decimal => "NUMERIC",
            _ => "TEXT",
        }
    }
}

/// SQLite.
///
/// Case-insensitive lookups are written with `REGEXP`, which SQLite leaves to the
/// application: `rustango-orm` registers a Unicode-aware one on every connection.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sqlite;

impl Dialect for Sqlite {
    fn kind(&self) -> DialectKind {
        DialectKind::Sqlite
    }
    fn quote_char(&self) -> char {
        '"'
    }
    fn placeholder(&self, _n: usize, out: &mut String) {
        out.push('?');
    }
    fn column_type(&self, f: &ColumnDef<'_>) -> String {
        match f.kind {
            ValueKind::String => text_type(f, "TEXT"),
            k => self.cast_type(k).to_owned(),
        }
    }
    fn cast_type(&self, kind: ValueKind) -> &'static str {
        match kind {
            ValueKind::Bool => "BOOLEAN",
            ValueKind::I16 | ValueKind::I32 | ValueKind::I64 => "INTEGER",
            ValueKind::F32 | ValueKind::F64 => "REAL",
            ValueKind::String => "TEXT",
            ValueKind::Bytes | ValueKind::Uuid => "BLOB",
            ValueKind::Date | ValueKind::Time | ValueKind::DateTime => "TEXT",
            ValueKind::Json => "TEXT",
            ValueKind::Decimal => "NUMERIC",
            _ => "TEXT",
        }
    }
}

/// MySQL and MariaDB.
#[derive(Debug, Clone, Copy, Default)]
pub struct MySql;

impl Dialect for MySql {
    fn kind(&self) -> DialectKind {
        DialectKind::MySql
    }
    fn quote_char(&self) -> char {
        '`'
    }
    fn placeholder(&self, _n: usize, out: &mut String) {
        out.push('?');
    }
    fn column_type(&self, f: &ColumnDef<'_>) -> String {
        match f.kind {
            // MySQL cannot index or key an unbounded text column.
            ValueKind::String if f.unique || f.indexed || f.primary_key => {
                text_type(f, "VARCHAR(255)")
            }
            ValueKind::String => text_type(f, "LONGTEXT"),
            ValueKind::Decimal => numeric(f, "DECIMAL", "DECIMAL(38, 10)"),
            ValueKind::Bool => "BOOLEAN".into(),
            ValueKind::I16 => "SMALLINT".into(),
            ValueKind::I32 => "INT".into(),
            ValueKind::I64 => "BIGINT".into(),
            ValueKind::F32 => "FLOAT".into(),
            ValueKind::F64 => "DOUBLE".into(),
            ValueKind::Bytes => "LONGBLOB".into(),
            ValueKind::Uuid => "BINARY(16)".into(),
            ValueKind::Date => "DATE".into(),
            ValueKind::Time => "TIME(6)".into(),
            ValueKind::DateTime => "DATETIME(6)".into(),
            ValueKind::Json => "JSON".into(),
            _ => "LONGTEXT".into(),
        }
    }
    fn cast_type(&self, kind: ValueKind) -> &'static str {
        match kind {
            ValueKind::I16 | ValueKind::I32 | ValueKind::I64 | ValueKind::Bool => "SIGNED",
            ValueKind::F32 | ValueKind::F64 => "DOUBLE",
            ValueKind::Decimal => "DECIMAL(65, 30)",
            ValueKind::Date => "DATE",
            ValueKind::DateTime => "DATETIME(6)",
            ValueKind::Json => "JSON",
            _ => "CHAR",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_doubles_the_quote_char() {
        let mut s = String::new();
        quote_ident(&Postgres, r#"we"ird"#, &mut s);
        assert_eq!(s, r#""we""ird""#);
        let mut s = String::new();
        quote_ident(&MySql, "a`b", &mut s);
        assert_eq!(s, "`a``b`");
    }
}
