//! The bottom tier of rustango: what a model *is*, independent of any database.
//!
//! `#[derive(Model)]` turns a struct into a static [`ModelSchema`] (table, fields, types,
//! constraints, indexes, relations, admin/audit/permission options) plus a [`Model`]
//! implementation that converts rows to and from [`Value`]s. Migrations, the admin,
//! serializers, forms and OpenAPI all read that one description.
//!
//! Filters are plain data too: typed column constants ([`Col`]) implement the
//! [`Column`] trait, whose lookups build an [`Expr`] tree that `rustango-query` renders
//! for a dialect. This crate never touches a database or the network.
//!
//! ```
//! use rustango_core::{Col, Column, Expr};
//! struct Post;
//! const TITLE: Col<Post, String> = Col::new("title");
//! let filter: Expr = TITLE.icontains("rust") & !TITLE.eq("draft");
//! assert!(matches!(filter, Expr::And(_)));
//! ```
#![deny(missing_docs)]

mod auto;
mod column;
mod error;
mod expr;
mod model;
pub mod registry;
mod schema;
mod value;

pub use auto::Auto;
pub use column::{Col, Column, ColumnType};
pub use error::Error;
pub use expr::{CmpOp, ColRef, Expr, LikeKind, Operand, Q};
pub use model::{Model, RelatedTree, ValueReader};
pub use registry::ModelEntry;
pub use schema::{
    AdminOptions, AuditOptions, CheckSchema, FieldSchema, Fieldset, IndexSchema, M2MSchema,
    ModelSchema, OnDelete, Relation,
};
pub use value::{FieldValue, Summable, Value, ValueKind};

/// Re-exported so generated code and users agree on the decimal type.
pub use rust_decimal::Decimal;
