use rustango_core::{ColRef, Expr, Value, ValueKind};

use crate::{Dialect, SqlWriter};

/// An aggregate function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AggFunc {
    /// `COUNT`.
    Count,
    /// `SUM`.
    Sum,
    /// `AVG`.
    Avg,
    /// `MIN`.
    Min,
    /// `MAX`.
    Max,
}

impl AggFunc {
    /// The SQL name.
    pub fn as_sql(self) -> &'static str {
        match self {
            AggFunc::Count => "COUNT",
            AggFunc::Sum => "SUM",
            AggFunc::Avg => "AVG",
            AggFunc::Min => "MIN",
            AggFunc::Max => "MAX",
        }
    }
}

/// One item of a `SELECT` list.
#[derive(Debug, Clone, PartialEq)]
pub enum SelectItem {
    /// A column.
    Column(ColRef),
    /// `COUNT(*)`.
    CountAll {
        /// Output name.
        alias: Option<&'static str>,
    },
    /// An aggregate of a column, optionally cast so that every backend returns one type.
    Aggregate {
        /// Function.
        func: AggFunc,
        /// Argument.
        column: ColRef,
        /// `COUNT(DISTINCT x)` and friends.
        distinct: bool,
        /// Cast the result to this kind.
        cast: Option<ValueKind>,
        /// Output name.
        alias: Option<&'static str>,
    },
}

/// `LEFT JOIN table AS alias ON alias.right = left`.
#[derive(Debug, Clone, PartialEq)]
pub struct Join {
    /// Joined table.
    pub table: &'static str,
    /// Its alias.
    pub alias: &'static str,
    /// The referencing column (qualified).
    pub left: ColRef,
    /// The referenced column of the joined table.
    pub right: &'static str,
}

/// One `ORDER BY` key.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrderBy {
    /// Column.
    pub column: ColRef,
    /// Descending.
    pub desc: bool,
}

/// A `SELECT` statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Select {
    /// Main table.
    pub table: &'static str,
    /// Alias of the main table (used when joining).
    pub alias: Option<&'static str>,
    /// Selected items; empty means `*`.
    pub items: Vec<SelectItem>,
    /// Joins.
    pub joins: Vec<Join>,
    /// `WHERE`.
    pub filter: Option<Expr>,
    /// `GROUP BY`.
    pub group_by: Vec<ColRef>,
    /// `ORDER BY`.
    pub order_by: Vec<OrderBy>,
    /// `LIMIT`.
    pub limit: Option<u64>,
    /// `OFFSET`.
    pub offset: Option<u64>,
    /// `SELECT DISTINCT`.
    pub distinct: bool,
}

impl Select {
    /// `SELECT * FROM table`.
    pub fn new(table: &'static str) -> Self {
        Select {
            table,
            alias: None,
            items: Vec::new(),
            joins: Vec::new(),
            filter: None,
            group_by: Vec::new(),
            order_by: Vec::new(),
            limit: None,
            offset: None,
            distinct: false,
        }
    }

    /// Adds a column of the main table.
    pub fn column(mut self, column: &'static str) -> Self {
        self.items.push(SelectItem::Column(ColRef::new(column)));
        self
    }

    /// ANDs a condition into `WHERE`.
    pub fn filter(mut self, e: Expr) -> Self {
        self.filter = Some(match self.filter.take() {
            Some(f) => f.and(e),
            None => e,
        });
        self
    }

    /// Sets `LIMIT`.
    pub fn limit(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }

    /// Renders the statement and its parameters.
    pub fn render(self, dialect: &dyn Dialect) -> (String, Vec<Value>) {
        let mut w = SqlWriter::new(dialect);
        w.select(self);
        w.finish()
    }
}

/// What an `INSERT` does when it hits a unique constraint.
#[derive(Debug, Clone, PartialEq)]
pub struct OnConflict {
    /// The conflicting columns (a unique constraint or the primary key).
    pub target: Vec<&'static str>,
    /// Columns overwritten with the new row's values; empty means `DO NOTHING`.
    pub update: Vec<&'static str>,
}

/// An `INSERT` of one or more rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Insert {
    /// Table.
    pub table: &'static str,
    /// Columns.
    pub columns: Vec<&'static str>,
    /// Rows, each as long as `columns`.
    pub rows: Vec<Vec<Value>>,
    /// Upsert behaviour.
    pub on_conflict: Option<OnConflict>,
    /// Columns returned (ignored where `RETURNING` is unsupported).
    pub returning: Vec<&'static str>,
}

impl Insert {
    /// Renders the statement and its parameters.
    pub fn render(self, dialect: &dyn Dialect) -> (String, Vec<Value>) {
        let mut w = SqlWriter::new(dialect);
        w.insert(self);
        w.finish()
    }
}

/// An `UPDATE`.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    /// Table.
    pub table: &'static str,
    /// `SET column = value` pairs.
    pub sets: Vec<(&'static str, Value)>,
    /// `WHERE`.
    pub filter: Option<Expr>,
    /// Columns returned.
    pub returning: Vec<&'static str>,
}

impl Update {
    /// Renders the statement and its parameters.
    pub fn render(self, dialect: &dyn Dialect) -> (String, Vec<Value>) {
        let mut w = SqlWriter::new(dialect);
        w.update(self);
        w.finish()
    }
}

/// A `DELETE`.
#[derive(Debug, Clone, PartialEq)]
pub struct Delete {
    /// Table.
    pub table: &'static str,
    /// `WHERE`.
    pub filter: Option<Expr>,
}

impl Delete {
    /// Renders the statement and its parameters.
    pub fn render(self, dialect: &dyn Dialect) -> (String, Vec<Value>) {
        let mut w = SqlWriter::new(dialect);
        w.delete(self);
        w.finish()
    }
}
