/// Errors of the migration layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A new NOT NULL column has no default, so existing rows would have no value.
    #[error(
        "cannot add NOT NULL column `{table}.{column}` without a default: give the field \
         `#[rustango(default = \"...\")]`, make it `Option<T>`, or write the migration by hand{}",
        rename_from.as_ref().map(|from| format!(
            ". If `{column}` is `{from}` renamed, write `makemigrations --empty` and add \
             {{\"op\": \"RenameColumn\", \"table\": \"{table}\", \"from\": \"{from}\", \"to\": \"{column}\"}}"
        )).unwrap_or_default()
    )]
    NotNullWithoutDefault {
        /// The table.
        table: String,
        /// The new column.
        column: String,
        /// A dropped column of the same type: probably the same column, renamed.
        rename_from: Option<String>,
    },
    /// A migration cannot be unapplied because one of its operations has no reverse.
    #[error(
        "migration `{migration}` cannot be unapplied: operation {position} ({operation}) has no \
         reverse; give that RunSql a `reverse_sql`"
    )]
    Irreversible {
        /// The migration.
        migration: String,
        /// The 1-based position of the operation in `forward`.
        position: usize,
        /// Its description.
        operation: String,
    },
    /// A migration file is not valid JSON of the expected shape.
    #[error("migration `{name}` cannot be read: {source}")]
    BadFile {
        /// The file or migration name.
        name: String,
        /// What the parser said.
        #[source]
        source: serde_json::Error,
    },
    /// A migration file was written by a newer or unknown version of the format.
    #[error(
        "migration `{name}` has format version {found}; this rustango reads version {expected}"
    )]
    UnsupportedFormat {
        /// The migration name.
        name: String,
        /// The version in the file.
        found: u32,
        /// The version this crate reads.
        expected: u32,
    },
}
