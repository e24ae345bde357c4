//! The operations a migration file lists in its `forward` array.

use serde::{Deserialize, Serialize};

use crate::{CheckState, ColumnState, ForeignKeyState, IndexState, M2MState, TableState};

/// One step of a migration. Every schema operation carries what its reverse needs (the
/// previous column or table), so a migration can be unapplied; `RunSql` is reversible
/// only when it has a `reverse_sql`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op")]
#[non_exhaustive]
pub enum Operation {
    /// Create a table (its foreign keys come in later `AddForeignKey` operations).
    CreateTable {
        /// The new table.
        table: TableState,
    },
    /// Drop a table (CASCADE on PostgreSQL).
    DropTable {
        /// The table as it was.
        table: TableState,
    },
    /// Rename a table (written by hand, or accepted from a hint).
    RenameTable {
        /// Old name.
        from: String,
        /// New name.
        to: String,
    },
    /// Add a column.
    AddColumn {
        /// Table.
        table: String,
        /// The new column.
        column: ColumnState,
    },
    /// Drop a column.
    DropColumn {
        /// Table.
        table: String,
        /// The column as it was.
        column: ColumnState,
    },
    /// Rename a column (written by hand, or accepted from a hint).
    RenameColumn {
        /// Table.
        table: String,
        /// Old name.
        from: String,
        /// New name.
        to: String,
    },
    /// Change a column's type (with a `USING` cast on PostgreSQL).
    AlterColumnType {
        /// Table.
        table: String,
        /// Before.
        from: ColumnState,
        /// After.
        to: ColumnState,
    },
    /// Make a column nullable or NOT NULL.
    AlterColumnNullable {
        /// Table.
        table: String,
        /// Before.
        from: ColumnState,
        /// After.
        to: ColumnState,
    },
    /// Change a column's default.
    AlterColumnDefault {
        /// Table.
        table: String,
        /// Before.
        from: ColumnState,
        /// After.
        to: ColumnState,
    },
    /// Change `VARCHAR(n)` ↔ `TEXT` or the length.
    AlterColumnMaxLength {
        /// Table.
        table: String,
        /// Before.
        from: ColumnState,
        /// After.
        to: ColumnState,
    },
    /// Add or remove a column's unique constraint.
    AlterColumnUnique {
        /// Table.
        table: String,
        /// Before.
        from: ColumnState,
        /// After.
        to: ColumnState,
    },
    /// Add a foreign-key constraint (after every table of the migration exists).
    AddForeignKey {
        /// Table.
        table: String,
        /// Column.
        column: String,
        /// The constraint.
        references: ForeignKeyState,
    },
    /// Drop a foreign-key constraint (the reverse of `AddForeignKey`).
    DropForeignKey {
        /// Table.
        table: String,
        /// Column.
        column: String,
        /// The constraint as it was.
        references: ForeignKeyState,
    },
    /// Create an index.
    CreateIndex {
        /// Table.
        table: String,
        /// The index.
        index: IndexState,
    },
    /// Drop an index.
    DropIndex {
        /// Table.
        table: String,
        /// The index as it was.
        index: IndexState,
    },
    /// Add a CHECK constraint.
    AddCheckConstraint {
        /// Table.
        table: String,
        /// The constraint.
        check: CheckState,
    },
    /// Drop a CHECK constraint.
    DropCheckConstraint {
        /// Table.
        table: String,
        /// The constraint as it was.
        check: CheckState,
    },
    /// Create a many-to-many junction table.
    CreateM2MTable {
        /// The owning table.
        table: String,
        /// The relation.
        m2m: M2MState,
    },
    /// Drop a many-to-many junction table.
    DropM2MTable {
        /// The owning table.
        table: String,
        /// The relation as it was.
        m2m: M2MState,
    },
    /// Hand-written SQL (a data migration).
    RunSql {
        /// Applied going forward.
        sql: String,
        /// Applied going back; without it the migration cannot be unapplied.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reverse_sql: Option<String>,
    },
}

impl Operation {
    /// A one-line description, for progress output and errors.
    pub fn describe(&self) -> String {
        match self {
            Operation::CreateTable { table } => format!("create table {}", table.name),
            Operation::DropTable { table } => format!("drop table {}", table.name),
            Operation::RenameTable { from, to } => format!("rename table {from} to {to}"),
            Operation::AddColumn { table, column } => format!("add column {table}.{}", column.name),
            Operation::DropColumn { table, column } => {
                format!("drop column {table}.{}", column.name)
            }
            Operation::RenameColumn { table, from, to } => {
                format!("rename column {table}.{from} to {to}")
            }
            Operation::AlterColumnType { table, to, .. } => {
                format!(
                    "change type of {table}.{} to {}",
                    to.name,
                    kind_name(to.kind)
                )
            }
            Operation::AlterColumnNullable { table, to, .. } => format!(
                "make {table}.{} {}",
                to.name,
                if to.nullable { "nullable" } else { "NOT NULL" }
            ),
            Operation::AlterColumnDefault { table, to, .. } => {
                format!("change default of {table}.{}", to.name)
            }
            Operation::AlterColumnMaxLength { table, to, .. } => {
                format!("change max_length of {table}.{}", to.name)
            }
            Operation::AlterColumnUnique { table, to, .. } => format!(
                "{} unique on {table}.{}",
                if to.unique { "add" } else { "drop" },
                to.name
            ),
            Operation::AddForeignKey { table, column, .. } => {
                format!("add foreign key {table}.{column}")
            }
            Operation::DropForeignKey { table, column, .. } => {
                format!("drop foreign key {table}.{column}")
            }
            Operation::CreateIndex { table, index } => {
                format!("create index {} on {table}", index.name)
            }
            Operation::DropIndex { table, index } => {
                format!("drop index {} on {table}", index.name)
            }
            Operation::AddCheckConstraint { table, check } => {
                format!("add check {} on {table}", check.name)
            }
            Operation::DropCheckConstraint { table, check } => {
                format!("drop check {} on {table}", check.name)
            }
            Operation::CreateM2MTable { m2m, .. } => {
                format!("create junction table {}", m2m.through)
            }
            Operation::DropM2MTable { m2m, .. } => format!("drop junction table {}", m2m.through),
            Operation::RunSql { .. } => "run SQL".to_owned(),
        }
    }

    /// Whether the operation can be undone.
    pub fn is_reversible(&self) -> bool {
        self.reverse().is_some()
    }

    /// The operation that undoes this one; `None` for `RunSql` without `reverse_sql`.
    pub fn reverse(&self) -> Option<Operation> {
        use Operation as O;
        Some(match self.clone() {
            O::CreateTable { table } => O::DropTable { table },
            O::DropTable { table } => O::CreateTable { table },
            O::RenameTable { from, to } => O::RenameTable { from: to, to: from },
            O::AddColumn { table, column } => O::DropColumn { table, column },
            O::DropColumn { table, column } => O::AddColumn { table, column },
            O::RenameColumn { table, from, to } => O::RenameColumn {
                table,
                from: to,
                to: from,
            },
            O::AlterColumnType { table, from, to } => O::AlterColumnType {
                table,
                from: to,
                to: from,
            },
            O::AlterColumnNullable { table, from, to } => O::AlterColumnNullable {
                table,
                from: to,
                to: from,
            },
            O::AlterColumnDefault { table, from, to } => O::AlterColumnDefault {
                table,
                from: to,
                to: from,
            },
            O::AlterColumnMaxLength { table, from, to } => O::AlterColumnMaxLength {
                table,
                from: to,
                to: from,
            },
            O::AlterColumnUnique { table, from, to } => O::AlterColumnUnique {
                table,
                from: to,
                to: from,
            },
            O::AddForeignKey {
                table,
                column,
                references,
            } => O::DropForeignKey {
                table,
                column,
                references,
            },
            O::DropForeignKey {
                table,
                column,
                references,
            } => O::AddForeignKey {
                table,
                column,
                references,
            },
            O::CreateIndex { table, index } => O::DropIndex { table, index },
            O::DropIndex { table, index } => O::CreateIndex { table, index },
            O::AddCheckConstraint { table, check } => O::DropCheckConstraint { table, check },
            O::DropCheckConstraint { table, check } => O::AddCheckConstraint { table, check },
            O::CreateM2MTable { table, m2m } => O::DropM2MTable { table, m2m },
            O::DropM2MTable { table, m2m } => O::CreateM2MTable { table, m2m },
            O::RunSql { sql, reverse_sql } => O::RunSql {
                sql: reverse_sql?,
                reverse_sql: Some(sql),
            },
        })
    }
}

/// A kind's name as migration files spell it (`i64`, `date_time`).
fn kind_name(kind: rustango_core::ValueKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{kind:?}"))
}
