//! The process-wide list of models, filled by `#[derive(Model)]` through `inventory`.
//!
//! The `manage` binary, the admin and the migration autodetector use it to list every
//! model of the program without a hand-written list.

use std::any::Any;

use crate::{Error, Model, ModelSchema, ValueReader};

/// A registered model.
pub struct ModelEntry {
    /// Its schema.
    pub schema: &'static ModelSchema,
    /// Decodes one row (own fields only) into a boxed instance.
    pub decode: fn(&mut ValueReader) -> Result<Box<dyn Any + Send + Sync>, Error>,
}

inventory::collect!(ModelEntry);

/// Decodes a row into a boxed `M` (the function stored in [`ModelEntry::decode`]).
pub fn decode_erased<M: Model>(r: &mut ValueReader) -> Result<Box<dyn Any + Send + Sync>, Error> {
    Ok(Box::new(M::from_reader(r, &[])?))
}

/// Every registered model.
pub fn models() -> impl Iterator<Item = &'static ModelEntry> {
    inventory::iter::<ModelEntry>.into_iter()
}

/// The model stored in `table`, if registered.
pub fn by_table(table: &str) -> Option<&'static ModelEntry> {
    models().find(|m| m.schema.table == table)
}

/// The registry entry of a schema.
pub fn entry_of(schema: &ModelSchema) -> Option<&'static ModelEntry> {
    models().find(|m| m.schema == schema)
}

#[doc(hidden)]
pub use inventory;
