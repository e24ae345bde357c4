//! Many-to-many managers (`post.tags_m2m()`), from `#[rustango(m2m(...))]`.

use rustango_core::{CmpOp, ColRef, Expr, FieldValue, M2MSchema, Model, Operand, Value, ValueKind};
use rustango_query::{Delete, Insert, OnConflict, Select, SelectItem};

use crate::exec;
use crate::{Error, Executor};

/// The kind of the key on the target side of a relation (the target's primary key when
/// the target table is a registered model, else `BIGINT`).
pub(crate) fn target_key_kind(m2m: &M2MSchema) -> ValueKind {
    rustango_core::registry::by_table(m2m.to).map_or(ValueKind::I64, |e| e.schema.pk_field().kind)
}

/// The rows of a many-to-many relation of one instance.
#[derive(Debug)]
pub struct ManyToMany<'a, M: Model> {
    owner: &'a M,
    rel: &'static M2MSchema,
}

impl<M: Model> Clone for ManyToMany<'_, M> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M: Model> Copy for ManyToMany<'_, M> {}

fn eq(column: &'static str, v: Value) -> Expr {
    Expr::Compare {
        left: ColRef::new(column),
        op: CmpOp::Eq,
        right: Operand::Value(v),
    }
}

fn key<K: FieldValue>(k: K) -> Value {
    k.to_value().unwrap_or(Value::Null(K::KIND))
}

/// Widens an integer literal (`add(42, …)` is an `i32`) to the junction column's type,
/// so that every backend compares and stores it as that type.
fn coerce(v: Value, kind: ValueKind) -> Value {
    match (v, kind) {
        (Value::I16(x), ValueKind::I64) => Value::I64(i64::from(x)),
        (Value::I32(x), ValueKind::I64) => Value::I64(i64::from(x)),
        (Value::I16(x), ValueKind::I32) => Value::I32(i32::from(x)),
        (v, _) => v,
    }
}

impl<'a, M: Model> ManyToMany<'a, M> {
    /// The manager of relation `rel` of `owner` (generated code calls this).
    pub fn new(owner: &'a M, rel: &'static M2MSchema) -> Self {
        ManyToMany { owner, rel }
    }

    fn src(&self) -> Result<Value, Error> {
        self.owner.pk_value().ok_or_else(|| {
            Error::Unsupported(format!(
                "this {} has no primary key yet: save it before using `{}`",
                M::SCHEMA.name,
                self.rel.name
            ))
        })
    }

    /// The keys of the related rows, as `i64` (see [`all_as`](Self::all_as) for others).
    pub async fn all<'e>(&self, exec: impl Executor<'e>) -> Result<Vec<i64>, Error> {
        self.all_as::<i64>(exec).await
    }

    /// The keys of the related rows, as `K`.
    pub async fn all_as<'e, K: FieldValue>(
        &self,
        exec: impl Executor<'e>,
    ) -> Result<Vec<K>, Error> {
        let target = exec.target();
        let mut s = Select::new(self.rel.through);
        s.items.push(SelectItem::Column(ColRef::new(self.rel.dst)));
        s.filter = Some(eq(self.rel.src, self.src()?));
        s.order_by.push(rustango_query::OrderBy {
            column: ColRef::new(self.rel.dst),
            desc: false,
        });
        let (sql, params) = s.render(target.dialect());
        let rows = exec::fetch_all(target, sql, params, &[K::KIND]).await?;
        rows.into_iter()
            .map(|r| {
                Ok(K::from_value(
                    r.into_iter()
                        .next()
                        .ok_or(rustango_core::Error::MissingColumn)?,
                )?)
            })
            .collect()
    }

    /// Links the row with key `k` (nothing happens when already linked).
    pub async fn add<'e, K: FieldValue>(&self, k: K, exec: impl Executor<'e>) -> Result<(), Error> {
        self.add_many(vec![self.dst_key(k)], exec).await
    }

    fn dst_key<K: FieldValue>(&self, k: K) -> Value {
        coerce(key(k), target_key_kind(self.rel))
    }

    async fn add_many<'e>(&self, keys: Vec<Value>, exec: impl Executor<'e>) -> Result<(), Error> {
        if keys.is_empty() {
            return Ok(());
        }
        let target = exec.target();
        let src = self.src()?;
        let ins = Insert {
            table: self.rel.through,
            columns: vec![self.rel.src, self.rel.dst],
            rows: keys.into_iter().map(|k| vec![src.clone(), k]).collect(),
            on_conflict: Some(OnConflict {
                target: vec![self.rel.src, self.rel.dst],
                update: Vec::new(),
            }),
            returning: Vec::new(),
        };
        let (sql, params) = ins.render(target.dialect());
        exec::execute(target, sql, params).await?;
        Ok(())
    }

    /// Unlinks the row with key `k`.
    pub async fn remove<'e, K: FieldValue>(
        &self,
        k: K,
        exec: impl Executor<'e>,
    ) -> Result<(), Error> {
        let target = exec.target();
        let d = Delete {
            table: self.rel.through,
            filter: Some(eq(self.rel.src, self.src()?).and(eq(self.rel.dst, self.dst_key(k)))),
        };
        let (sql, params) = d.render(target.dialect());
        exec::execute(target, sql, params).await?;
        Ok(())
    }

    /// Replaces the links with exactly `keys`, atomically.
    pub async fn set<'e, K: FieldValue + Clone>(
        &self,
        keys: &[K],
        exec: impl Executor<'e>,
    ) -> Result<(), Error> {
        let src = self.src()?;
        let values: Vec<Value> = keys.iter().cloned().map(|k| self.dst_key(k)).collect();
        let rel = self.rel;
        let this = *self;
        crate::transaction(exec, |mut tx| async move {
            let d = Delete {
                table: rel.through,
                filter: Some(eq(rel.src, src).and(Expr::In {
                    column: ColRef::new(rel.dst),
                    values: values.clone(),
                    negated: true,
                })),
            };
            let (sql, params) = d.render(tx.dialect);
            exec::execute(crate::pool::Target::Conn(&tx), sql, params).await?;
            this.add_many(values, &mut *tx).await
        })
        .await
    }

    /// Unlinks every row.
    pub async fn clear<'e>(&self, exec: impl Executor<'e>) -> Result<(), Error> {
        let target = exec.target();
        let d = Delete {
            table: self.rel.through,
            filter: Some(eq(self.rel.src, self.src()?)),
        };
        let (sql, params) = d.render(target.dialect());
        exec::execute(target, sql, params).await?;
        Ok(())
    }

    /// Whether the row with key `k` is linked.
    pub async fn contains<'e, K: FieldValue>(
        &self,
        k: K,
        exec: impl Executor<'e>,
    ) -> Result<bool, Error> {
        let target = exec.target();
        let mut s = Select::new(self.rel.through);
        s.items.push(SelectItem::Column(ColRef::new(self.rel.dst)));
        s.filter = Some(eq(self.rel.src, self.src()?).and(eq(self.rel.dst, self.dst_key(k))));
        s.limit = Some(1);
        let (sql, params) = s.render(target.dialect());
        let kind = target_key_kind(self.rel);
        Ok(!exec::fetch_all(target, sql, params, &[kind])
            .await?
            .is_empty())
    }

    /// How many rows are linked.
    pub async fn count<'e>(&self, exec: impl Executor<'e>) -> Result<i64, Error> {
        let target = exec.target();
        let mut s = Select::new(self.rel.through);
        s.items.push(SelectItem::CountAll { alias: None });
        s.filter = Some(eq(self.rel.src, self.src()?));
        let (sql, params) = s.render(target.dialect());
        let rows = exec::fetch_all(target, sql, params, &[ValueKind::I64]).await?;
        Ok(
            match rows.into_iter().next().and_then(|r| r.into_iter().next()) {
                Some(Value::I64(n)) => n,
                _ => 0,
            },
        )
    }
}
