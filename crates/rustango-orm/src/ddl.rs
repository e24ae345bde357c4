//! Creating and dropping the tables of models (for tests, examples and the first
//! migration; the migration engine builds on `rustango_query::ddl`).

use rustango_core::ModelSchema;
use rustango_query::ddl;

use crate::exec;
use crate::{Error, Executor};

/// The statements that create `schemas`: tables and indexes, then foreign keys (so the
/// order of `schemas` does not matter), then many-to-many junction tables whose target
/// is in `schemas` or registered.
pub fn create_statements(
    dialect: &dyn rustango_query::Dialect,
    schemas: &[&'static ModelSchema],
) -> Vec<String> {
    let mut out = Vec::new();
    for s in schemas {
        out.push(ddl::create_table(dialect, s));
        out.extend(ddl::create_indexes(dialect, s));
    }
    for s in schemas {
        out.extend(ddl::foreign_keys(dialect, s));
    }
    for s in schemas {
        for m in s.m2m {
            let target = schemas
                .iter()
                .copied()
                .find(|t| t.table == m.to)
                .or_else(|| rustango_core::registry::by_table(m.to).map(|e| e.schema));
            if let Some(t) = target {
                out.push(ddl::create_junction(dialect, s, m, t));
            }
        }
    }
    out
}

/// Creates the tables of `schemas` (see [`create_statements`]).
///
/// Fails with [`Error::Unsupported`] when a many-to-many target is neither among
/// `schemas` nor a registered model.
pub async fn create_tables<'e>(
    exec: impl Executor<'e>,
    schemas: &[&'static ModelSchema],
) -> Result<(), Error> {
    let target = exec.target();
    for s in schemas {
        for m in s.m2m {
            let known = schemas.iter().any(|t| t.table == m.to)
                || rustango_core::registry::by_table(m.to).is_some();
            if !known {
                return Err(Error::Unsupported(format!(
                    "m2m `{}` of {} points at table `{}`, which is no known model",
                    m.name, s.name, m.to
                )));
            }
        }
    }
    for sql in create_statements(target.dialect(), schemas) {
        exec::execute_raw(target, &sql).await?;
    }
    Ok(())
}

/// Drops the tables of `schemas` and their junction tables, if they exist.
pub async fn drop_tables<'e>(
    exec: impl Executor<'e>,
    schemas: &[&'static ModelSchema],
) -> Result<(), Error> {
    let target = exec.target();
    for s in schemas {
        for m in s.m2m {
            exec::execute_raw(target, &ddl::drop_table(target.dialect(), m.through)).await?;
        }
    }
    for s in schemas.iter().rev() {
        exec::execute_raw(target, &ddl::drop_table(target.dialect(), s.table)).await?;
    }
    Ok(())
}
