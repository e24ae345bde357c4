//! The autodetector: compares the models' snapshot with the last migration's snapshot
//! and lists the operations between them, in an order that a database can apply.

use crate::{ColumnState, Error, Operation, SchemaSnapshot, TableState};

/// A column that disappeared while one of the same type appeared in the same table:
/// probably a rename, which the autodetector never guesses (it would lose data if
/// wrong), but says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenameHint {
    /// The table.
    pub table: String,
    /// The column that disappeared.
    pub from: String,
    /// The column that appeared.
    pub to: String,
}

impl std::fmt::Display for RenameHint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{t}.{a}` disappeared and `{t}.{b}` of the same type appeared: if this is a rename, \
             replace the DropColumn/AddColumn pair in the new migration with \
             {{\"op\": \"RenameColumn\", \"table\": \"{t}\", \"from\": \"{a}\", \"to\": \"{b}\"}} \
             to keep the data",
            t = self.table,
            a = self.from,
            b = self.to
        )
    }
}

/// What the autodetector found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Detection {
    /// The operations, in the order to apply them.
    pub operations: Vec<Operation>,
    /// Possible renames the user should look at.
    pub hints: Vec<RenameHint>,
}

/// Lists the operations that turn a database at `old` into one at `new`.
///
/// Order: junction tables, indexes and checks that go away are dropped first; new tables
/// are created (without foreign keys); columns are added, changed and dropped; foreign
/// keys of new tables are added once every table exists; then new indexes, checks and
/// junction tables; tables that went away are dropped last.
pub fn autodetect(old: &SchemaSnapshot, new: &SchemaSnapshot) -> Result<Detection, Error> {
    let mut first = Vec::new(); // drops of m2m, indexes, checks
    let mut creates = Vec::new();
    let mut columns = Vec::new();
    let mut fks = Vec::new();
    let mut adds = Vec::new(); // indexes, checks
    let mut m2m_creates = Vec::new();
    let mut table_drops = Vec::new();
    let mut hints = Vec::new();

    for (name, table) in &new.tables {
        match old.tables.get(name) {
            None => {
                let mut bare = table.clone();
                bare.indexes.clear();
                bare.m2m.clear();
                for c in bare.columns.iter_mut() {
                    if let Some(fk) = c.references.take() {
                        fks.push(Operation::AddForeignKey {
                            table: name.clone(),
                            column: c.name.clone(),
                            references: fk,
                        });
                    }
                }
                creates.push(Operation::CreateTable { table: bare });
                for index in &table.indexes {
                    adds.push(Operation::CreateIndex {
                        table: name.clone(),
                        index: index.clone(),
                    });
                }
                for m2m in &table.m2m {
                    m2m_creates.push(Operation::CreateM2MTable {
                        table: name.clone(),
                        m2m: m2m.clone(),
                    });
                }
            }
            Some(before) => diff_table(
                before,
                table,
                &mut first,
                &mut columns,
                &mut adds,
                &mut m2m_creates,
                &mut hints,
            )?,
        }
    }
    for (name, table) in &old.tables {
        if !new.tables.contains_key(name) {
            for m2m in &table.m2m {
                first.push(Operation::DropM2MTable {
                    table: name.clone(),
                    m2m: m2m.clone(),
                });
            }
            table_drops.push(Operation::DropTable {
                table: table.clone(),
            });
        }
    }

    let mut operations = first;
    operations.extend(creates);
    operations.extend(columns);
    operations.extend(fks);
    operations.extend(adds);
    operations.extend(m2m_creates);
    operations.extend(table_drops);
    Ok(Detection { operations, hints })
}

fn diff_table(
    before: &TableState,
    after: &TableState,
    first: &mut Vec<Operation>,
    columns: &mut Vec<Operation>,
    adds: &mut Vec<Operation>,
    m2m_creates: &mut Vec<Operation>,
    hints: &mut Vec<RenameHint>,
) -> Result<(), Error> {
    let t = &after.name;
    let mut added: Vec<&ColumnState> = Vec::new();
    let mut dropped: Vec<&ColumnState> = Vec::new();

    for col in &after.columns {
        match before.column(&col.name) {
            None => added.push(col),
            Some(old) => diff_column(t, old, col, columns),
        }
    }
    for col in &before.columns {
        if after.column(&col.name).is_none() {
            dropped.push(col);
        }
    }
    for col in &added {
        if !col.fills_existing_rows() {
            return Err(Error::NotNullWithoutDefault {
                table: t.clone(),
                column: col.name.clone(),
                rename_from: dropped
                    .iter()
                    .find(|d| d.kind == col.kind)
                    .map(|d| d.name.clone()),
            });
        }
        columns.push(Operation::AddColumn {
            table: t.clone(),
            column: (*col).clone(),
        });
    }
    for col in &dropped {
        if let Some(new) = added.iter().find(|a| a.kind == col.kind) {
            hints.push(RenameHint {
                table: t.clone(),
                from: col.name.clone(),
                to: new.name.clone(),
            });
        }
        columns.push(Operation::DropColumn {
            table: t.clone(),
            column: (*col).clone(),
        });
    }

    for index in &before.indexes {
        if !after.indexes.contains(index) {
            first.push(Operation::DropIndex {
                table: t.clone(),
                index: index.clone(),
            });
        }
    }
    for index in &after.indexes {
        if !before.indexes.contains(index) {
            adds.push(Operation::CreateIndex {
                table: t.clone(),
                index: index.clone(),
            });
        }
    }
    for check in &before.checks {
        if !after.checks.contains(check) {
            first.push(Operation::DropCheckConstraint {
                table: t.clone(),
                check: check.clone(),
            });
        }
    }
    for check in &after.checks {
        if !before.checks.contains(check) {
            adds.push(Operation::AddCheckConstraint {
                table: t.clone(),
                check: check.clone(),
            });
        }
    }
    for m2m in &before.m2m {
        if !after.m2m.contains(m2m) {
            first.push(Operation::DropM2MTable {
                table: t.clone(),
                m2m: m2m.clone(),
            });
        }
    }
    for m2m in &after.m2m {
        if !before.m2m.contains(m2m) {
            m2m_creates.push(Operation::CreateM2MTable {
                table: t.clone(),
                m2m: m2m.clone(),
            });
        }
    }
    Ok(())
}

/// One operation per changed aspect of a column, each carrying the column before and
/// after that step, so that each can be reversed on its own.
fn diff_column(table: &str, old: &ColumnState, new: &ColumnState, out: &mut Vec<Operation>) {
    let mut current = old.clone();
    let mut step = |current: &mut ColumnState,
                    apply: &dyn Fn(&mut ColumnState),
                    make: fn(String, ColumnState, ColumnState) -> Operation| {
        let from = current.clone();
        apply(current);
        out.push(make(table.to_owned(), from, current.clone()));
    };
    if old.kind != new.kind
        || old.max_digits != new.max_digits
        || old.decimal_places != new.decimal_places
    {
        step(
            &mut current,
            &|c| {
                c.kind = new.kind;
                c.max_digits = new.max_digits;
                c.decimal_places = new.decimal_places;
            },
            |table, from, to| Operation::AlterColumnType { table, from, to },
        );
    }
    if old.max_length != new.max_length {
        step(
            &mut current,
            &|c| c.max_length = new.max_length,
            |table, from, to| Operation::AlterColumnMaxLength { table, from, to },
        );
    }
    if old.nullable != new.nullable {
        step(
            &mut current,
            &|c| c.nullable = new.nullable,
            |table, from, to| Operation::AlterColumnNullable { table, from, to },
        );
    }
    if old.default != new.default {
        step(
            &mut current,
            &|c| c.default = new.default.clone(),
            |table, from, to| Operation::AlterColumnDefault { table, from, to },
        );
    }
    if old.unique != new.unique {
        step(
            &mut current,
            &|c| c.unique = new.unique,
            |table, from, to| Operation::AlterColumnUnique { table, from, to },
        );
    }
}
