//! The schema a set of migrations leaves behind, as plain data that a migration file
//! stores in full (so any one file is a self-contained starting point).

use std::collections::BTreeMap;

use rustango_core::{ModelSchema, OnDelete, ValueKind};
use serde::{Deserialize, Serialize};

/// A foreign-key constraint on a column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignKeyState {
    /// The referenced table.
    pub table: String,
    /// The referenced column.
    pub column: String,
    /// The delete rule.
    pub on_delete: OnDelete,
}

/// One column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnState {
    /// Column name.
    pub name: String,
    /// Storage kind.
    pub kind: ValueKind,
    /// Accepts NULL.
    #[serde(default)]
    pub nullable: bool,
    /// Is the primary key.
    #[serde(default)]
    pub primary_key: bool,
    /// Assigned by the server (a serial key) or the ORM.
    #[serde(default)]
    pub auto: bool,
    /// `VARCHAR(n)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    /// Decimal precision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_digits: Option<u8>,
    /// Decimal scale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decimal_places: Option<u8>,
    /// Has a unique constraint.
    #[serde(default)]
    pub unique: bool,
    /// SQL default expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// Foreign key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<ForeignKeyState>,
}

impl ColumnState {
    /// Whether existing rows get a value when the column is added (NULL, a default, or a
    /// server-assigned value).
    pub fn fills_existing_rows(&self) -> bool {
        self.nullable || self.default.is_some()
    }
}

/// One index (single-column `#[rustango(index)]` indexes included, under their names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexState {
    /// Index name.
    pub name: String,
    /// Columns, in order.
    pub columns: Vec<String>,
    /// Unique index.
    #[serde(default)]
    pub unique: bool,
}

/// A named CHECK constraint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckState {
    /// Constraint name.
    pub name: String,
    /// SQL expression.
    pub expr: String,
}

/// A many-to-many junction table owned by a model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct M2MState {
    /// Relation name.
    pub name: String,
    /// Target table.
    pub to: String,
    /// Junction table.
    pub through: String,
    /// Column pointing at the owner.
    pub src: String,
    /// Column pointing at the target.
    pub dst: String,
}

/// One table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableState {
    /// The model's Rust name.
    pub model: String,
    /// The table name.
    pub name: String,
    /// Columns, in declaration order.
    pub columns: Vec<ColumnState>,
    /// Indexes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexes: Vec<IndexState>,
    /// CHECK constraints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckState>,
    /// Many-to-many relations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub m2m: Vec<M2MState>,
}

impl TableState {
    /// The state of a model's table, from its schema description.
    pub fn from_schema(s: &ModelSchema) -> TableState {
        let mut indexes: Vec<IndexState> = s
            .fields
            .iter()
            .filter(|f| f.index && !f.unique && !f.primary_key)
            .map(|f| IndexState {
                name: format!("ix_{}_{}", s.table, f.column),
                columns: vec![f.column.to_owned()],
                unique: false,
            })
            .collect();
        indexes.extend(s.indexes.iter().map(|i| IndexState {
            name: i.name.to_owned(),
            columns: i.columns.iter().map(|c| (*c).to_owned()).collect(),
            unique: i.unique,
        }));
        TableState {
            model: s.name.to_owned(),
            name: s.table.to_owned(),
            columns: s
                .fields
                .iter()
                .map(|f| ColumnState {
                    name: f.column.to_owned(),
                    kind: f.kind,
                    nullable: f.nullable,
                    primary_key: f.primary_key,
                    auto: f.auto,
                    max_length: f.max_length,
                    max_digits: f.max_digits,
                    decimal_places: f.decimal_places,
                    unique: f.unique,
                    default: f.default.map(str::to_owned).or_else(|| {
                        (f.auto_now_add || f.auto_now).then(|| "CURRENT_TIMESTAMP".to_owned())
                    }),
                    references: f.relation.map(|r| {
                        let target = (r.to)();
                        ForeignKeyState {
                            table: target.table.to_owned(),
                            column: target.pk_field().column.to_owned(),
                            on_delete: r.on_delete,
                        }
                    }),
                })
                .collect(),
            indexes,
            checks: s
                .checks
                .iter()
                .map(|c| CheckState {
                    name: c.name.to_owned(),
                    expr: c.expr.to_owned(),
                })
                .collect(),
            m2m: s
                .m2m
                .iter()
                .map(|m| M2MState {
                    name: m.name.to_owned(),
                    to: m.to.to_owned(),
                    through: m.through.to_owned(),
                    src: m.src.to_owned(),
                    dst: m.dst.to_owned(),
                })
                .collect(),
        }
    }

    /// A column by name.
    pub fn column(&self, name: &str) -> Option<&ColumnState> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Every table of a project, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaSnapshot {
    /// Tables by name (sorted, so snapshots diff cleanly).
    pub tables: BTreeMap<String, TableState>,
}

impl SchemaSnapshot {
    /// The snapshot of a set of models (normally every registered model).
    pub fn from_models<'a>(schemas: impl IntoIterator<Item = &'a ModelSchema>) -> Self {
        SchemaSnapshot {
            tables: schemas
                .into_iter()
                .map(|s| (s.table.to_owned(), TableState::from_schema(s)))
                .collect(),
        }
    }

    /// The snapshot of every model registered in this program.
    pub fn from_registry() -> Self {
        Self::from_models(rustango_core::registry::models().map(|e| e.schema))
    }
}
