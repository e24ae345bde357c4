use crate::Value;

/// A reference to a column, optionally qualified by a table alias.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ColRef {
    /// The table alias; `None` means the query's main table.
    pub table: Option<&'static str>,
    /// The column name in the database.
    pub column: &'static str,
}

impl ColRef {
    /// An unqualified column of the main table.
    pub const fn new(column: &'static str) -> Self {
        ColRef {
            table: None,
            column,
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `<>`
    Ne,
    /// `>`
    Gt,
    /// `>=`
    Gte,
    /// `<`
    Lt,
    /// `<=`
    Lte,
}

impl CmpOp {
    /// The SQL spelling of the operator.
    pub fn as_sql(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Gt => ">",
            CmpOp::Gte => ">=",
            CmpOp::Lt => "<",
            CmpOp::Lte => "<=",
        }
    }
}

/// The right-hand side of a comparison: a bound value or another column (Django's `F`).
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A value, always bound as a parameter.
    Value(Value),
    /// Another column.
    Column(ColRef),
}

/// Which part of a text a pattern lookup matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LikeKind {
    /// Anywhere (`contains`).
    Contains,
    /// At the start (`startswith`).
    StartsWith,
    /// At the end (`endswith`).
    EndsWith,
    /// The whole text, ignoring case (`iexact`).
    Exact,
}

/// A filter condition: Django's `Q` objects and lookups as data.
///
/// Combine with `&`, `|` and `!` (or [`Expr::and`], [`Expr::or`], [`Expr::not`]).
/// Pattern lookups keep the user's text as given; the dialect escapes it, so `%`, `_`
/// and `\` match themselves.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Expr {
    /// `column <op> operand`.
    Compare {
        /// Left column.
        left: ColRef,
        /// Operator.
        op: CmpOp,
        /// Right operand.
        right: Operand,
    },
    /// `column IN (...)` or `NOT IN`.
    In {
        /// Column.
        column: ColRef,
        /// Candidate values (an empty list matches nothing, or everything when negated).
        values: Vec<Value>,
        /// `NOT IN` when true.
        negated: bool,
    },
    /// `column IS NULL` or `IS NOT NULL`.
    IsNull {
        /// Column.
        column: ColRef,
        /// `IS NOT NULL` when true.
        negated: bool,
    },
    /// A text pattern lookup.
    Like {
        /// Column.
        column: ColRef,
        /// Where the text must occur.
        kind: LikeKind,
        /// The literal text searched for (not a pattern).
        text: String,
        /// Case-insensitive (`icontains` …) when true.
        case_insensitive: bool,
    },
    /// `column BETWEEN low AND high` (inclusive, as Django's `range`).
    Range {
        /// Column.
        column: ColRef,
        /// Lower bound.
        low: Value,
        /// Upper bound.
        high: Value,
    },
    /// All of these hold (an empty list is true).
    And(Vec<Expr>),
    /// Any of these holds (an empty list is false).
    Or(Vec<Expr>),
    /// The inner condition does not hold.
    Not(Box<Expr>),
}

/// Django's name for a filter condition.
pub type Q = Expr;

impl Expr {
    /// Both conditions.
    pub fn and(self, other: Expr) -> Expr {
        match self {
            Expr::And(mut v) => {
                v.push(other);
                Expr::And(v)
            }
            e => Expr::And(vec![e, other]),
        }
    }

    /// Either condition.
    pub fn or(self, other: Expr) -> Expr {
        match self {
            Expr::Or(mut v) => {
                v.push(other);
                Expr::Or(v)
            }
            e => Expr::Or(vec![e, other]),
        }
    }

    /// The negation.
    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Expr {
        Expr::Not(Box::new(self))
    }

    /// All conditions of an iterator (true when empty).
    pub fn all(items: impl IntoIterator<Item = Expr>) -> Expr {
        Expr::And(items.into_iter().collect())
    }

    /// Any condition of an iterator (false when empty).
    pub fn any(items: impl IntoIterator<Item = Expr>) -> Expr {
        Expr::Or(items.into_iter().collect())
    }

    /// Qualifies every unqualified column with `alias` (used when a query joins tables).
    pub fn qualify(&mut self, alias: &'static str) {
        fn q(c: &mut ColRef, alias: &'static str) {
            if c.table.is_none() {
                c.table = Some(alias);
            }
        }
        match self {
            Expr::Compare { left, right, .. } => {
                q(left, alias);
                if let Operand::Column(c) = right {
                    q(c, alias);
                }
            }
            Expr::In { column, .. }
            | Expr::IsNull { column, .. }
            | Expr::Like { column, .. }
            | Expr::Range { column, .. } => q(column, alias),
            Expr::And(v) | Expr::Or(v) => v.iter_mut().for_each(|e| e.qualify(alias)),
            Expr::Not(e) => e.qualify(alias),
        }
    }
}

impl std::ops::BitAnd for Expr {
    type Output = Expr;
    fn bitand(self, rhs: Expr) -> Expr {
        self.and(rhs)
    }
}

impl std::ops::BitOr for Expr {
    type Output = Expr;
    fn bitor(self, rhs: Expr) -> Expr {
        self.or(rhs)
    }
}

impl std::ops::Not for Expr {
    type Output = Expr;
    fn not(self) -> Expr {
        Expr::Not(Box::new(self))
    }
}
