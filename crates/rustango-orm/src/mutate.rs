//! Saving, bulk inserts, upserts and deletes of model instances.

use chrono::{DateTime, SubsecRound, Utc};
use rustango_core::{CmpOp, ColRef, Expr, FieldSchema, Model, Operand, Value, ValueKind};
use rustango_query::{Delete, Insert, OnConflict, Update};

use crate::exec;
use crate::pool::Target;
use crate::signals::{self, DeleteContext, PostSaveContext, PreSaveContext};
use crate::{Error, Executor};

/// The current time at the precision every backend stores (microseconds).
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Brings a value to what every backend stores, so that they all keep the same thing:
/// timestamps and times to microseconds (PostgreSQL's precision), decimals rounded to the
/// field's `decimal_places` (half away from zero, as PostgreSQL does) and refused when
/// they have more digits than `max_digits` allows. Then checks it ([`validate_value`]).
pub(crate) fn normalize_value(f: &FieldSchema, v: Value) -> Result<Value, Error> {
    use chrono::SubsecRound;
    let v = match v {
        Value::DateTime(t) => Value::DateTime(t.trunc_subsecs(6)),
        Value::Time(t) => Value::Time(t.trunc_subsecs(6)),
        Value::Decimal(d) => {
            let d = match f.decimal_places {
                Some(dp) => d.round_dp_with_strategy(
                    u32::from(dp),
                    rust_decimal::RoundingStrategy::MidpointAwayFromZero,
                ),
                None => d,
            };
            if let Some(p) = f.max_digits {
                let int_digits = d.trunc().abs().to_string().trim_start_matches('0').len();
                let allowed = usize::from(p) - usize::from(f.decimal_places.unwrap_or(0).min(p));
                if int_digits > allowed {
                    return Err(Error::InvalidValue {
                        field: f.name.to_owned(),
                        reason: format!(
                            "{d} has more than {allowed} digits before the point (max_digits {p})"
                        ),
                    });
                }
            }
            Value::Decimal(d)
        }
        v => v,
    };
    validate_value(f, &v)?;
    Ok(v)
}

/// Checks a value against its field before it is sent: text length, NaN.
pub(crate) fn validate_value(f: &FieldSchema, v: &Value) -> Result<(), Error> {
    match v {
        Value::String(s) => {
            if let Some(max) = f.max_length
                && s.chars().count() > max as usize
            {
                return Err(Error::InvalidValue {
                    field: f.name.to_owned(),
                    reason: format!(
                        "{} characters is more than max_length {max}",
                        s.chars().count()
                    ),
                });
            }
            // NUL characters are refused for every bound value by the executor.
        }
        Value::F64(x) if !x.is_finite() => {
            return Err(Error::InvalidValue {
                field: f.name.to_owned(),
                reason: format!("{x} is not a storable number"),
            });
        }
        Value::F32(x) if !x.is_finite() => {
            return Err(Error::InvalidValue {
                field: f.name.to_owned(),
                reason: format!("{x} is not a storable number"),
            });
        }
        _ => {}
    }
    Ok(())
}

fn pk_filter<M: Model>(pk: Value) -> Expr {
    Expr::Compare {
        left: ColRef::new(M::SCHEMA.pk_field().column),
        op: CmpOp::Eq,
        right: Operand::Value(pk),
    }
}

/// Fills `auto_now*`/`auto_uuid` fields that the ORM assigns on insert.
fn fill_insert_values<M: Model>(m: &mut M, now: DateTime<Utc>) -> Result<(), Error> {
    for (i, f) in M::SCHEMA.fields.iter().enumerate() {
        if !f.filled_on_insert() {
            continue;
        }
        let unset = m.value_at(i).is_none();
        if f.auto_now || (f.auto_now_add && unset) {
            m.set_value_at(i, Value::DateTime(now))?;
        } else if f.auto_uuid && unset {
            m.set_value_at(i, Value::Uuid(uuid::Uuid::new_v4()))?;
        }
    }
    Ok(())
}

/// The columns and values to insert, skipping unset `Auto` fields (the server assigns
/// them), after validating each value.
fn insert_row<M: Model>(m: &M) -> Result<(Vec<&'static str>, Vec<Value>), Error> {
    let mut cols = Vec::with_capacity(M::SCHEMA.fields.len());
    let mut vals = Vec::with_capacity(M::SCHEMA.fields.len());
    for (i, f) in M::SCHEMA.fields.iter().enumerate() {
        if let Some(v) = m.value_at(i) {
            cols.push(f.column);
            vals.push(normalize_value(f, v)?);
        }
    }
    Ok((cols, vals))
}

/// The values of the fields at `idx` (the first row's insertable fields), refusing a row
/// that sets a different set of `Auto` fields.
fn row_values<M: Model>(m: &M, idx: &[usize]) -> Result<Vec<Value>, Error> {
    let mixed = || {
        Error::Unsupported(
            "bulk_insert_on needs every row to set the same fields (mixing set and unset Auto keys)"
                .into(),
        )
    };
    let mut vals = Vec::with_capacity(idx.len());
    for &i in idx {
        let v = m.value_at(i).ok_or_else(mixed)?;
        vals.push(normalize_value(&M::SCHEMA.fields[i], v)?);
    }
    let auto_set = M::SCHEMA
        .fields
        .iter()
        .enumerate()
        .filter(|(i, f)| f.auto && !idx.contains(i))
        .any(|(i, _)| m.value_at(i).is_some());
    if auto_set {
        return Err(mixed());
    }
    Ok(vals)
}

fn returning_cols<M: Model>(m: &M) -> Vec<&'static str> {
    M::SCHEMA
        .fields
        .iter()
        .enumerate()
        .filter(|(i, f)| f.auto && m.value_at(*i).is_none())
        .map(|(_, f)| f.column)
        .collect()
}

async fn insert_one<M: Model>(m: &mut M, target: Target<'_>) -> Result<(), Error> {
    let (columns, values) = insert_row(m)?;
    let returning = returning_cols(m);
    write_back(m, target, columns, values, returning, None).await
}

async fn write_back<M: Model>(
    m: &mut M,
    target: Target<'_>,
    columns: Vec<&'static str>,
    values: Vec<Value>,
    returning: Vec<&'static str>,
    on_conflict: Option<OnConflict>,
) -> Result<(), Error> {
    let dialect = target.dialect();
    let kinds: Vec<ValueKind> = returning
        .iter()
        .map(|c| {
            M::SCHEMA
                .field_by_column(c)
                .map_or(ValueKind::I64, |f| f.kind)
        })
        .collect();
    let ins = Insert {
        table: M::SCHEMA.table,
        columns,
        rows: vec![values],
        on_conflict,
        returning: returning.clone(),
    };
    let (sql, params) = ins.render(dialect);
    if returning.is_empty() {
        exec::execute(target, sql, params).await?;
        return Ok(());
    }
    let rows = exec::fetch_all(target, sql, params, &kinds).await?;
    if let Some(row) = rows.into_iter().next() {
        for (col, v) in returning.iter().zip(row) {
            let idx = M::SCHEMA
                .fields
                .iter()
                .position(|f| f.column == *col)
                .expect("returned column is a field");
            m.set_value_at(idx, v)?;
        }
    }
    Ok(())
}

/// `save_on`: INSERT when the primary key is unset, UPDATE otherwise (falling back to
/// INSERT when no row has that key, as Django does); fires the save signals.
pub async fn save<'e, M: Model>(m: &mut M, exec: impl Executor<'e>) -> Result<(), Error> {
    let target = exec.target();
    let now = now();
    let pk = m.pk_value();
    signals::send_pre_save_dyn(
        m,
        PreSaveContext {
            created: pk.is_none(),
        },
    )
    .await;
    let created = match pk {
        None => {
            fill_insert_values(m, now)?;
            insert_one(m, target).await?;
            true
        }
        Some(pk) => {
            let mut sets = Vec::with_capacity(M::SCHEMA.fields.len());
            for (i, f) in M::SCHEMA.fields.iter().enumerate() {
                if i == M::SCHEMA.pk {
                    continue;
                }
                if f.auto_now {
                    m.set_value_at(i, Value::DateTime(now))?;
                }
                if f.auto_now_add && m.value_at(i).is_none() {
                    // Never overwrite the creation time; an unset one stays as stored.
                    continue;
                }
                if let Some(v) = m.value_at(i) {
                    sets.push((f.column, normalize_value(f, v)?));
                }
            }
            let affected = if sets.is_empty() {
                // Nothing to update: the row counts as saved only if it exists.
                let exists = crate::QuerySet::<M>::new()
                    .with_deleted()
                    .filter(pk_filter::<M>(pk.clone()))
                    .exists(target)
                    .await?;
                u64::from(exists)
            } else {
                let u = Update {
                    table: M::SCHEMA.table,
                    sets,
                    filter: Some(pk_filter::<M>(pk)),
                    returning: Vec::new(),
                };
                let (sql, params) = u.render(target.dialect());
                exec::execute(target, sql, params).await?
            };
            if affected == 0 {
                fill_insert_values(m, now)?;
                insert_one(m, target).await?;
                true
            } else {
                false
            }
        }
    };
    signals::send_post_save_dyn(m, PostSaveContext { created }).await;
    Ok(())
}

/// `bulk_insert_on`: inserts every row with as few statements as the backend's parameter
/// limit allows, and returns the rows with their new keys. No signals fire (as Django's
/// `bulk_create`).
pub async fn bulk_insert<'e, M: Model>(
    exec: impl Executor<'e>,
    mut rows: Vec<M>,
) -> Result<Vec<M>, Error> {
    let target = exec.target();
    if rows.is_empty() {
        return Ok(rows);
    }
    let now = now();
    for r in rows.iter_mut() {
        fill_insert_values(r, now)?;
    }
    let (columns, _) = insert_row(&rows[0])?;
    if columns.is_empty() {
        // Nothing but server defaults: one `DEFAULT VALUES` insert per row.
        for r in rows.iter_mut() {
            insert_one(r, target).await?;
        }
        return Ok(rows);
    }
    let returning = returning_cols(&rows[0]);
    let kinds: Vec<ValueKind> = returning
        .iter()
        .map(|c| {
            M::SCHEMA
                .field_by_column(c)
                .map_or(ValueKind::I64, |f| f.kind)
        })
        .collect();
    let field_idx: Vec<usize> = columns
        .iter()
        .filter_map(|c| M::SCHEMA.fields.iter().position(|f| f.column == *c))
        .collect();
    let returning_idx: Vec<usize> = returning
        .iter()
        .filter_map(|c| M::SCHEMA.fields.iter().position(|f| f.column == *c))
        .collect();
    let per_stmt = (30_000 / columns.len().max(1)).max(1);
    let mut start = 0;
    while start < rows.len() {
        let end = (start + per_stmt).min(rows.len());
        let mut values = Vec::with_capacity(end - start);
        for r in &rows[start..end] {
            values.push(row_values(r, &field_idx)?);
        }
        let ins = Insert {
            table: M::SCHEMA.table,
            columns: columns.clone(),
            rows: values,
            on_conflict: None,
            returning: returning.clone(),
        };
        let (sql, params) = ins.render(target.dialect());
        if returning.is_empty() {
            exec::execute(target, sql, params).await?;
        } else {
            // Returned keys go straight into the rows, in insertion order.
            let mut targets = rows[start..end].iter_mut();
            exec::fetch_map(target, sql, params, &kinds, None, |reader| {
                if let Some(r) = targets.next() {
                    for &idx in &returning_idx {
                        r.set_value_at(idx, reader.next()?)?;
                    }
                }
                Ok(())
            })
            .await?;
        }
        start = end;
    }
    Ok(rows)
}

/// `upsert_on`: INSERT, or UPDATE the row that conflicts on `conflict` (field or column
/// names of a unique constraint); the stored row's key is written back.
pub async fn upsert<'e, M: Model>(
    m: &mut M,
    exec: impl Executor<'e>,
    conflict: &[&str],
) -> Result<(), Error> {
    let target = exec.target();
    if conflict.is_empty() {
        return Err(Error::Unsupported(
            "upsert_on needs at least one conflict column".into(),
        ));
    }
    let mut target_cols = Vec::with_capacity(conflict.len());
    for name in conflict {
        let f = M::SCHEMA
            .fields
            .iter()
            .find(|f| f.name == *name || f.column == *name)
            .ok_or_else(|| Error::UnknownField {
                model: M::SCHEMA.name,
                name: (*name).to_owned(),
            })?;
        target_cols.push(f.column);
    }
    fill_insert_values(m, now())?;
    let (columns, values) = insert_row(m)?;
    let pk_col = M::SCHEMA.pk_field().column;
    let update: Vec<&'static str> = columns
        .iter()
        .copied()
        .filter(|c| !target_cols.contains(c) && *c != pk_col)
        // The stored row keeps its creation time and its generated UUID.
        .filter(|c| {
            M::SCHEMA
                .field_by_column(c)
                .is_none_or(|f| !f.auto_now_add && !f.auto_uuid)
        })
        .collect();
    let update = if update.is_empty() {
        // Nothing else to change: a no-op update still returns the stored row.
        vec![target_cols[0]]
    } else {
        update
    };
    let mut returning = vec![pk_col];
    returning.extend(
        M::SCHEMA
            .fields
            .iter()
            .filter(|f| (f.auto_now_add || f.auto_uuid) && f.column != pk_col)
            .map(|f| f.column),
    );
    write_back(
        m,
        target,
        columns,
        values,
        returning,
        Some(OnConflict {
            target: target_cols,
            update,
        }),
    )
    .await
}

fn require_pk<M: Model>(m: &M) -> Result<Value, Error> {
    m.pk_value().ok_or_else(|| {
        Error::Unsupported(format!(
            "this {} has no primary key yet: save it first",
            M::SCHEMA.name
        ))
    })
}

/// `delete_on`: deletes the row (a real `DELETE`) and fires the delete signals.
pub async fn delete<'e, M: Model>(m: &M, exec: impl Executor<'e>) -> Result<(), Error> {
    let target = exec.target();
    let pk = require_pk(m)?;
    signals::send_pre_delete_dyn(m, DeleteContext { soft: false }).await;
    let d = Delete {
        table: M::SCHEMA.table,
        filter: Some(pk_filter::<M>(pk)),
    };
    let (sql, params) = d.render(target.dialect());
    exec::execute(target, sql, params).await?;
    signals::send_post_delete_dyn(m, DeleteContext { soft: false }).await;
    Ok(())
}

async fn stamp<'e, M: Model>(
    m: &mut M,
    exec: impl Executor<'e>,
    value: Value,
) -> Result<(), Error> {
    let target = exec.target();
    let pk = require_pk(m)?;
    let idx = M::SCHEMA
        .fields
        .iter()
        .position(|f| f.soft_delete)
        .ok_or_else(|| {
            Error::Unsupported(format!("{} has no soft_delete field", M::SCHEMA.name))
        })?;
    let u = Update {
        table: M::SCHEMA.table,
        sets: vec![(M::SCHEMA.fields[idx].column, value.clone())],
        filter: Some(pk_filter::<M>(pk)),
        returning: Vec::new(),
    };
    let (sql, params) = u.render(target.dialect());
    exec::execute(target, sql, params).await?;
    m.set_value_at(idx, value)?;
    Ok(())
}

/// `soft_delete_on`: stamps the soft-delete field with the current time; fires the
/// delete signals with `soft: true`.
pub async fn soft_delete<'e, M: Model>(m: &mut M, exec: impl Executor<'e>) -> Result<(), Error> {
    if M::SCHEMA.soft_delete_field().is_none() {
        return Err(Error::Unsupported(format!(
            "{} has no soft_delete field",
            M::SCHEMA.name
        )));
    }
    require_pk(m)?;
    signals::send_pre_delete_dyn(m, DeleteContext { soft: true }).await;
    stamp(m, exec, Value::DateTime(now())).await?;
    signals::send_post_delete_dyn(m, DeleteContext { soft: true }).await;
    Ok(())
}

/// `restore_on`: clears the soft-delete field.
pub async fn restore<'e, M: Model>(m: &mut M, exec: impl Executor<'e>) -> Result<(), Error> {
    stamp(m, exec, Value::Null(ValueKind::DateTime)).await
}
