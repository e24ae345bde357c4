//! Lazy query sets: Django's `Model.objects.filter(...).order_by(...)` as a value that
//! only touches the database when fetched.

use std::marker::PhantomData;

use futures_util::Stream;
use rustango_core::{
    ColRef, Column, Expr, FieldValue, Model, ModelSchema, Operand, RelatedTree, Summable, Value,
    ValueKind, ValueReader,
};
use rustango_query::{AggFunc, Join, OrderBy, Select, SelectItem, Update};

use crate::exec;
use crate::{Error, Executor};

/// The type `SUM` of column `C` returns.
pub type SumOf<C> = <<<C as Column>::Value as FieldValue>::Compare as Summable>::Sum;

/// Table aliases used when a query joins related tables.
const ALIASES: [&str; 16] = [
    "t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9", "t10", "t11", "t12", "t13", "t14",
    "t15",
];

/// A lazy query over the rows of `M` (`Post::objects()`).
///
/// Every method returns a new query set; nothing runs until `fetch`, `count`, `get`, …
/// is awaited with a pool or a transaction.
#[derive(Debug)]
pub struct QuerySet<M: Model> {
    pub(crate) filter: Option<Expr>,
    order: Vec<OrderBy>,
    limit: Option<u64>,
    offset: Option<u64>,
    distinct: bool,
    related: Vec<RelatedTree>,
    with_deleted: bool,
    only_deleted: bool,
    error: Option<Error>,
    _model: PhantomData<fn() -> M>,
}

impl<M: Model> Default for QuerySet<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: Model> Clone for QuerySet<M> {
    fn clone(&self) -> Self {
        QuerySet {
            filter: self.filter.clone(),
            order: self.order.clone(),
            limit: self.limit,
            offset: self.offset,
            distinct: self.distinct,
            related: self.related.clone(),
            with_deleted: self.with_deleted,
            only_deleted: self.only_deleted,
            error: self
                .error
                .as_ref()
                .map(|e| Error::Unsupported(e.to_string())),
            _model: PhantomData,
        }
    }
}

fn resolve_path(schema: &'static ModelSchema, path: &str) -> Result<RelatedTree, Error> {
    let mut parts = path.split("__");
    let first = parts.next().unwrap_or_default();
    let (field, target) = relation_of(schema, first)?;
    let mut tree = RelatedTree {
        field,
        schema: target,
        children: Vec::new(),
    };
    let rest: Vec<&str> = parts.collect();
    if !rest.is_empty() {
        tree.children.push(resolve_path(target, &rest.join("__"))?);
    }
    Ok(tree)
}

fn relation_of(
    schema: &'static ModelSchema,
    name: &str,
) -> Result<(&'static str, &'static ModelSchema), Error> {
    let f = schema
        .fields
        .iter()
        .find(|f| f.name == name || f.column == name)
        .filter(|f| f.relation.is_some())
        .ok_or_else(|| Error::UnknownField {
            model: schema.name,
            name: name.to_owned(),
        })?;
    let rel = f.relation.expect("filtered");
    Ok((f.name, (rel.to)()))
}

/// Django's `exclude`/`~Q` keep rows whose column is NULL: `NOT (rating > 3)` must be
/// true for a NULL rating, where SQL's three-valued logic makes it unknown. Inside each
/// negation, a lookup on a nullable column of the model is ANDed with `IS NOT NULL`.
fn null_safe_negations(e: Expr, schema: &ModelSchema) -> Expr {
    fn nullable(c: &ColRef, schema: &ModelSchema) -> bool {
        c.table.is_none() && schema.field_by_column(c.column).is_some_and(|f| f.nullable)
    }
    fn guard(e: Expr, schema: &ModelSchema) -> Expr {
        let mut cols: Vec<ColRef> = match e {
            Expr::And(items) => {
                return Expr::And(items.into_iter().map(|i| guard(i, schema)).collect());
            }
            Expr::Or(items) => {
                return Expr::Or(items.into_iter().map(|i| guard(i, schema)).collect());
            }
            Expr::Not(inner) => return Expr::Not(Box::new(null_safe_negations(*inner, schema))),
            Expr::Compare {
                left, ref right, ..
            } => match right {
                Operand::Column(c) => vec![left, *c],
                _ => vec![left],
            },
            Expr::In { column, .. } | Expr::Like { column, .. } | Expr::Range { column, .. } => {
                vec![column]
            }
            _ => Vec::new(),
        };
        cols.retain(|c| nullable(c, schema));
        if cols.is_empty() {
            return e;
        }
        let mut all = vec![e];
        all.extend(cols.into_iter().map(|c| Expr::IsNull {
            column: c,
            negated: true,
        }));
        Expr::And(all)
    }
    match e {
        Expr::Not(inner) => Expr::Not(Box::new(guard(*inner, schema))),
        Expr::And(items) => Expr::And(
            items
                .into_iter()
                .map(|i| null_safe_negations(i, schema))
                .collect(),
        ),
        Expr::Or(items) => Expr::Or(
            items
                .into_iter()
                .map(|i| null_safe_negations(i, schema))
                .collect(),
        ),
        other => other,
    }
}

fn merge(into: &mut Vec<RelatedTree>, tree: RelatedTree) {
    if let Some(existing) = into.iter_mut().find(|t| t.field == tree.field) {
        for c in tree.children {
            merge(&mut existing.children, c);
        }
    } else {
        into.push(tree);
    }
}

/// Adds the joins and selected columns of a relation tree, in the order the derive reads
/// them back.
fn add_related(
    select: &mut Select,
    kinds: &mut Vec<ValueKind>,
    parent_alias: &'static str,
    parent: &'static ModelSchema,
    tree: &[RelatedTree],
    next_alias: &mut usize,
) -> Result<(), Error> {
    for t in tree {
        let alias = *ALIASES
            .get(*next_alias)
            .ok_or_else(|| Error::Unsupported("select_related joins at most 15 tables".into()))?;
        *next_alias += 1;
        let fk = parent.field(t.field).expect("resolved");
        select.joins.push(Join {
            table: t.schema.table,
            alias,
            left: ColRef {
                table: Some(parent_alias),
                column: fk.column,
            },
            right: t.schema.pk_field().column,
        });
        for f in t.schema.fields {
            select.items.push(SelectItem::Column(ColRef {
                table: Some(alias),
                column: f.column,
            }));
            kinds.push(f.kind);
        }
        add_related(select, kinds, alias, t.schema, &t.children, next_alias)?;
    }
    Ok(())
}

impl<M: Model> QuerySet<M> {
    /// Every row of `M` (soft-deleted rows excluded).
    pub fn new() -> Self {
        QuerySet {
            filter: None,
            order: Vec::new(),
            limit: None,
            offset: None,
            distinct: false,
            related: Vec::new(),
            with_deleted: false,
            only_deleted: false,
            error: None,
            _model: PhantomData,
        }
    }

    /// Keeps the rows matching `condition` (ANDed with earlier filters).
    pub fn where_(mut self, condition: Expr) -> Self {
        self.filter = Some(match self.filter.take() {
            Some(f) => f.and(condition),
            None => condition,
        });
        self
    }

    /// Same as [`where_`](Self::where_), under Django's name.
    pub fn filter(self, condition: Expr) -> Self {
        self.where_(condition)
    }

    /// Drops the rows matching `condition`.
    pub fn exclude(self, condition: Expr) -> Self {
        self.where_(condition.not())
    }

    /// Adds an ordering key; `desc = true` sorts descending. Call again for more keys.
    pub fn order_by(mut self, column: impl Column, desc: bool) -> Self {
        self.order.push(OrderBy {
            column: column.col(),
            desc,
        });
        self
    }

    /// Orders by field names, Django style: `"-published_at"` is descending.
    pub fn order_by_names(mut self, names: &[&str]) -> Self {
        for n in names {
            let (desc, name) = match n.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, *n),
            };
            match M::SCHEMA
                .fields
                .iter()
                .find(|f| f.name == name || f.column == name)
            {
                Some(f) => self.order.push(OrderBy {
                    column: ColRef::new(f.column),
                    desc,
                }),
                None => {
                    self.error.get_or_insert(Error::UnknownField {
                        model: M::SCHEMA.name,
                        name: name.to_owned(),
                    });
                }
            }
        }
        self
    }

    /// At most `n` rows.
    pub fn limit(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }

    /// Skips the first `n` rows.
    pub fn offset(mut self, n: u64) -> Self {
        self.offset = Some(n);
        self
    }

    /// Page `number` (1-based; 0 counts as 1) of `size` rows.
    pub fn page(self, number: u64, size: u64) -> Self {
        let number = number.max(1);
        self.limit(size).offset((number - 1).saturating_mul(size))
    }

    /// `SELECT DISTINCT`.
    pub fn distinct(mut self) -> Self {
        self.distinct = true;
        self
    }

    /// Includes soft-deleted rows.
    pub fn with_deleted(mut self) -> Self {
        self.with_deleted = true;
        self
    }

    /// Only soft-deleted rows.
    pub fn only_deleted(mut self) -> Self {
        self.only_deleted = true;
        self
    }

    /// Loads the foreign key `path` (`"author"`, or `"author__country"` for several hops)
    /// with a join, so `post.author.loaded()` needs no query.
    pub fn select_related(mut self, path: &str) -> Self {
        match resolve_path(M::SCHEMA, path) {
            Ok(t) => merge(&mut self.related, t),
            Err(e) => {
                self.error.get_or_insert(e);
            }
        }
        self
    }

    /// Loads a reverse foreign key (`"posts"`) or a many-to-many relation (`"tags"`) for
    /// every row with one extra query per relation.
    pub fn prefetch_related(self, name: &'static str) -> crate::prefetch::PrefetchQuerySet<M> {
        crate::prefetch::PrefetchQuerySet::new(self, name)
    }

    fn take_error(&mut self) -> Result<(), Error> {
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// The effective filter, with the soft-delete rule applied.
    pub(crate) fn effective_filter(&self) -> Option<Expr> {
        let mut f = self
            .filter
            .clone()
            .map(|e| null_safe_negations(e, M::SCHEMA));
        if let Some(sd) = M::SCHEMA.soft_delete_field() {
            let extra = if self.only_deleted {
                Some(Expr::IsNull {
                    column: ColRef::new(sd.column),
                    negated: true,
                })
            } else if !self.with_deleted {
                Some(Expr::IsNull {
                    column: ColRef::new(sd.column),
                    negated: false,
                })
            } else {
                None
            };
            if let Some(e) = extra {
                f = Some(match f {
                    Some(f) => f.and(e),
                    None => e,
                });
            }
        }
        f
    }

    /// The SELECT for the rows and the kinds of its columns.
    pub(crate) fn build(&self) -> Result<(Select, Vec<ValueKind>), Error> {
        let schema = M::SCHEMA;
        let mut select = Select::new(schema.table);
        let mut kinds = Vec::with_capacity(schema.fields.len());
        let joined = !self.related.is_empty();
        let base = if joined { Some(ALIASES[0]) } else { None };
        select.alias = base;
        for f in schema.fields {
            select.items.push(SelectItem::Column(ColRef {
                table: base,
                column: f.column,
            }));
            kinds.push(f.kind);
        }
        if joined {
            let mut next = 1;
            add_related(
                &mut select,
                &mut kinds,
                ALIASES[0],
                schema,
                &self.related,
                &mut next,
            )?;
        }
        select.filter = self.effective_filter();
        select.order_by = self.order.clone();
        if let Some(alias) = base {
            if let Some(f) = select.filter.as_mut() {
                f.qualify(alias);
            }
            for o in &mut select.order_by {
                o.column.table.get_or_insert(alias);
            }
        }
        select.limit = self.limit;
        select.offset = self.offset;
        select.distinct = self.distinct;
        Ok((select, kinds))
    }

    /// The SQL and parameters this query set runs for `fetch` on `dialect` (Django's
    /// `str(qs.query)`), for logs and tests.
    pub fn to_sql(
        &self,
        dialect: &dyn rustango_query::Dialect,
    ) -> Result<(String, Vec<Value>), Error> {
        if let Some(e) = &self.error {
            return Err(Error::Unsupported(e.to_string()));
        }
        let (select, _) = self.build()?;
        Ok(select.render(dialect))
    }

    /// Runs the query and returns every row.
    pub async fn fetch<'e>(mut self, exec: impl Executor<'e>) -> Result<Vec<M>, Error> {
        self.take_error()?;
        let target = exec.target();
        let (select, kinds) = self.build()?;
        let (sql, params) = select.render(target.dialect());
        let related = &self.related;
        exec::fetch_map(target, sql, params, &kinds, self.limit, |r| {
            M::from_reader(r, related).map_err(Error::from)
        })
        .await
    }

    /// Streams the rows one by one with flat memory, for result sets too large to hold.
    pub fn fetch_stream<'e>(
        mut self,
        exec: impl Executor<'e>,
    ) -> impl Stream<Item = Result<M, Error>> + Send + 'static {
        use futures_util::StreamExt;
        let target = exec.target();
        let setup = self.take_error().and_then(|()| self.build());
        let related = std::mem::take(&mut self.related);
        let rx = match setup {
            Ok((select, kinds)) => {
                let (sql, params) = select.render(target.dialect());
                Ok(exec::stream(target, sql, params, kinds))
            }
            Err(e) => Err(e),
        };
        let inner = match rx {
            Ok(rx) => futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|item| (item, rx))
            })
            .left_stream(),
            Err(e) => futures_util::stream::once(async move { Err(e) }).right_stream(),
        };
        inner.map(move |item| {
            item.and_then(|r| {
                M::from_reader(&mut ValueReader::new(r), &related).map_err(Error::from)
            })
        })
    }

    /// The first row by the query's order (by primary key when unordered), if any.
    pub async fn first<'e>(mut self, exec: impl Executor<'e>) -> Result<Option<M>, Error> {
        if self.order.is_empty() {
            self.order.push(OrderBy {
                column: ColRef::new(M::SCHEMA.pk_field().column),
                desc: false,
            });
        }
        Ok(self.limit(1).fetch(exec).await?.into_iter().next())
    }

    /// Exactly one row: `DoesNotExist` when none matches, `MultipleObjectsReturned` when
    /// several do.
    pub async fn get<'e>(self, exec: impl Executor<'e>) -> Result<M, Error> {
        // A filter that pins a primary-key or unique value cannot match two rows, so the
        // second one need not be looked for.
        let n = if self.pins_unique_row() { 1 } else { 2 };
        let mut rows = self.limit(n).fetch(exec).await?;
        match rows.len() {
            0 => Err(Error::DoesNotExist {
                model: M::SCHEMA.name,
            }),
            1 => Ok(rows.pop().expect("one row")),
            _ => Err(Error::MultipleObjectsReturned {
                model: M::SCHEMA.name,
            }),
        }
    }

    /// Whether the filter requires `unique_column = value` (at the top level or in a
    /// top-level AND).
    fn pins_unique_row(&self) -> bool {
        fn pins(e: &Expr, schema: &ModelSchema) -> bool {
            match e {
                Expr::Compare {
                    left,
                    op: rustango_core::CmpOp::Eq,
                    right: rustango_core::Operand::Value(v),
                } if left.table.is_none() && !v.is_null() => {
                    // Only a unique column on its own: a unique index over several
                    // columns does not pin a row with one of them.
                    schema
                        .field_by_column(left.column)
                        .is_some_and(|f| f.primary_key || f.unique)
                }
                Expr::And(items) => items.iter().any(|i| pins(i, schema)),
                _ => false,
            }
        }
        self.offset.is_none() && self.filter.as_ref().is_some_and(|f| pins(f, M::SCHEMA))
    }

    fn plain_select(&self) -> Select {
        let mut s = Select::new(M::SCHEMA.table);
        s.filter = self.effective_filter();
        s
    }

    /// The number of matching rows (respecting `limit`/`offset`).
    pub async fn count<'e>(mut self, exec: impl Executor<'e>) -> Result<i64, Error> {
        self.take_error()?;
        let target = exec.target();
        let mut s = self.plain_select();
        s.items.push(SelectItem::CountAll { alias: None });
        let (sql, params) = s.render(target.dialect());
        let rows = exec::fetch_all(target, sql, params, &[ValueKind::I64]).await?;
        let total = match rows.into_iter().next().and_then(|r| r.into_iter().next()) {
            Some(Value::I64(n)) => n,
            _ => 0,
        };
        let offset = i64::try_from(self.offset.unwrap_or(0)).unwrap_or(i64::MAX);
        let after_offset = total.saturating_sub(offset).max(0);
        Ok(match self.limit {
            Some(l) => after_offset.min(i64::try_from(l).unwrap_or(i64::MAX)),
            None => after_offset,
        })
    }

    /// Whether any row matches.
    pub async fn exists<'e>(mut self, exec: impl Executor<'e>) -> Result<bool, Error> {
        self.take_error()?;
        let target = exec.target();
        let pk = M::SCHEMA.pk_field();
        let mut s = self.plain_select();
        s.items.push(SelectItem::Column(ColRef::new(pk.column)));
        s.limit = Some(1);
        s.offset = self.offset;
        let (sql, params) = s.render(target.dialect());
        Ok(!exec::fetch_all(target, sql, params, &[pk.kind])
            .await?
            .is_empty())
    }

    async fn aggregate_one<'e>(
        mut self,
        func: AggFunc,
        column: ColRef,
        kind: ValueKind,
        exec: impl Executor<'e>,
    ) -> Result<Value, Error> {
        self.take_error()?;
        let target = exec.target();
        let mut s = self.plain_select();
        s.items.push(SelectItem::Aggregate {
            func,
            column,
            distinct: false,
            cast: Some(kind),
            alias: None,
        });
        let (sql, params) = s.render(target.dialect());
        let rows = exec::fetch_all(target, sql, params, &[kind]).await?;
        Ok(rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .unwrap_or(Value::Null(kind)))
    }

    /// The sum of a numeric column (`None` when no row matches). Integer sums are `i64`,
    /// float sums `f64`, decimal sums decimals.
    pub async fn sum<'e, C: Column>(
        self,
        column: C,
        exec: impl Executor<'e>,
    ) -> Result<Option<SumOf<C>>, Error>
    where
        <C::Value as FieldValue>::Compare: Summable,
    {
        let kind = <SumOf<C> as FieldValue>::KIND;
        let v = self
            .aggregate_one(AggFunc::Sum, column.col(), kind, exec)
            .await?;
        Ok(Option::<SumOf<C>>::from_value(v)?)
    }

    /// The average of a numeric column as `f64` (`None` when no row matches).
    pub async fn avg<'e, C: Column>(
        self,
        column: C,
        exec: impl Executor<'e>,
    ) -> Result<Option<f64>, Error> {
        let v = self
            .aggregate_one(AggFunc::Avg, column.col(), ValueKind::F64, exec)
            .await?;
        Ok(Option::<f64>::from_value(v)?)
    }

    /// The smallest value of a column (`None` when no row matches).
    pub async fn min<'e, C: Column>(
        self,
        column: C,
        exec: impl Executor<'e>,
    ) -> Result<Option<<C::Value as FieldValue>::Compare>, Error> {
        let kind = <C::Value as FieldValue>::KIND;
        let v = self
            .aggregate_one(AggFunc::Min, column.col(), kind, exec)
            .await?;
        Ok(Option::<<C::Value as FieldValue>::Compare>::from_value(v)?)
    }

    /// The largest value of a column (`None` when no row matches).
    pub async fn max<'e, C: Column>(
        self,
        column: C,
        exec: impl Executor<'e>,
    ) -> Result<Option<<C::Value as FieldValue>::Compare>, Error> {
        let kind = <C::Value as FieldValue>::KIND;
        let v = self
            .aggregate_one(AggFunc::Max, column.col(), kind, exec)
            .await?;
        Ok(Option::<<C::Value as FieldValue>::Compare>::from_value(v)?)
    }

    /// Groups rows by columns, for [`GroupedQuery::annotate`] (Django's
    /// `values(...).annotate(...)`).
    pub fn group_by<C: Column>(self, columns: &[C]) -> GroupedQuery<M> {
        GroupedQuery {
            qs: self,
            keys: columns.iter().map(|c| c.col()).collect(),
            aggs: Vec::new(),
            order: Vec::new(),
        }
    }

    /// Chosen columns (field or column names) as JSON objects, like Django's `values()`.
    pub async fn values<'e>(
        mut self,
        names: &[&str],
        exec: impl Executor<'e>,
    ) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, Error> {
        let fields = self.pick(names)?;
        let rows = self.values_rows(&fields, exec).await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                fields
                    .iter()
                    .zip(row)
                    .map(|(f, v)| (f.name.to_owned(), v.to_json()))
                    .collect()
            })
            .collect())
    }

    /// Chosen columns as rows of values, like Django's `values_list()`.
    pub async fn values_list<'e>(
        mut self,
        names: &[&str],
        exec: impl Executor<'e>,
    ) -> Result<Vec<Vec<Value>>, Error> {
        let fields = self.pick(names)?;
        self.values_rows(&fields, exec).await
    }

    /// One typed column, like Django's `values_list(..., flat=True)`.
    pub async fn values_flat<'e, C: Column>(
        self,
        column: C,
        exec: impl Executor<'e>,
    ) -> Result<Vec<<C::Value as FieldValue>::Compare>, Error>
    where
        <C::Value as FieldValue>::Compare: FieldValue,
    {
        let name = column.name();
        let rows = self.values_list(&[name], exec).await?;
        rows.into_iter()
            .map(|r| {
                let v = r
                    .into_iter()
                    .next()
                    .ok_or(rustango_core::Error::MissingColumn)?;
                if v.is_null() && <C::Value as FieldValue>::NULLABLE {
                    return Err(Error::InvalidValue {
                        field: name.to_owned(),
                        reason: "NULL in a flat values list: filter it out with is_not_null()"
                            .into(),
                    });
                }
                Ok(<<C::Value as FieldValue>::Compare as FieldValue>::from_value(v)?)
            })
            .collect()
    }

    fn pick(&mut self, names: &[&str]) -> Result<Vec<&'static rustango_core::FieldSchema>, Error> {
        self.take_error()?;
        names
            .iter()
            .map(|n| {
                M::SCHEMA
                    .fields
                    .iter()
                    .find(|f| f.name == *n || f.column == *n)
                    .ok_or_else(|| Error::UnknownField {
                        model: M::SCHEMA.name,
                        name: (*n).to_owned(),
                    })
            })
            .collect()
    }

    async fn values_rows<'e>(
        &self,
        fields: &[&'static rustango_core::FieldSchema],
        exec: impl Executor<'e>,
    ) -> Result<Vec<Vec<Value>>, Error> {
        let target = exec.target();
        let mut s = self.plain_select();
        for f in fields {
            s.items.push(SelectItem::Column(ColRef::new(f.column)));
        }
        s.order_by = self.order.clone();
        s.limit = self.limit;
        s.offset = self.offset;
        s.distinct = self.distinct;
        let kinds: Vec<ValueKind> = fields.iter().map(|f| f.kind).collect();
        let (sql, params) = s.render(target.dialect());
        exec::fetch_all(target, sql, params, &kinds).await
    }

    /// Starts a bulk `UPDATE` of the matching rows.
    pub fn update(self) -> UpdateQuery<M> {
        UpdateQuery {
            qs: self,
            sets: Vec::new(),
        }
    }

    /// Deletes the matching rows (a real `DELETE`); returns how many. No signals fire,
    /// as with Django's `QuerySet.delete()` for bulk deletes.
    pub async fn delete<'e>(mut self, exec: impl Executor<'e>) -> Result<u64, Error> {
        self.take_error()?;
        let target = exec.target();
        let d = rustango_query::Delete {
            table: M::SCHEMA.table,
            filter: self.effective_filter(),
        };
        let (sql, params) = d.render(target.dialect());
        exec::execute(target, sql, params).await
    }

    /// Stamps the soft-delete column of the matching rows; returns how many.
    pub async fn soft_delete<'e>(mut self, exec: impl Executor<'e>) -> Result<u64, Error> {
        self.take_error()?;
        let sd = M::SCHEMA.soft_delete_field().ok_or_else(|| {
            Error::Unsupported(format!("{} has no soft_delete field", M::SCHEMA.name))
        })?;
        let target = exec.target();
        let u = Update {
            table: M::SCHEMA.table,
            sets: vec![(sd.column, Value::DateTime(crate::mutate::now()))],
            filter: self.effective_filter(),
            returning: Vec::new(),
        };
        let (sql, params) = u.render(target.dialect());
        exec::execute(target, sql, params).await
    }
}

/// A bulk `UPDATE` built with [`QuerySet::update`].
#[derive(Debug)]
pub struct UpdateQuery<M: Model> {
    qs: QuerySet<M>,
    sets: Vec<(&'static str, Value)>,
}

impl<M: Model> UpdateQuery<M> {
    /// Sets `column` to `value` on every matching row.
    pub fn set<C: Column<Model = M>>(mut self, column: C, value: impl Into<C::Value>) -> Self {
        let v: C::Value = value.into();
        let value = v
            .to_value()
            .unwrap_or(Value::Null(<C::Value as FieldValue>::KIND));
        self.sets.push((column.name(), value));
        self
    }

    /// Runs the update; returns the number of rows changed.
    pub async fn execute_on<'e>(mut self, exec: impl Executor<'e>) -> Result<u64, Error> {
        self.qs.take_error()?;
        if self.sets.is_empty() {
            return Ok(0);
        }
        let mut sets = Vec::with_capacity(self.sets.len());
        for (col, v) in self.sets {
            let v = match M::SCHEMA.field_by_column(col) {
                Some(f) => crate::mutate::normalize_value(f, v)?,
                None => v,
            };
            sets.push((col, v));
        }
        let target = exec.target();
        let u = Update {
            table: M::SCHEMA.table,
            sets,
            filter: self.qs.effective_filter(),
            returning: Vec::new(),
        };
        let (sql, params) = u.render(target.dialect());
        exec::execute(target, sql, params).await
    }
}

/// One aggregate of a grouped query, with the name it gets in each result row.
#[derive(Debug, Clone)]
pub struct Agg {
    func: AggFunc,
    column: Option<ColRef>,
    kind: ValueKind,
    alias: &'static str,
}

impl Agg {
    /// `COUNT(*) AS alias`.
    pub fn count(alias: &'static str) -> Agg {
        Agg {
            func: AggFunc::Count,
            column: None,
            kind: ValueKind::I64,
            alias,
        }
    }
    /// `SUM(column) AS alias` (`i64` for integer columns, `f64` for floats).
    pub fn sum<C: Column>(column: C, alias: &'static str) -> Agg
    where
        <C::Value as FieldValue>::Compare: Summable,
    {
        Agg {
            func: AggFunc::Sum,
            column: Some(column.col()),
            kind: <SumOf<C> as FieldValue>::KIND,
            alias,
        }
    }
    /// `AVG(column) AS alias`, as a float.
    pub fn avg<C: Column>(column: C, alias: &'static str) -> Agg {
        Agg {
            func: AggFunc::Avg,
            column: Some(column.col()),
            kind: ValueKind::F64,
            alias,
        }
    }
    /// `MIN(column) AS alias`.
    pub fn min<C: Column>(column: C, alias: &'static str) -> Agg {
        Agg {
            func: AggFunc::Min,
            column: Some(column.col()),
            kind: <C::Value as FieldValue>::KIND,
            alias,
        }
    }
    /// `MAX(column) AS alias`.
    pub fn max<C: Column>(column: C, alias: &'static str) -> Agg {
        Agg {
            func: AggFunc::Max,
            column: Some(column.col()),
            kind: <C::Value as FieldValue>::KIND,
            alias,
        }
    }
}

/// A query grouped by columns with aggregates per group.
#[derive(Debug)]
pub struct GroupedQuery<M: Model> {
    qs: QuerySet<M>,
    keys: Vec<ColRef>,
    aggs: Vec<Agg>,
    order: Vec<OrderBy>,
}

impl<M: Model> GroupedQuery<M> {
    /// Adds an aggregate per group.
    pub fn annotate(mut self, agg: Agg) -> Self {
        self.aggs.push(agg);
        self
    }

    /// Orders groups by a grouping column.
    pub fn order_by(mut self, column: impl Column, desc: bool) -> Self {
        self.order.push(OrderBy {
            column: column.col(),
            desc,
        });
        self
    }

    /// Runs the query: each row is a JSON object of the group keys (by field name) and
    /// the aggregates (by alias).
    pub async fn fetch_json<'e>(
        mut self,
        exec: impl Executor<'e>,
    ) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, Error> {
        self.qs.take_error()?;
        let target = exec.target();
        let mut s = self.qs.plain_select();
        let mut kinds = Vec::new();
        let mut names = Vec::new();
        for k in &self.keys {
            let f = M::SCHEMA
                .field_by_column(k.column)
                .ok_or_else(|| Error::UnknownField {
                    model: M::SCHEMA.name,
                    name: k.column.to_owned(),
                })?;
            s.items.push(SelectItem::Column(*k));
            kinds.push(f.kind);
            names.push(f.name);
        }
        for a in &self.aggs {
            s.items.push(match a.column {
                None => SelectItem::CountAll {
                    alias: Some(a.alias),
                },
                Some(c) => SelectItem::Aggregate {
                    func: a.func,
                    column: c,
                    distinct: false,
                    cast: Some(a.kind),
                    alias: Some(a.alias),
                },
            });
            kinds.push(a.kind);
            names.push(a.alias);
        }
        s.group_by = self.keys.clone();
        s.order_by = if self.order.is_empty() {
            self.keys
                .iter()
                .map(|c| OrderBy {
                    column: *c,
                    desc: false,
                })
                .collect()
        } else {
            self.order
        };
        let (sql, params) = s.render(target.dialect());
        let rows = exec::fetch_all(target, sql, params, &kinds).await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                names
                    .iter()
                    .zip(r)
                    .map(|(n, v)| ((*n).to_owned(), v.to_json()))
                    .collect()
            })
            .collect())
    }

    /// Runs the query and deserializes each row into `R` (a struct whose fields are the
    /// group keys and aggregate aliases).
    pub async fn fetch_as<'e, R: serde::de::DeserializeOwned>(
        self,
        exec: impl Executor<'e>,
    ) -> Result<Vec<R>, Error> {
        self.fetch_json(exec)
            .await?
            .into_iter()
            .map(|m| {
                serde_json::from_value(serde_json::Value::Object(m)).map_err(|e| {
                    Error::InvalidValue {
                        field: "annotate".into(),
                        reason: e.to_string(),
                    }
                })
            })
            .collect()
    }
}

/// Something that fetches rows of `M`: implemented by [`QuerySet`], so generic code can
/// take "any query" (`rustango::sql::Fetcher`).
pub trait Fetcher<M: Model>: Sized {
    /// Runs the query and returns every row.
    fn fetch_all<'e>(
        self,
        exec: impl Executor<'e>,
    ) -> impl std::future::Future<Output = Result<Vec<M>, Error>> + Send;
}

impl<M: Model> Fetcher<M> for QuerySet<M> {
    fn fetch_all<'e>(
        self,
        exec: impl Executor<'e>,
    ) -> impl std::future::Future<Output = Result<Vec<M>, Error>> + Send {
        self.fetch(exec)
    }
}
