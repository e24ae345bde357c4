use std::marker::PhantomData;

use crate::{CmpOp, ColRef, Expr, FieldValue, LikeKind, Operand, Value};

/// Marker for field types whose lookups compare with text (`contains`, `startswith`, …).
pub trait ColumnType {}
impl ColumnType for String {}

type Cmp<C> = <<C as Column>::Value as FieldValue>::Compare;

fn bound<T: FieldValue>(v: T) -> Value {
    v.to_value().unwrap_or(Value::Null(T::KIND))
}

/// A typed column of a model: the lookups of Django's `filter(field__lookup=...)`.
///
/// `#[derive(Model)]` generates one constant per field (`Post::title`), so a typo in a
/// column name or a value of the wrong type is a compile error. A foreign-key column
/// (`Post::author`) compares with the target's key type.
pub trait Column: Copy {
    /// The model the column belongs to.
    type Model;
    /// The Rust type of the field.
    type Value: FieldValue;

    /// The column reference.
    fn col(&self) -> ColRef;

    /// The column name in the database.
    fn name(&self) -> &'static str {
        self.col().column
    }

    /// `column = value`.
    fn eq(self, v: impl Into<Cmp<Self>>) -> Expr {
        cmp(self, CmpOp::Eq, v)
    }
    /// `column <> value`.
    fn ne(self, v: impl Into<Cmp<Self>>) -> Expr {
        cmp(self, CmpOp::Ne, v)
    }
    /// `column > value`.
    fn gt(self, v: impl Into<Cmp<Self>>) -> Expr {
        cmp(self, CmpOp::Gt, v)
    }
    /// `column >= value`.
    fn gte(self, v: impl Into<Cmp<Self>>) -> Expr {
        cmp(self, CmpOp::Gte, v)
    }
    /// `column < value`.
    fn lt(self, v: impl Into<Cmp<Self>>) -> Expr {
        cmp(self, CmpOp::Lt, v)
    }
    /// `column <= value`.
    fn lte(self, v: impl Into<Cmp<Self>>) -> Expr {
        cmp(self, CmpOp::Lte, v)
    }
    /// `column IN (values)`; an empty list matches no row.
    fn in_<V: Into<Cmp<Self>> + Clone>(self, values: &[V]) -> Expr {
        Expr::In {
            column: self.col(),
            values: values.iter().cloned().map(|v| bound(v.into())).collect(),
            negated: false,
        }
    }
    /// `column NOT IN (values)`; an empty list matches every row.
    fn not_in<V: Into<Cmp<Self>> + Clone>(self, values: &[V]) -> Expr {
        Expr::In {
            column: self.col(),
            values: values.iter().cloned().map(|v| bound(v.into())).collect(),
            negated: true,
        }
    }
    /// `column IS NULL`.
    fn is_null(self) -> Expr {
        Expr::IsNull {
            column: self.col(),
            negated: false,
        }
    }
    /// `column IS NOT NULL`.
    fn is_not_null(self) -> Expr {
        Expr::IsNull {
            column: self.col(),
            negated: true,
        }
    }
    /// `low <= column <= high` (Django's `range`).
    fn range(self, low: impl Into<Cmp<Self>>, high: impl Into<Cmp<Self>>) -> Expr {
        Expr::Range {
            column: self.col(),
            low: bound(low.into()),
            high: bound(high.into()),
        }
    }
    /// Compares with another column of the same type (Django's `F`).
    fn cmp_col<O: Column>(self, op: CmpOp, other: O) -> Expr
    where
        O::Value: FieldValue<Compare = Cmp<Self>>,
    {
        Expr::Compare {
            left: self.col(),
            op,
            right: Operand::Column(other.col()),
        }
    }
    /// `column = other_column`.
    fn eq_col<O: Column>(self, other: O) -> Expr
    where
        O::Value: FieldValue<Compare = Cmp<Self>>,
    {
        self.cmp_col(CmpOp::Eq, other)
    }
    /// `column <> other_column`.
    fn ne_col<O: Column>(self, other: O) -> Expr
    where
        O::Value: FieldValue<Compare = Cmp<Self>>,
    {
        self.cmp_col(CmpOp::Ne, other)
    }
    /// `column >= other_column`.
    fn gte_col<O: Column>(self, other: O) -> Expr
    where
        O::Value: FieldValue<Compare = Cmp<Self>>,
    {
        self.cmp_col(CmpOp::Gte, other)
    }
    /// `column <= other_column`.
    fn lte_col<O: Column>(self, other: O) -> Expr
    where
        O::Value: FieldValue<Compare = Cmp<Self>>,
    {
        self.cmp_col(CmpOp::Lte, other)
    }
    /// `column > other_column`.
    fn gt_col<O: Column>(self, other: O) -> Expr
    where
        O::Value: FieldValue<Compare = Cmp<Self>>,
    {
        self.cmp_col(CmpOp::Gt, other)
    }
    /// `column < other_column`.
    fn lt_col<O: Column>(self, other: O) -> Expr
    where
        O::Value: FieldValue<Compare = Cmp<Self>>,
    {
        self.cmp_col(CmpOp::Lt, other)
    }
    /// Case-sensitive substring match; the text is literal (`%` matches only `%`).
    fn contains(self, text: impl Into<String>) -> Expr
    where
        Cmp<Self>: ColumnType,
    {
        like(self, LikeKind::Contains, text, false)
    }
    /// Case-insensitive substring match (`ILIKE` on PostgreSQL).
    fn icontains(self, text: impl Into<String>) -> Expr
    where
        Cmp<Self>: ColumnType,
    {
        like(self, LikeKind::Contains, text, true)
    }
    /// Case-sensitive prefix match.
    fn startswith(self, text: impl Into<String>) -> Expr
    where
        Cmp<Self>: ColumnType,
    {
        like(self, LikeKind::StartsWith, text, false)
    }
    /// Case-insensitive prefix match.
    fn istartswith(self, text: impl Into<String>) -> Expr
    where
        Cmp<Self>: ColumnType,
    {
        like(self, LikeKind::StartsWith, text, true)
    }
    /// Case-sensitive suffix match.
    fn endswith(self, text: impl Into<String>) -> Expr
    where
        Cmp<Self>: ColumnType,
    {
        like(self, LikeKind::EndsWith, text, false)
    }
    /// Case-insensitive suffix match.
    fn iendswith(self, text: impl Into<String>) -> Expr
    where
        Cmp<Self>: ColumnType,
    {
        like(self, LikeKind::EndsWith, text, true)
    }
    /// Case-insensitive equality (Django's `iexact`).
    fn iexact(self, text: impl Into<String>) -> Expr
    where
        Cmp<Self>: ColumnType,
    {
        like(self, LikeKind::Exact, text, true)
    }
}

fn cmp<C: Column>(c: C, op: CmpOp, v: impl Into<Cmp<C>>) -> Expr {
    Expr::Compare {
        left: c.col(),
        op,
        right: Operand::Value(bound(v.into())),
    }
}

fn like<C: Column>(c: C, kind: LikeKind, text: impl Into<String>, ci: bool) -> Expr {
    Expr::Like {
        column: c.col(),
        kind,
        text: text.into(),
        case_insensitive: ci,
    }
}

/// The typed column constant that `#[derive(Model)]` generates for each field.
pub struct Col<M, T> {
    column: &'static str,
    _marker: PhantomData<fn() -> (M, T)>,
}

impl<M, T> Col<M, T> {
    /// A column named `column` of model `M`, holding `T`.
    pub const fn new(column: &'static str) -> Self {
        Col {
            column,
            _marker: PhantomData,
        }
    }
}

impl<M, T> Clone for Col<M, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M, T> Copy for Col<M, T> {}

impl<M, T> std::fmt::Debug for Col<M, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Col({})", self.column)
    }
}

impl<M, T: FieldValue> Column for Col<M, T> {
    type Model = M;
    type Value = T;
    fn col(&self) -> ColRef {
        ColRef::new(self.column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Auto;

    struct Post;
    const ID: Col<Post, Auto<i64>> = Col::new("id");
    const TITLE: Col<Post, String> = Col::new("title");
    const SCORE: Col<Post, Option<i32>> = Col::new("score");

    #[test]
    fn lookups_bind_typed_values() {
        assert_eq!(
            ID.eq(5),
            Expr::Compare {
                left: ColRef::new("id"),
                op: CmpOp::Eq,
                right: Operand::Value(Value::I64(5)),
            }
        );
        let e = ID.in_(&[1, 2, 3]);
        assert!(matches!(e, Expr::In { ref values, negated: false, .. } if values.len() == 3));
        let e = TITLE.in_(&["a", "b"]);
        assert!(matches!(e, Expr::In { ref values, .. } if values[0] == Value::String("a".into())));
        assert!(matches!(
            SCORE.gt(3),
            Expr::Compare {
                right: Operand::Value(Value::I32(3)),
                ..
            }
        ));
    }

    #[test]
    fn combinators_flatten() {
        let e = TITLE.eq("a") & TITLE.eq("b") & TITLE.eq("c");
        assert!(matches!(e, Expr::And(ref v) if v.len() == 3));
        let e = TITLE.eq("a") | !TITLE.contains("%");
        assert!(matches!(e, Expr::Or(ref v) if matches!(v[1], Expr::Not(_))));
    }
}
