//! Schema statements per dialect: `CREATE TABLE`, indexes, constraints, junction tables
//! and the `ALTER TABLE` forms the migration engine needs.
//!
//! Everything works on [`ColumnDef`], a borrowed description of one column, so that the
//! ORM (which reads a model's static [`FieldSchema`]) and the migration engine (which
//! reads the owned snapshot in a migration file) write identical DDL.
//!
//! SQLite cannot alter a column's type, nullability or constraints; the `alter_*`
//! functions return `None` there and the migration engine rebuilds the table instead.

use rustango_core::{FieldSchema, M2MSchema, ModelSchema, OnDelete, ValueKind};

use crate::{Dialect, DialectKind, quote_ident};

fn q(d: &dyn Dialect, name: &str) -> String {
    let mut s = String::new();
    quote_ident(d, name, &mut s);
    s
}

/// A foreign-key reference of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForeignKeyDef<'a> {
    /// The referenced table.
    pub table: &'a str,
    /// The referenced column.
    pub column: &'a str,
    /// The delete rule.
    pub on_delete: OnDelete,
}

/// One column, as DDL needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnDef<'a> {
    /// Column name.
    pub name: &'a str,
    /// Storage kind.
    pub kind: ValueKind,
    /// Accepts NULL.
    pub nullable: bool,
    /// Is the primary key.
    pub primary_key: bool,
    /// Assigned by the server (an identity/serial key when it is an integer key).
    pub auto: bool,
    /// `VARCHAR(n)` rather than unbounded text.
    pub max_length: Option<u32>,
    /// Decimal precision.
    pub max_digits: Option<u8>,
    /// Decimal scale.
    pub decimal_places: Option<u8>,
    /// Has a unique constraint.
    pub unique: bool,
    /// Has an index (MySQL needs a bounded type for indexed text).
    pub indexed: bool,
    /// The SQL default expression, as written in the model (`CURRENT_TIMESTAMP` for
    /// `auto_now` fields).
    pub default: Option<&'a str>,
    /// The foreign key, if any.
    pub references: Option<ForeignKeyDef<'a>>,
}

impl<'a> ColumnDef<'a> {
    /// The column of a model field.
    pub fn from_field(f: &'a FieldSchema) -> ColumnDef<'a> {
        ColumnDef {
            name: f.column,
            kind: f.kind,
            nullable: f.nullable,
            primary_key: f.primary_key,
            auto: f.auto,
            max_length: f.max_length,
            max_digits: f.max_digits,
            decimal_places: f.decimal_places,
            unique: f.unique,
            indexed: f.index,
            default: f
                .default
                .or((f.auto_now_add || f.auto_now).then_some("CURRENT_TIMESTAMP")),
            references: f.relation.map(|r| {
                let target = (r.to)();
                ForeignKeyDef {
                    table: target.table,
                    column: target.pk_field().column,
                    on_delete: r.on_delete,
                }
            }),
        }
    }

    /// Whether this is an integer key the database numbers itself.
    pub fn is_serial_pk(&self) -> bool {
        self.primary_key
            && self.auto
            && matches!(self.kind, ValueKind::I16 | ValueKind::I32 | ValueKind::I64)
    }

    /// The same column as a plain (non-key, non-auto, not unique) column of the same
    /// type: what a junction table stores to point at it.
    pub fn as_plain_reference(&self) -> ColumnDef<'a> {
        ColumnDef {
            primary_key: false,
            auto: false,
            unique: false,
            nullable: false,
            default: None,
            references: None,
            ..*self
        }
    }
}

/// Strips a PostgreSQL-only `::type` cast from a default on other backends, so that
/// `'{}'::jsonb` works everywhere as `'{}'`.
fn portable_default(d: &dyn Dialect, default: &str) -> String {
    if d.kind() != DialectKind::Postgres
        && let Some(pos) = default.rfind("::")
    {
        let cast = &default[pos + 2..];
        if !cast.is_empty()
            && cast
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ' ')
        {
            return default[..pos].trim_end().to_owned();
        }
    }
    default.to_owned()
}

/// The default expression as the dialect wants it.
fn default_expr(d: &dyn Dialect, def: &str) -> String {
    match d.kind() {
        DialectKind::MySql if def.eq_ignore_ascii_case("CURRENT_TIMESTAMP") => {
            "CURRENT_TIMESTAMP(6)".to_owned()
        }
        // MySQL accepts expression defaults (and any default on JSON/TEXT) only in
        // parentheses.
        DialectKind::MySql => format!("({})", portable_default(d, def)),
        _ => portable_default(d, def),
    }
}

/// The name of the unique constraint of a single column (PostgreSQL's own naming).
pub fn unique_name(table: &str, column: &str) -> String {
    format!("{table}_{column}_key")
}

/// The name of a foreign-key constraint.
pub fn fk_name(table: &str, column: &str) -> String {
    format!("fk_{table}_{column}")
}

fn references_clause(d: &dyn Dialect, fk: &ForeignKeyDef<'_>) -> String {
    format!(
        "REFERENCES {} ({}) ON DELETE {}",
        q(d, fk.table),
        q(d, fk.column),
        fk.on_delete.as_sql()
    )
}

/// The column definition (`"title" VARCHAR(200) NOT NULL`) of a column of `table`.
/// Foreign keys are included only where the dialect declares them inline (SQLite).
pub fn column_sql(d: &dyn Dialect, table: &str, c: &ColumnDef<'_>) -> String {
    let mut s = q(d, c.name);
    s.push(' ');
    if c.is_serial_pk() {
        match d.kind() {
            DialectKind::Sqlite => s.push_str("INTEGER PRIMARY KEY AUTOINCREMENT"),
            DialectKind::MySql => {
                s.push_str(&d.column_type(c));
                s.push_str(" NOT NULL AUTO_INCREMENT PRIMARY KEY");
            }
            _ => {
                s.push_str(&d.column_type(c));
                s.push_str(" GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY");
            }
        }
        return s;
    }
    s.push_str(&d.column_type(c));
    if c.primary_key {
        // SQLite lets a non-INTEGER primary key hold NULL unless told otherwise.
        s.push_str(" NOT NULL PRIMARY KEY");
    } else if !c.nullable {
        s.push_str(" NOT NULL");
    }
    if c.unique && !c.primary_key {
        if d.kind() == DialectKind::Postgres {
            // Named, so that a later migration can drop it by name.
            s.push_str(" CONSTRAINT ");
            s.push_str(&q(d, &unique_name(table, c.name)));
        }
        s.push_str(" UNIQUE");
    }
    if let Some(def) = c.default {
        s.push_str(" DEFAULT ");
        s.push_str(&default_expr(d, def));
    }
    if let (Some(n), DialectKind::Sqlite) = (c.max_length, d.kind()) {
        // SQLite ignores VARCHAR(n); enforce the limit like the other backends do.
        s.push_str(&format!(" CHECK (length({}) <= {n})", q(d, c.name)));
    }
    if d.inline_foreign_keys()
        && let Some(fk) = &c.references
    {
        s.push(' ');
        s.push_str(&references_clause(d, fk));
    }
    s
}

/// The column definition of one model field (see [`column_sql`]).
pub fn column_def(d: &dyn Dialect, table: &str, f: &FieldSchema) -> String {
    column_sql(d, table, &ColumnDef::from_field(f))
}

/// The name of a single- or multi-column index.
pub fn index_name(table: &str, columns: &[&str], unique: bool) -> String {
    format!(
        "{}_{}_{}",
        if unique { "uq" } else { "ix" },
        table,
        columns.join("_")
    )
}

/// `CREATE TABLE` from column definitions and named `CHECK` constraints.
pub fn create_table_sql(
    d: &dyn Dialect,
    table: &str,
    columns: &[ColumnDef<'_>],
    checks: &[(&str, &str)],
) -> String {
    let mut parts: Vec<String> = columns.iter().map(|c| column_sql(d, table, c)).collect();
    for (name, expr) in checks {
        parts.push(format!("CONSTRAINT {} CHECK ({expr})", q(d, name)));
    }
    format!("CREATE TABLE {} ({})", q(d, table), parts.join(", "))
}

/// `CREATE TABLE` for a model, including `CHECK` constraints (and foreign keys where
/// the dialect declares them inline).
pub fn create_table(d: &dyn Dialect, schema: &ModelSchema) -> String {
    let columns: Vec<ColumnDef<'_>> = schema.fields.iter().map(ColumnDef::from_field).collect();
    let checks: Vec<(&str, &str)> = schema.checks.iter().map(|c| (c.name, c.expr)).collect();
    create_table_sql(d, schema.table, &columns, &checks)
}

/// `CREATE INDEX` statements: one per `#[rustango(index)]` field and per model-level
/// `index(...)`.
pub fn create_indexes(d: &dyn Dialect, schema: &ModelSchema) -> Vec<String> {
    let mut out = Vec::new();
    for f in schema
        .fields
        .iter()
        .filter(|f| f.index && !f.unique && !f.primary_key)
    {
        out.push(index_sql(
            d,
            schema.table,
            &index_name(schema.table, &[f.column], false),
            &[f.column],
            false,
        ));
    }
    for ix in schema.indexes {
        out.push(index_sql(d, schema.table, ix.name, ix.columns, ix.unique));
    }
    out
}

/// One `CREATE [UNIQUE] INDEX` statement.
pub fn index_sql(
    d: &dyn Dialect,
    table: &str,
    name: &str,
    columns: &[&str],
    unique: bool,
) -> String {
    let cols: Vec<String> = columns.iter().map(|c| q(d, c)).collect();
    format!(
        "CREATE {}INDEX {} ON {} ({})",
        if unique { "UNIQUE " } else { "" },
        q(d, name),
        q(d, table),
        cols.join(", ")
    )
}

/// `DROP INDEX`.
pub fn drop_index_sql(d: &dyn Dialect, table: &str, name: &str) -> String {
    match d.kind() {
        DialectKind::MySql => format!("DROP INDEX {} ON {}", q(d, name), q(d, table)),
        _ => format!("DROP INDEX {}", q(d, name)),
    }
}

/// `ALTER TABLE … ADD CONSTRAINT fk_… FOREIGN KEY …` (not available on SQLite, which
/// declares foreign keys inline).
pub fn add_foreign_key_sql(
    d: &dyn Dialect,
    table: &str,
    column: &str,
    fk: &ForeignKeyDef<'_>,
) -> String {
    format!(
        "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) {}",
        q(d, table),
        q(d, &fk_name(table, column)),
        q(d, column),
        references_clause(d, fk)
    )
}

/// Drops the foreign-key constraint [`add_foreign_key_sql`] made.
pub fn drop_foreign_key_sql(d: &dyn Dialect, table: &str, column: &str) -> String {
    let keyword = match d.kind() {
        DialectKind::MySql => "FOREIGN KEY",
        _ => "CONSTRAINT",
    };
    format!(
        "ALTER TABLE {} DROP {keyword} {}",
        q(d, table),
        q(d, &fk_name(table, column))
    )
}

/// `ALTER TABLE … ADD CONSTRAINT … FOREIGN KEY` statements for a model, run after every
/// table exists (empty on SQLite, which declares them inline).
pub fn foreign_keys(d: &dyn Dialect, schema: &ModelSchema) -> Vec<String> {
    if d.inline_foreign_keys() {
        return Vec::new();
    }
    schema
        .fields
        .iter()
        .filter_map(|f| {
            let c = ColumnDef::from_field(f);
            Some(add_foreign_key_sql(
                d,
                schema.table,
                f.column,
                &c.references?,
            ))
        })
        .collect()
}

/// The junction table of a many-to-many relation: a composite primary key of both
/// columns, each a cascading foreign key. `owner` and `target` are `(table, key column)`.
pub fn create_junction_sql(
    d: &dyn Dialect,
    through: &str,
    (src, owner_table, owner_pk): (&str, &str, &ColumnDef<'_>),
    (dst, target_table, target_pk): (&str, &str, &ColumnDef<'_>),
) -> String {
    let fk = |col: &str, table: &str, pk: &ColumnDef<'_>| {
        format!(
            "FOREIGN KEY ({}) REFERENCES {} ({}) ON DELETE CASCADE",
            q(d, col),
            q(d, table),
            q(d, pk.name)
        )
    };
    format!(
        "CREATE TABLE {} ({} {} NOT NULL, {} {} NOT NULL, PRIMARY KEY ({}, {}), {}, {})",
        q(d, through),
        q(d, src),
        d.column_type(&owner_pk.as_plain_reference()),
        q(d, dst),
        d.column_type(&target_pk.as_plain_reference()),
        q(d, src),
        q(d, dst),
        fk(src, owner_table, owner_pk),
        fk(dst, target_table, target_pk),
    )
}

/// The junction table of a model's many-to-many relation (see [`create_junction_sql`]).
pub fn create_junction(
    d: &dyn Dialect,
    owner: &ModelSchema,
    m2m: &M2MSchema,
    target: &ModelSchema,
) -> String {
    create_junction_sql(
        d,
        m2m.through,
        (
            m2m.src,
            owner.table,
            &ColumnDef::from_field(owner.pk_field()),
        ),
        (
            m2m.dst,
            target.table,
            &ColumnDef::from_field(target.pk_field()),
        ),
    )
}

/// `DROP TABLE` (with `CASCADE` on PostgreSQL, so dependent constraints go too).
pub fn drop_table(d: &dyn Dialect, table: &str) -> String {
    match d.kind() {
        DialectKind::Postgres => format!("DROP TABLE IF EXISTS {} CASCADE", q(d, table)),
        _ => format!("DROP TABLE IF EXISTS {}", q(d, table)),
    }
}

/// `ALTER TABLE … RENAME TO …`.
pub fn rename_table_sql(d: &dyn Dialect, from: &str, to: &str) -> String {
    format!("ALTER TABLE {} RENAME TO {}", q(d, from), q(d, to))
}

/// `ALTER TABLE … ADD COLUMN …` (on SQLite with the inline foreign key, which SQLite
/// allows for a column whose default is NULL).
pub fn add_column_sql(d: &dyn Dialect, table: &str, c: &ColumnDef<'_>) -> String {
    format!(
        "ALTER TABLE {} ADD COLUMN {}",
        q(d, table),
        column_sql(d, table, c)
    )
}

/// `ALTER TABLE … DROP COLUMN …`.
pub fn drop_column_sql(d: &dyn Dialect, table: &str, column: &str) -> String {
    format!("ALTER TABLE {} DROP COLUMN {}", q(d, table), q(d, column))
}

/// `ALTER TABLE … RENAME COLUMN … TO …`.
pub fn rename_column_sql(d: &dyn Dialect, table: &str, from: &str, to: &str) -> String {
    format!(
        "ALTER TABLE {} RENAME COLUMN {} TO {}",
        q(d, table),
        q(d, from),
        q(d, to)
    )
}

fn modify_column(d: &dyn Dialect, table: &str, c: &ColumnDef<'_>) -> String {
    // MySQL restates the whole column (without the key and unique parts, which are
    // separate indexes there).
    let plain = ColumnDef {
        unique: false,
        ..*c
    };
    format!(
        "ALTER TABLE {} MODIFY COLUMN {}",
        q(d, table),
        column_sql(d, table, &plain)
    )
}

/// Changes a column's type (and `VARCHAR` length) to `to`'s: on PostgreSQL with a
/// `USING` cast, so that text holding numbers converts. `None` on SQLite.
pub fn alter_column_type_sql(d: &dyn Dialect, table: &str, to: &ColumnDef<'_>) -> Option<String> {
    match d.kind() {
        DialectKind::Postgres => {
            let ty = d.column_type(to);
            Some(format!(
                "ALTER TABLE {} ALTER COLUMN {} TYPE {ty} USING {}::{ty}",
                q(d, table),
                q(d, to.name),
                q(d, to.name)
            ))
        }
        DialectKind::MySql => Some(modify_column(d, table, to)),
        _ => None,
    }
}

/// Makes a column nullable or `NOT NULL` as `to` says. `None` on SQLite.
pub fn alter_column_nullable_sql(
    d: &dyn Dialect,
    table: &str,
    to: &ColumnDef<'_>,
) -> Option<String> {
    match d.kind() {
        DialectKind::Postgres => Some(format!(
            "ALTER TABLE {} ALTER COLUMN {} {} NOT NULL",
            q(d, table),
            q(d, to.name),
            if to.nullable { "DROP" } else { "SET" }
        )),
        DialectKind::MySql => Some(modify_column(d, table, to)),
        _ => None,
    }
}

/// Sets or drops a column's default as `to` says. `None` on SQLite.
pub fn alter_column_default_sql(
    d: &dyn Dialect,
    table: &str,
    to: &ColumnDef<'_>,
) -> Option<String> {
    if d.kind() == DialectKind::Sqlite {
        return None;
    }
    Some(match to.default {
        Some(def) => format!(
            "ALTER TABLE {} ALTER COLUMN {} SET DEFAULT {}",
            q(d, table),
            q(d, to.name),
            default_expr(d, def)
        ),
        None => format!(
            "ALTER TABLE {} ALTER COLUMN {} DROP DEFAULT",
            q(d, table),
            q(d, to.name)
        ),
    })
}

/// Adds or drops a column's unique constraint as `to` says. `None` on SQLite.
pub fn alter_column_unique_sql(d: &dyn Dialect, table: &str, to: &ColumnDef<'_>) -> Option<String> {
    let name = unique_name(table, to.name);
    match (d.kind(), to.unique) {
        (DialectKind::Sqlite, _) => None,
        (DialectKind::MySql, true) => Some(format!(
            "ALTER TABLE {} ADD CONSTRAINT {} UNIQUE ({})",
            q(d, table),
            q(d, &name),
            q(d, to.name)
        )),
        (DialectKind::MySql, false) => Some(drop_index_sql(d, table, &name)),
        (_, true) => Some(format!(
            "ALTER TABLE {} ADD CONSTRAINT {} UNIQUE ({})",
            q(d, table),
            q(d, &name),
            q(d, to.name)
        )),
        (_, false) => Some(format!(
            "ALTER TABLE {} DROP CONSTRAINT {}",
            q(d, table),
            q(d, &name)
        )),
    }
}

/// `ALTER TABLE … ADD CONSTRAINT … CHECK (…)`. `None` on SQLite.
pub fn add_check_sql(d: &dyn Dialect, table: &str, name: &str, expr: &str) -> Option<String> {
    (d.kind() != DialectKind::Sqlite).then(|| {
        format!(
            "ALTER TABLE {} ADD CONSTRAINT {} CHECK ({expr})",
            q(d, table),
            q(d, name)
        )
    })
}

/// Drops a named `CHECK` constraint. `None` on SQLite.
pub fn drop_check_sql(d: &dyn Dialect, table: &str, name: &str) -> Option<String> {
    match d.kind() {
        DialectKind::Sqlite => None,
        DialectKind::MySql => Some(format!(
            "ALTER TABLE {} DROP CHECK {}",
            q(d, table),
            q(d, name)
        )),
        _ => Some(format!(
            "ALTER TABLE {} DROP CONSTRAINT {}",
            q(d, table),
            q(d, name)
        )),
    }
}
