//! Writing migration files: `makemigrations`, `makemigrations --empty` and
//! `add-data-op`.

use std::path::{Path, PathBuf};

use rustango_core::ModelSchema;

use crate::source::validate_name;
use crate::{Error, Migration, MigrationSet, Operation, Rename, RenameHint, SchemaSnapshot};

/// The app a model belongs to: its `#[rustango(app = "...")]`, else from its module
/// path: the module that holds `models` (`shop::billing::models` → `billing`), else the
/// innermost module (`shop::billing` → `billing`), else the crate.
pub fn app_label(schema: &ModelSchema) -> String {
    if let Some(app) = schema.app {
        return app.to_owned();
    }
    let mut parts: Vec<&str> = schema.module_path.split("::").collect();
    if parts.len() > 1 && parts.last() == Some(&"models") {
        parts.pop();
    }
    parts.last().copied().unwrap_or_default().to_owned()
}

/// What `makemigrations` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Made {
    /// The models match the migrations: nothing written.
    NoChanges,
    /// A new migration file.
    Written {
        /// Its path.
        path: PathBuf,
        /// Its contents.
        migration: Migration,
    },
}

/// Options of [`make_migrations`].
#[derive(Debug, Clone, Default)]
pub struct MakeOptions {
    /// Write into `migrations/<app>/` rather than `migrations/`.
    pub app: Option<String>,
    /// The name after the number (`0002_<name>`); derived from the changes otherwise.
    pub name: Option<String>,
    /// Renames the user confirmed.
    pub renames: Vec<Rename>,
    /// Write drop + add even where a rename looks likely (otherwise such a change is
    /// refused with the `--rename` flag to use).
    pub allow_drops: bool,
}

fn app_dir(dir: &Path, app: Option<&str>) -> PathBuf {
    match app {
        Some(app) => dir.join(app),
        None => dir.to_owned(),
    }
}

fn next_number(set: &MigrationSet, app: Option<&str>) -> u32 {
    set.of_app(app)
        .filter_map(|f| {
            let digits: String = f.name.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<u32>().ok()
        })
        .max()
        .map_or(1, |n| n + 1)
}

fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    out.trim_end_matches('_').chars().take(60).collect()
}

fn auto_name(first: bool, ops: &[Operation]) -> String {
    if first {
        return "initial".to_owned();
    }
    let head = match ops.first() {
        Some(Operation::CreateTable { table }) => format!("create_{}", table.name),
        Some(Operation::DropTable { table }) => format!("drop_{}", table.name),
        Some(Operation::AddColumn { table, column }) => format!("{table}_{}", column.name),
        Some(Operation::DropColumn { table, column }) => {
            format!("remove_{table}_{}", column.name)
        }
        Some(op) => op.describe(),
        None => "empty".to_owned(),
    };
    let mut name = slug(&head);
    if ops.len() > 1 {
        name.push_str("_and_more");
    }
    name
}

fn write(path: &Path, migration: &Migration) -> Result<(), Error> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| Error::Io {
            path: parent.display().to_string(),
            source,
        })?;
    }
    std::fs::write(path, migration.to_json()).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })
}

fn new_file(
    dir: &Path,
    set: &MigrationSet,
    app: Option<&str>,
    name: &str,
    forward: Vec<Operation>,
    snapshot: SchemaSnapshot,
) -> Result<(PathBuf, Migration), Error> {
    validate_name(name)?;
    let full = format!("{:04}_{name}", next_number(set, app));
    let migration = Migration::new(full.clone(), forward, snapshot);
    let path = app_dir(dir, app).join(format!("{full}.json"));
    write(&path, &migration)?;
    Ok((path, migration))
}

/// Compares `models` (normally [`SchemaSnapshot::from_registry`], filtered to the app)
/// with the schema the migrations in `dir` leave, and writes the migration between them.
pub fn make_migrations(
    dir: &Path,
    models: &SchemaSnapshot,
    options: &MakeOptions,
) -> Result<Made, Error> {
    if let Some(app) = &options.app {
        validate_name(app)?;
    }
    let app = options.app.as_deref();
    let set = MigrationSet::from_dir(dir)?;
    let current = set.state_of_app(app)?;
    let detection = crate::autodetect_with(&current, models, &options.renames)?;
    if detection.operations.is_empty() {
        return Ok(Made::NoChanges);
    }
    if !detection.hints.is_empty() && !options.allow_drops {
        return Err(Error::PossibleRename {
            hints: detection.hints.iter().map(RenameHint::to_string).collect(),
        });
    }
    let first = set.of_app(app).next().is_none();
    let name = match &options.name {
        Some(n) => n.clone(),
        None => auto_name(first, &detection.operations),
    };
    let (path, migration) = new_file(dir, &set, app, &name, detection.operations, models.clone())?;
    Ok(Made::Written { path, migration })
}

/// Writes an empty migration named `name` (for hand-written operations), carrying the
/// current schema as its snapshot.
pub fn make_empty(dir: &Path, app: Option<&str>, name: &str) -> Result<PathBuf, Error> {
    let set = MigrationSet::from_dir(dir)?;
    let state = set.state_of_app(app)?;
    Ok(new_file(dir, &set, app, name, Vec::new(), state)?.0)
}

/// Appends a `RunSql` operation to the migration named `to`, or to a new migration
/// named `name` (default `data`). Returns the file written.
pub fn add_data_op(
    dir: &Path,
    app: Option<&str>,
    to: Option<&str>,
    name: Option<&str>,
    sql: &str,
    reverse_sql: Option<&str>,
) -> Result<PathBuf, Error> {
    let op = Operation::RunSql {
        sql: sql.to_owned(),
        reverse_sql: reverse_sql.map(str::to_owned),
    };
    let set = MigrationSet::from_dir(dir)?;
    match to {
        Some(to) => {
            // The exact name, or the one migration whose name starts with it.
            let file = match set.of_app(app).find(|f| f.name == to) {
                Some(f) => f,
                None => {
                    let mut matches = set
                        .of_app(app)
                        .filter(|f| f.name.starts_with(&format!("{to}_")));
                    match (matches.next(), matches.next()) {
                        (Some(f), None) => f,
                        _ => return Err(Error::UnknownMigration(to.to_owned())),
                    }
                }
            };
            let mut migration = file.migration.clone();
            migration.forward.push(op);
            let path = app_dir(dir, app).join(format!("{}.json", file.name));
            write(&path, &migration)?;
            Ok(path)
        }
        None => {
            let state = set.state_of_app(app)?;
            Ok(new_file(dir, &set, app, name.unwrap_or("data"), vec![op], state)?.0)
        }
    }
}
