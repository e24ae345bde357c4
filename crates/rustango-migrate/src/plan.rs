//! The SQL of each operation, per dialect.
//!
//! [`plan`] walks a list of operations from a known starting [`SchemaSnapshot`], writing
//! the statements of each one and updating the snapshot as it goes, so that operations
//! which need the whole table (SQLite's rebuilds, PostgreSQL's constraint renames) see
//! the table as it is at that point.
//!
//! SQLite cannot change a column's type, nullability, default or constraints in place.
//! For those operations it rebuilds the table, as SQLite's documentation describes:
//! create the new shape under a temporary name, copy the rows, drop the old table,
//! rename the new one, re-create the indexes. The runner does this with foreign-key
//! enforcement off (a `DROP TABLE` would otherwise cascade to child rows) inside the
//! migration's transaction, checks the foreign keys before committing, and keeps what
//! the snapshot does not describe (see [`Rebuild`]).

use std::collections::HashMap;

use rustango_query::ddl::{self, ColumnDef, ForeignKeyDef};
use rustango_query::{Dialect, DialectKind};

use crate::{ColumnState, Error, ForeignKeyState, Operation, SchemaSnapshot, TableState};

/// The statements of one operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedOp {
    /// The operation's 1-based position in its list.
    pub position: usize,
    /// What it does, in words.
    pub description: String,
    /// The SQL, in order (empty when an earlier statement already did the work).
    pub statements: Vec<String>,
    /// Set when the statements rebuild a SQLite table: the runner then keeps what the
    /// snapshot does not describe (the table's own indexes and triggers, every view)
    /// and the table's `AUTOINCREMENT` counter.
    pub rebuild: Option<Rebuild>,
}

/// A SQLite table rebuild within an operation (see [`PlannedOp::rebuild`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebuild {
    /// The table.
    pub table: String,
    /// The indexes the rebuild re-creates itself (those of the snapshot).
    pub indexes: Vec<String>,
    /// Whether the table has an `AUTOINCREMENT` key, whose counter must carry over.
    pub autoincrement: bool,
}

fn fk_def(r: &ForeignKeyState) -> ForeignKeyDef<'_> {
    ForeignKeyDef {
        table: &r.table,
        column: &r.column,
        on_delete: r.on_delete,
    }
}

/// The DDL description of a column of `table`.
pub fn column_def<'a>(table: &'a TableState, c: &'a ColumnState) -> ColumnDef<'a> {
    ColumnDef {
        name: &c.name,
        kind: c.kind,
        nullable: c.nullable,
        primary_key: c.primary_key,
        auto: c.auto,
        max_length: c.max_length,
        max_digits: c.max_digits,
        decimal_places: c.decimal_places,
        unique: c.unique,
        indexed: table
            .indexes
            .iter()
            .any(|i| i.columns.first() == Some(&c.name)),
        default: c.default.as_deref(),
        references: c.references.as_ref().map(fk_def),
    }
}

fn create_table(d: &dyn Dialect, t: &TableState, with_fks: bool) -> String {
    let mut columns: Vec<ColumnDef<'_>> = t.columns.iter().map(|c| column_def(t, c)).collect();
    if !with_fks {
        for c in &mut columns {
            c.references = None;
        }
    }
    let checks: Vec<(&str, &str)> = t
        .checks
        .iter()
        .map(|c| (c.name.as_str(), c.expr.as_str()))
        .collect();
    ddl::create_table_sql(d, &t.name, &columns, &checks)
}

fn index_sql(d: &dyn Dialect, table: &str, index: &crate::IndexState) -> String {
    let cols: Vec<&str> = index.columns.iter().map(String::as_str).collect();
    ddl::index_sql(d, table, &index.name, &cols, index.unique)
}

/// SQLite's table rebuild: `after` is the table's new shape; rows keep the columns that
/// both shapes have (a new column takes its default).
fn rebuild(d: &dyn Dialect, before: &TableState, after: &TableState) -> Vec<String> {
    let tmp = format!("__rustango_new_{}", after.name);
    let mut shape = after.clone();
    shape.name = tmp.clone();
    let mut out = vec![create_table(d, &shape, true)];
    let common: Vec<String> = after
        .columns
        .iter()
        .filter(|c| before.column(&c.name).is_some())
        .map(|c| quoted(d, &c.name))
        .collect();
    let common = common.join(", ");
    out.push(format!(
        "INSERT INTO {} ({common}) SELECT {common} FROM {}",
        quoted(d, &tmp),
        quoted(d, &before.name)
    ));
    out.push(format!("DROP TABLE {}", quoted(d, &before.name)));
    out.push(ddl::rename_table_sql(d, &tmp, &after.name));
    out.extend(after.indexes.iter().map(|i| index_sql(d, &after.name, i)));
    out
}

fn quoted(d: &dyn Dialect, name: &str) -> String {
    let mut s = String::new();
    rustango_query::quote_ident(d, name, &mut s);
    s
}

/// Whether SQLite's `ALTER TABLE ADD COLUMN` can add this column (it refuses unique
/// columns and defaults that are not constants).
fn sqlite_can_add(c: &ColumnState) -> bool {
    let constant_default = c.default.as_deref().is_none_or(|def| {
        let up = def.trim().to_ascii_uppercase();
        !up.starts_with("CURRENT_") && !up.contains('(')
    });
    !c.unique && !c.primary_key && constant_default
}

fn pk_of<'a>(
    op: &Operation,
    state: &'a SchemaSnapshot,
    table: &str,
) -> Result<(&'a TableState, &'a ColumnState), Error> {
    let t = state.tables.get(table).ok_or_else(|| Error::BadOperation {
        operation: op.describe(),
        reason: format!("table `{table}` does not exist at this point"),
    })?;
    let pk = t
        .columns
        .iter()
        .find(|c| c.primary_key)
        .ok_or_else(|| Error::BadOperation {
            operation: op.describe(),
            reason: format!("table `{table}` has no primary key"),
        })?;
    Ok((t, pk))
}

/// The statements for `ops`, starting from `state` (which ends up as the state after
/// them).
pub fn plan(
    d: &dyn Dialect,
    state: &mut SchemaSnapshot,
    ops: &[Operation],
) -> Result<Vec<PlannedOp>, Error> {
    use Operation as O;
    let sqlite = d.kind() == DialectKind::Sqlite;
    let postgres = d.kind() == DialectKind::Postgres;
    // SQLite: foreign keys already written inline by a CreateTable of this list, until
    // their AddForeignKey comes (a rebuild in between must keep them: the state does
    // not have them yet).
    let mut inline_fks: HashMap<(String, String), ForeignKeyState> = HashMap::new();
    let mut out = Vec::with_capacity(ops.len());

    for (i, op) in ops.iter().enumerate() {
        let before = state.clone();
        state.apply(op)?;
        let table_before = |name: &str| before.tables.get(name);
        let table_after = |name: &str| state.tables.get(name);
        let mut sql = Vec::new();
        let rebuilt: std::cell::RefCell<Option<Rebuild>> = std::cell::RefCell::new(None);
        // The SQLite rebuild of `table`, from the state before to the state after.
        let rebuild_of = |name: &str| -> Vec<String> {
            match (table_before(name), table_after(name)) {
                (Some(b), Some(a)) => {
                    *rebuilt.borrow_mut() = Some(Rebuild {
                        table: name.to_owned(),
                        indexes: a.indexes.iter().map(|i| i.name.clone()).collect(),
                        autoincrement: a.columns.iter().any(|c| column_def(a, c).is_serial_pk()),
                    });
                    let mut a = a.clone();
                    for c in a.columns.iter_mut().filter(|c| c.references.is_none()) {
                        if let Some(fk) = inline_fks.get(&(name.to_owned(), c.name.clone())) {
                            c.references = Some(fk.clone());
                        }
                    }
                    rebuild(d, b, &a)
                }
                _ => Vec::new(),
            }
        };

        match op {
            O::CreateTable { table } => {
                let t = table_after(&table.name).expect("just created");
                if sqlite {
                    // Declare the foreign keys this list adds later inline, rather
                    // than rebuilding the new table for each.
                    let mut t = t.clone();
                    for later in &ops[i + 1..] {
                        if let O::AddForeignKey {
                            table: ft,
                            column,
                            references,
                        } = later
                            && ft == &t.name
                            && let Some(c) = t.columns.iter_mut().find(|c| &c.name == column)
                        {
                            c.references = Some(references.clone());
                            inline_fks.insert((ft.clone(), column.clone()), references.clone());
                        }
                    }
                    sql.push(create_table(d, &t, true));
                } else {
                    sql.push(create_table(d, t, false));
                    for c in t.columns.iter().filter(|c| c.references.is_some()) {
                        let fk = column_def(t, c).references.expect("filtered");
                        sql.push(ddl::add_foreign_key_sql(d, &t.name, &c.name, &fk));
                    }
                }
                sql.extend(t.indexes.iter().map(|ix| index_sql(d, &t.name, ix)));
                for m in &t.m2m {
                    sql.push(junction(d, op, state, &t.name, m)?);
                }
            }
            O::DropTable { table } => {
                if let Some(t) = table_before(&table.name) {
                    for m in &t.m2m {
                        sql.push(ddl::drop_table(d, &m.through));
                    }
                }
                sql.push(ddl::drop_table(d, &table.name));
            }
            O::RenameTable { from, to } => {
                sql.push(ddl::rename_table_sql(d, from, to));
                if postgres && let Some(t) = table_after(to) {
                    // Constraint names carry the table name; keep them in step.
                    for c in &t.columns {
                        if c.references.is_some() {
                            sql.push(rename_constraint(
                                d,
                                to,
                                &ddl::fk_name(from, &c.name),
                                &ddl::fk_name(to, &c.name),
                            ));
                        }
                        if c.unique && !c.primary_key {
                            sql.push(rename_constraint(
                                d,
                                to,
                                &ddl::unique_name(from, &c.name),
                                &ddl::unique_name(to, &c.name),
                            ));
                        }
                    }
                }
            }
            O::AddColumn { table, column } => {
                let t = table_after(table).expect("applied");
                let c = t.column(&column.name).expect("applied");
                if sqlite && !sqlite_can_add(c) {
                    sql.extend(rebuild_of(table));
                } else {
                    let mut def = column_def(t, c);
                    let fk = def.references.take();
                    if sqlite {
                        def.references = fk;
                        sql.push(ddl::add_column_sql(d, table, &def));
                    } else {
                        sql.push(ddl::add_column_sql(d, table, &def));
                        if let Some(fk) = fk {
                            sql.push(ddl::add_foreign_key_sql(d, table, &c.name, &fk));
                        }
                    }
                }
            }
            O::DropColumn { table, column } => {
                if sqlite {
                    // SQLite's DROP COLUMN refuses indexed, unique, key and
                    // constrained columns; a rebuild handles them all.
                    sql.extend(rebuild_of(table));
                } else {
                    sql.push(ddl::drop_column_sql(d, table, &column.name));
                }
            }
            O::RenameColumn { table, from, to } => {
                sql.push(ddl::rename_column_sql(d, table, from, to));
                if postgres && let Some(c) = table_after(table).and_then(|t| t.column(to)) {
                    if c.references.is_some() {
                        sql.push(rename_constraint(
                            d,
                            table,
                            &ddl::fk_name(table, from),
                            &ddl::fk_name(table, to),
                        ));
                    }
                    if c.unique && !c.primary_key {
                        sql.push(rename_constraint(
                            d,
                            table,
                            &ddl::unique_name(table, from),
                            &ddl::unique_name(table, to),
                        ));
                    }
                }
            }
            O::AlterColumnType { table, to, .. }
            | O::AlterColumnNullable { table, to, .. }
            | O::AlterColumnDefault { table, to, .. }
            | O::AlterColumnMaxLength { table, to, .. }
            | O::AlterColumnUnique { table, to, .. } => {
                if sqlite {
                    sql.extend(rebuild_of(table));
                } else {
                    let t = table_after(table).expect("applied");
                    let c = column_def(t, t.column(&to.name).expect("applied"));
                    let stmt = match op {
                        O::AlterColumnType { .. } | O::AlterColumnMaxLength { .. } => {
                            ddl::alter_column_type_sql(d, table, &c)
                        }
                        O::AlterColumnNullable { .. } => {
                            ddl::alter_column_nullable_sql(d, table, &c)
                        }
                        O::AlterColumnDefault { .. } => ddl::alter_column_default_sql(d, table, &c),
                        _ => ddl::alter_column_unique_sql(d, table, &c),
                    };
                    sql.extend(stmt);
                }
            }
            O::AddForeignKey {
                table,
                column,
                references,
            } => {
                if sqlite {
                    if !inline_fks.contains_key(&(table.clone(), column.clone())) {
                        sql.extend(rebuild_of(table));
                    }
                } else {
                    sql.push(ddl::add_foreign_key_sql(
                        d,
                        table,
                        column,
                        &fk_def(references),
                    ));
                }
            }
            O::DropForeignKey { table, column, .. } => {
                if sqlite {
                    let dropped_later = ops[i + 1..]
                        .iter()
                        .any(|o| matches!(o, O::DropTable { table: t } if &t.name == table));
                    if !dropped_later {
                        sql.extend(rebuild_of(table));
                    }
                } else {
                    sql.push(ddl::drop_foreign_key_sql(d, table, column));
                }
            }
            O::CreateIndex { table, index } => sql.push(index_sql(d, table, index)),
            O::DropIndex { table, index } => sql.push(ddl::drop_index_sql(d, table, &index.name)),
            O::AddCheckConstraint { table, check } => {
                match ddl::add_check_sql(d, table, &check.name, &check.expr) {
                    Some(s) => sql.push(s),
                    None => sql.extend(rebuild_of(table)),
                }
            }
            O::DropCheckConstraint { table, check } => {
                match ddl::drop_check_sql(d, table, &check.name) {
                    Some(s) => sql.push(s),
                    None => sql.extend(rebuild_of(table)),
                }
            }
            O::CreateM2MTable { table, m2m } => sql.push(junction(d, op, state, table, m2m)?),
            O::DropM2MTable { m2m, .. } => sql.push(ddl::drop_table(d, &m2m.through)),
            O::RunSql { sql: s, .. } => sql.push(s.clone()),
        }
        if let O::AddForeignKey { table, column, .. } = op {
            // From here on the state has it.
            inline_fks.remove(&(table.clone(), column.clone()));
        }
        out.push(PlannedOp {
            position: i + 1,
            description: op.describe(),
            statements: sql,
            rebuild: rebuilt.into_inner(),
        });
    }
    Ok(out)
}

fn rename_constraint(d: &dyn Dialect, table: &str, from: &str, to: &str) -> String {
    format!(
        "ALTER TABLE {} RENAME CONSTRAINT {} TO {}",
        quoted(d, table),
        quoted(d, from),
        quoted(d, to)
    )
}

fn junction(
    d: &dyn Dialect,
    op: &Operation,
    state: &SchemaSnapshot,
    owner: &str,
    m: &crate::M2MState,
) -> Result<String, Error> {
    let (ot, opk) = pk_of(op, state, owner)?;
    let (tt, tpk) = pk_of(op, state, &m.to)?;
    Ok(ddl::create_junction_sql(
        d,
        &m.through,
        (&m.src, &ot.name, &column_def(ot, opk)),
        (&m.dst, &tt.name, &column_def(tt, tpk)),
    ))
}
