//! The autodetector: compares the models' snapshot with the last migration's snapshot
//! and lists the operations between them, in an order that a database can apply.

use crate::{ColumnState, Error, Operation, SchemaSnapshot, TableState};

/// A table or column that disappeared while a similar one appeared: probably a rename,
/// which the autodetector never guesses (it would lose data if wrong), but says so, with
/// the `makemigrations` flag that turns the drop and add into a rename.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenameHint {
    /// A column of `table` went and one of the same type came.
    Column {
        /// The table.
        table: String,
        /// The column that disappeared.
        from: String,
        /// The column that appeared.
        to: String,
    },
    /// A table went and one with the same columns came.
    Table {
        /// The table that disappeared.
        from: String,
        /// The table that appeared.
        to: String,
    },
}

impl RenameHint {
    /// The rename this hint suggests, as `makemigrations --rename` takes it.
    pub fn as_rename(&self) -> Rename {
        match self {
            RenameHint::Column { table, from, to } => Rename::Column {
                table: table.clone(),
                from: from.clone(),
                to: to.clone(),
            },
            RenameHint::Table { from, to } => Rename::Table {
                from: from.clone(),
                to: to.clone(),
            },
        }
    }
}

impl std::fmt::Display for RenameHint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RenameHint::Column { table, from, to } => write!(
                f,
                "`{table}.{from}` disappeared and `{table}.{to}` of the same type appeared; if it \
                 is a rename, run makemigrations again with `--rename {}` to keep the data",
                self.as_rename()
            ),
            RenameHint::Table { from, to } => write!(
                f,
                "table `{from}` disappeared and `{to}` with the same columns appeared; if it is \
                 a rename, run makemigrations again with `--rename {}` to keep the data",
                self.as_rename()
            ),
        }
    }
}

/// A rename the user confirmed: `makemigrations --rename posts.title=headline` (a
/// column) or `--rename posts=articles` (a table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rename {
    /// Rename a column.
    Column {
        /// The table (its new name, if the table is renamed too).
        table: String,
        /// Old column name.
        from: String,
        /// New column name.
        to: String,
    },
    /// Rename a table.
    Table {
        /// Old name.
        from: String,
        /// New name.
        to: String,
    },
}

impl std::fmt::Display for Rename {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rename::Column { table, from, to } => write!(f, "{table}.{from}={to}"),
            Rename::Table { from, to } => write!(f, "{from}={to}"),
        }
    }
}

impl std::str::FromStr for Rename {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            || format!("`{s}` is not a rename: write `table.old=new` or `old_table=new_table`");
        let (left, to) = s.split_once('=').ok_or_else(bad)?;
        let ok = |x: &str| !x.is_empty() && !x.contains(['.', '=', ' ']);
        match left.split_once('.') {
            Some((table, from)) if ok(table) && ok(from) && ok(to) => Ok(Rename::Column {
                table: table.to_owned(),
                from: from.to_owned(),
                to: to.to_owned(),
            }),
            None if ok(left) && ok(to) => Ok(Rename::Table {
                from: left.to_owned(),
                to: to.to_owned(),
            }),
            _ => Err(bad()),
        }
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
    autodetect_with(old, new, &[])
}

/// [`autodetect`] with renames the user confirmed: they become `RenameTable` /
/// `RenameColumn` operations (first in the list), and the rest of the diff is taken
/// against the renamed schema, so the data stays.
pub fn autodetect_with(
    old: &SchemaSnapshot,
    new: &SchemaSnapshot,
    renames: &[Rename],
) -> Result<Detection, Error> {
    if renames.is_empty() {
        return diff(old, new);
    }
    let mut rename_ops = Vec::new();
    let mut renamed = old.clone();
    for r in renames {
        let op = match r.clone() {
            Rename::Table { from, to } => Operation::RenameTable { from, to },
            Rename::Column { table, from, to } => Operation::RenameColumn { table, from, to },
        };
        renamed.apply(&op)?;
        rename_ops.push(op);
    }
    let mut detection = diff(&renamed, new)?;
    rename_ops.append(&mut detection.operations);
    detection.operations = rename_ops;
    Ok(detection)
}

fn diff(old: &SchemaSnapshot, new: &SchemaSnapshot) -> Result<Detection, Error> {
    let mut first = Vec::new(); // drops of m2m, indexes, checks, foreign keys
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
                Sinks {
                    first: &mut first,
                    columns: &mut columns,
                    fks: &mut fks,
                    adds: &mut adds,
                    m2m_creates: &mut m2m_creates,
                    hints: &mut hints,
                },
            )?,
        }
    }
    for (name, table) in &old.tables {
        if !new.tables.contains_key(name) {
            // Junction tables and foreign keys go first, each its own operation, so
            // that unapplying re-creates the tables before their constraints.
            let mut bare = table.clone();
            for m2m in bare.m2m.drain(..) {
                first.push(Operation::DropM2MTable {
                    table: name.clone(),
                    m2m,
                });
            }
            for c in bare.columns.iter_mut() {
                if let Some(references) = c.references.take() {
                    first.push(Operation::DropForeignKey {
                        table: name.clone(),
                        column: c.name.clone(),
                        references,
                    });
                }
            }
            let same_columns = |t: &TableState| {
                t.columns.len() == table.columns.len()
                    && t.columns
                        .iter()
                        .zip(&table.columns)
                        .all(|(a, b)| a.name == b.name && a.kind == b.kind)
            };
            if let Some(to) = new
                .tables
                .values()
                .find(|t| !old.tables.contains_key(&t.name) && same_columns(t))
            {
                hints.push(RenameHint::Table {
                    from: name.clone(),
                    to: to.name.clone(),
                });
            }
            table_drops.push(Operation::DropTable { table: bare });
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

/// Where `diff_table` puts each kind of operation (they are concatenated in order).
struct Sinks<'a> {
    first: &'a mut Vec<Operation>,
    columns: &'a mut Vec<Operation>,
    fks: &'a mut Vec<Operation>,
    adds: &'a mut Vec<Operation>,
    m2m_creates: &'a mut Vec<Operation>,
    hints: &'a mut Vec<RenameHint>,
}

fn diff_table(before: &TableState, after: &TableState, sinks: Sinks<'_>) -> Result<(), Error> {
    let Sinks {
        first,
        columns,
        fks,
        adds,
        m2m_creates,
        hints,
    } = sinks;
    let t = &after.name;
    let mut added: Vec<&ColumnState> = Vec::new();
    let mut dropped: Vec<&ColumnState> = Vec::new();

    for col in &after.columns {
        match before.column(&col.name) {
            None => added.push(col),
            Some(old) => {
                diff_column(t, old, col, columns);
                if old.references != col.references {
                    if let Some(references) = old.references.clone() {
                        first.push(Operation::DropForeignKey {
                            table: t.clone(),
                            column: col.name.clone(),
                            references,
                        });
                    }
                    if let Some(references) = col.references.clone() {
                        fks.push(Operation::AddForeignKey {
                            table: t.clone(),
                            column: col.name.clone(),
                            references,
                        });
                    }
                }
            }
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
            hints.push(RenameHint::Column {
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
