//! `prefetch_related`: reverse foreign keys and many-to-many relations loaded with one
//! query per relation, whatever the number of rows.

use std::any::Any;
use std::collections::HashMap;

use rustango_core::{ColRef, Expr, FieldSchema, Model, ModelEntry, Value, ValueKind, ValueReader};
use rustango_query::{OrderBy, Select, SelectItem};

use crate::exec;
use crate::queryset::QuerySet;
use crate::{Error, Executor};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Int(i64),
    Text(String),
    Uuid(uuid::Uuid),
    Other(String),
}

fn key_of(v: &Value) -> Key {
    match v {
        Value::I16(x) => Key::Int(i64::from(*x)),
        Value::I32(x) => Key::Int(i64::from(*x)),
        Value::I64(x) => Key::Int(*x),
        Value::String(s) => Key::Text(s.clone()),
        Value::Uuid(u) => Key::Uuid(*u),
        other => Key::Other(format!("{other:?}")),
    }
}

type Boxed = Box<dyn Any + Send + Sync>;

enum Loaded {
    Reverse(HashMap<Key, Vec<Boxed>>),
    M2M(HashMap<Key, Vec<Value>>),
}

/// A query set with relations to prefetch; `fetch` returns [`Prefetched`].
#[derive(Debug)]
pub struct PrefetchQuerySet<M: Model> {
    qs: QuerySet<M>,
    names: Vec<&'static str>,
}

/// Rows with their prefetched relations.
pub struct Prefetched<M: Model> {
    /// The rows, in query order.
    pub rows: Vec<M>,
    loaded: HashMap<&'static str, Loaded>,
}

impl<M: Model> std::fmt::Debug for Prefetched<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prefetched")
            .field("rows", &self.rows.len())
            .field("relations", &self.loaded.keys().collect::<Vec<_>>())
            .finish()
    }
}

enum Plan {
    Reverse {
        entry: &'static ModelEntry,
        fk: &'static FieldSchema,
        fk_index: usize,
    },
    M2M(&'static rustango_core::M2MSchema),
}

fn plan<M: Model>(name: &str) -> Result<Plan, Error> {
    if let Some(m) = M::SCHEMA.m2m.iter().find(|m| m.name == name) {
        return Ok(Plan::M2M(m));
    }
    for entry in rustango_core::registry::models() {
        for (i, f) in entry.schema.fields.iter().enumerate() {
            let Some(rel) = &f.relation else { continue };
            if (rel.to)() != M::SCHEMA {
                continue;
            }
            let reverse = rel.related_name.unwrap_or(entry.schema.table);
            if reverse == name {
                return Ok(Plan::Reverse {
                    entry,
                    fk: f,
                    fk_index: i,
                });
            }
        }
    }
    Err(Error::UnknownField {
        model: M::SCHEMA.name,
        name: name.to_owned(),
    })
}

/// Parent keys bound per prefetch query: well under every backend's limit on bound
/// parameters (32,766 on SQLite, 65,535 on PostgreSQL). Up to this many parents, a
/// relation costs exactly one query.
const KEYS_PER_QUERY: usize = 10_000;

impl<M: Model> PrefetchQuerySet<M> {
    pub(crate) fn new(qs: QuerySet<M>, name: &'static str) -> Self {
        PrefetchQuerySet {
            qs,
            names: vec![name],
        }
    }

    /// Prefetches one more relation.
    pub fn prefetch_related(mut self, name: &'static str) -> Self {
        self.names.push(name);
        self
    }

    /// Runs the query, then one query per relation.
    pub async fn fetch<'e>(self, exec: impl Executor<'e>) -> Result<Prefetched<M>, Error> {
        let target = exec.target();
        let plans: Vec<(&'static str, Plan)> = self
            .names
            .iter()
            .map(|n| plan::<M>(n).map(|p| (*n, p)))
            .collect::<Result<_, _>>()?;
        let rows = self.qs.fetch(target).await?;
        let keys: Vec<Value> = rows.iter().filter_map(|r| r.pk_value()).collect();
        let mut loaded = HashMap::new();
        for (name, p) in plans {
            if keys.is_empty() {
                loaded.insert(
                    name,
                    match p {
                        Plan::Reverse { .. } => Loaded::Reverse(HashMap::new()),
                        Plan::M2M(_) => Loaded::M2M(HashMap::new()),
                    },
                );
                continue;
            }
            match p {
                Plan::Reverse {
                    entry,
                    fk,
                    fk_index,
                } => {
                    let child = entry.schema;
                    let kinds: Vec<ValueKind> = child.fields.iter().map(|f| f.kind).collect();
                    let mut map: HashMap<Key, Vec<Boxed>> = HashMap::new();
                    for chunk in keys.chunks(KEYS_PER_QUERY) {
                        let mut s = Select::new(child.table);
                        for f in child.fields {
                            s.items.push(SelectItem::Column(ColRef::new(f.column)));
                        }
                        s = s.filter(Expr::In {
                            column: ColRef::new(fk.column),
                            values: chunk.to_vec(),
                            negated: false,
                        });
                        if let Some(sd) = child.soft_delete_field() {
                            s = s.filter(Expr::IsNull {
                                column: ColRef::new(sd.column),
                                negated: false,
                            });
                        }
                        s.order_by.push(OrderBy {
                            column: ColRef::new(child.pk_field().column),
                            desc: false,
                        });
                        let (sql, params) = s.render(target.dialect());
                        for row in exec::fetch_all(target, sql, params, &kinds).await? {
                            let k = key_of(&row[fk_index]);
                            let obj = (entry.decode)(&mut ValueReader::new(row))?;
                            map.entry(k).or_default().push(obj);
                        }
                    }
                    loaded.insert(name, Loaded::Reverse(map));
                }
                Plan::M2M(m) => {
                    let kinds = [M::SCHEMA.pk_field().kind, crate::m2m::target_key_kind(m)];
                    let mut map: HashMap<Key, Vec<Value>> = HashMap::new();
                    for chunk in keys.chunks(KEYS_PER_QUERY) {
                        let mut s = Select::new(m.through);
                        s.items.push(SelectItem::Column(ColRef::new(m.src)));
                        s.items.push(SelectItem::Column(ColRef::new(m.dst)));
                        s = s.filter(Expr::In {
                            column: ColRef::new(m.src),
                            values: chunk.to_vec(),
                            negated: false,
                        });
                        s.order_by.push(OrderBy {
                            column: ColRef::new(m.dst),
                            desc: false,
                        });
                        let (sql, params) = s.render(target.dialect());
                        for mut row in exec::fetch_all(target, sql, params, &kinds).await? {
                            let dst = row.pop().unwrap_or(Value::Null(kinds[1]));
                            let src = row.pop().unwrap_or(Value::Null(kinds[0]));
                            map.entry(key_of(&src)).or_default().push(dst);
                        }
                    }
                    loaded.insert(name, Loaded::M2M(map));
                }
            }
        }
        Ok(Prefetched { rows, loaded })
    }
}

impl<M: Model> Prefetched<M> {
    /// The prefetched rows of reverse relation `name` that point at `parent` (empty when
    /// there are none, or when `C` is not the relation's model).
    pub fn children<C: Model>(&self, parent: &M, name: &str) -> Vec<&C> {
        let (Some(Loaded::Reverse(map)), Some(pk)) = (self.loaded.get(name), parent.pk_value())
        else {
            return Vec::new();
        };
        map.get(&key_of(&pk))
            .map(|v| v.iter().filter_map(|b| b.downcast_ref::<C>()).collect())
            .unwrap_or_default()
    }

    /// The keys linked to `parent` by many-to-many relation `name`.
    pub fn m2m_keys(&self, parent: &M, name: &str) -> &[Value] {
        let (Some(Loaded::M2M(map)), Some(pk)) = (self.loaded.get(name), parent.pk_value()) else {
            return &[];
        };
        map.get(&key_of(&pk)).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The integer keys linked to `parent` by many-to-many relation `name`.
    pub fn m2m_ids(&self, parent: &M, name: &str) -> Vec<i64> {
        self.m2m_keys(parent, name)
            .iter()
            .filter_map(|v| match v {
                Value::I64(x) => Some(*x),
                Value::I32(x) => Some(i64::from(*x)),
                Value::I16(x) => Some(i64::from(*x)),
                _ => None,
            })
            .collect()
    }

    /// The rows, dropping the prefetched relations.
    pub fn into_rows(self) -> Vec<M> {
        self.rows
    }
}

impl<M: Model> std::ops::Deref for Prefetched<M> {
    type Target = [M];
    fn deref(&self) -> &[M] {
        &self.rows
    }
}
