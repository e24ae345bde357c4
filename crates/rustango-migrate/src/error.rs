/// Errors of the migration layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A new NOT NULL column has no default, so existing rows would have no value.
    #[error(
        "cannot add NOT NULL column `{table}.{column}` without a default: give the field \
         `#[rustango(default = \"...\")]`, make it `Option<T>`, or write the migration by hand{}",
        rename_from.as_ref().map(|from| format!(
            ". If `{column}` is `{from}` renamed, run makemigrations with \
             `--rename {table}.{from}={column}`"
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
    /// An operation does not fit the schema it is applied to (a column added twice, a
    /// table that is not there): the migration files were edited inconsistently.
    #[error("operation `{operation}` cannot be applied: {reason}")]
    BadOperation {
        /// The operation, described.
        operation: String,
        /// What is wrong.
        reason: String,
    },
    /// An operation failed in the database; the migration's transaction was rolled back,
    /// so the database is as it was before the migration.
    #[error(
        "migration `{migration}` failed at operation {position} of {total} ({operation}); \
         nothing of it was applied: {source}"
    )]
    OperationFailed {
        /// The migration.
        migration: String,
        /// 1-based position of the failing operation.
        position: usize,
        /// How many operations the migration has.
        total: usize,
        /// The operation, described.
        operation: String,
        /// The database's error.
        #[source]
        source: Box<rustango_orm::Error>,
    },
    /// A database error outside any one operation (reading the applied migrations,
    /// taking the lock).
    #[error("database error: {0}")]
    Database(#[source] Box<rustango_orm::Error>),
    /// An applied migration's file changed since it was applied.
    #[error(
        "migration `{migration}` was changed after it was applied (checksum {applied} in the \
         database, {found} on disk): restore the file, or add a new migration instead"
    )]
    ChecksumMismatch {
        /// The migration.
        migration: String,
        /// Checksum recorded when it was applied.
        applied: String,
        /// Checksum of the file now.
        found: String,
    },
    /// The database records a migration that no file provides.
    #[error(
        "migration `{migration}` is applied in the database but no migration file has that name"
    )]
    MissingFile {
        /// The migration.
        migration: String,
    },
    /// A pending migration sorts before one that is already applied.
    #[error(
        "migration `{pending}` is not applied but `{applied}`, which sorts after it, is: \
         rename `{pending}` so that it sorts last"
    )]
    OutOfOrder {
        /// The pending migration.
        pending: String,
        /// The applied one after it.
        applied: String,
    },
    /// `migrate <target>` names no migration.
    #[error(
        "no migration is named `{0}`, nor does exactly one start with it (use `zero` to unapply everything)"
    )]
    UnknownTarget(String),
    /// A migration's operations do not fit the schema before it.
    #[error("migration `{migration}`: {source}")]
    InMigration {
        /// The migration.
        migration: String,
        /// What is wrong.
        #[source]
        source: Box<Error>,
    },
    /// A migration's statements ran but its commit failed (on SQLite: it left a
    /// foreign key pointing nowhere); nothing of it was applied.
    #[error("migration `{migration}` was rolled back at commit: {source}")]
    CommitFailed {
        /// The migration.
        migration: String,
        /// The database's error.
        #[source]
        source: Box<rustango_orm::Error>,
    },
    /// `add-data-op --to` names no migration file.
    #[error("no migration file is named `{0}`, nor does exactly one start with it")]
    UnknownMigration(String),
    /// Reading or writing migration files failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A migration name that cannot be a file name.
    #[error("`{0}` is not a valid migration or app name: use letters, digits, `_` and `-`")]
    BadName(String),
    /// Columns or tables disappeared while similar ones appeared: renames, probably.
    /// Nothing was written.
    #[error(
        "not writing a migration that drops data that may have been renamed:\n  - {}\n\
         Pass `--rename ...` for each rename, or `--no-rename` to drop and add as detected.",
        hints.join("\n  - ")
    )]
    PossibleRename {
        /// One line per likely rename, with the flag to confirm it.
        hints: Vec<String>,
    },
    /// An installed app's migrations clash with the project's: the same app label, or
    /// embedded files outside the app's own directory.
    #[error("installed app `{app}`: {reason}")]
    AppConflict {
        /// The app's label.
        app: &'static str,
        /// What clashes.
        reason: String,
    },
    /// A `post_migrate` hook of an installed app failed.
    #[error("post-migrate step of app `{app}` failed: {source}")]
    PostMigrate {
        /// The app's label.
        app: &'static str,
        /// What went wrong.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The live schema could not be read: the backend is not supported, or its catalog
    /// answered in a shape this version does not understand.
    #[error("cannot read the live schema from `{catalog}`: {reason}")]
    Introspection {
        /// The catalog (or backend) being read.
        catalog: &'static str,
        /// What went wrong.
        reason: &'static str,
    },
}

impl From<rustango_orm::Error> for Error {
    fn from(e: rustango_orm::Error) -> Self {
        Error::Database(Box::new(e))
    }
}
