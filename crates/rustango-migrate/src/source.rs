//! Where migrations come from: a `migrations/` directory (with optional per-app
//! subdirectories) or the same files embedded in the binary.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::{Error, Migration, SchemaSnapshot};

/// One migration with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationFile {
    /// The app (the subdirectory of `migrations/`), or `None` for the top level.
    pub app: Option<String>,
    /// The migration's name (its file name without `.json`).
    pub name: String,
    /// Its contents.
    pub migration: Migration,
    /// SHA-256 of its canonical JSON (so reformatting the file does not count as a
    /// change, but editing an operation does).
    pub checksum: String,
}

impl MigrationFile {
    /// Parses a migration file's text.
    pub fn parse(app: Option<&str>, name: &str, json: &str) -> Result<MigrationFile, Error> {
        validate_name(name)?;
        let mut migration = Migration::from_json(name, json)?;
        // The file name is the migration's name, whatever the JSON says.
        migration.name = name.to_owned();
        let canonical = serde_json::to_string(&migration).expect("migration serializes");
        let checksum = hex(&Sha256::digest(canonical.as_bytes()));
        Ok(MigrationFile {
            app: app.map(str::to_owned),
            name: name.to_owned(),
            migration,
            checksum,
        })
    }

    /// `app/name`, or `name` at the top level: how commands and errors refer to it.
    pub fn label(&self) -> String {
        label(self.app.as_deref(), &self.name)
    }
}

pub(crate) fn label(app: Option<&str>, name: &str) -> String {
    match app {
        Some(app) => format!("{app}/{name}"),
        None => name.to_owned(),
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Migration and app names are file names: letters, digits, `_` and `-` only.
pub(crate) fn validate_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(Error::BadName(name.to_owned()))
    }
}

/// A file embedded in a binary by `embed_migrations!` (in `rustango::migrate`).
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedFile {
    /// The app subdirectory, or `None`.
    pub app: Option<&'static str>,
    /// The migration's name.
    pub name: &'static str,
    /// The file's text.
    pub json: &'static str,
}

/// Every migration of a project, in the order they apply: the top-level files first,
/// then each app's, apps in name order, files in name order within each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationSet {
    files: Vec<MigrationFile>,
    dir: Option<PathBuf>,
    /// Only some apps' migrations (see [`MigrationSet::only_apps`]): applied
    /// migrations of other apps are none of this set's business.
    partial: bool,
}

fn io(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source,
    }
}

fn json_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, Error> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
        let entry = entry.map_err(|e| io(dir, e))?;
        let path = entry.path();
        if path.is_file()
            && path.extension().is_some_and(|e| e == "json")
            && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
        {
            out.push((stem.to_owned(), path));
        }
    }
    out.sort();
    Ok(out)
}

impl MigrationSet {
    /// Reads `dir` (normally `migrations/`): its `*.json` files, and those of each
    /// subdirectory as that app's migrations. A missing directory is an empty set.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<MigrationSet, Error> {
        let dir = dir.as_ref();
        let mut set = MigrationSet {
            files: Vec::new(),
            dir: Some(dir.to_owned()),
            partial: false,
        };
        if !dir.exists() {
            return Ok(set);
        }
        let read = |path: &Path| std::fs::read_to_string(path).map_err(|e| io(path, e));
        for (name, path) in json_files(dir)? {
            set.files
                .push(MigrationFile::parse(None, &name, &read(&path)?)?);
        }
        let mut apps: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
            .map_err(|e| io(dir, e))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .filter_map(|p| Some((p.file_name()?.to_str()?.to_owned(), p)))
            .collect();
        apps.sort();
        for (app, path) in apps {
            validate_name(&app)?;
            for (name, file) in json_files(&path)? {
                set.files
                    .push(MigrationFile::parse(Some(&app), &name, &read(&file)?)?);
            }
        }
        Ok(set)
    }

    /// The migrations embedded in the binary by `rustango::migrate::embed_migrations!`.
    pub fn from_embedded(files: &[EmbeddedFile]) -> Result<MigrationSet, Error> {
        let mut parsed = files
            .iter()
            .map(|f| {
                if let Some(app) = f.app {
                    validate_name(app)?;
                }
                MigrationFile::parse(f.app, f.name, f.json)
            })
            .collect::<Result<Vec<_>, _>>()?;
        parsed.sort_by(|a, b| (&a.app, &a.name).cmp(&(&b.app, &b.name)));
        Ok(MigrationSet {
            files: parsed,
            dir: None,
            partial: false,
        })
    }

    /// A set from migrations in memory (tests, tools).
    pub fn from_migrations(migrations: Vec<Migration>) -> Result<MigrationSet, Error> {
        let files = migrations
            .into_iter()
            .map(|m| MigrationFile::parse(None, &m.name.clone(), &m.to_json()))
            .collect::<Result<Vec<_>, _>>()?;
        let mut set = MigrationSet {
            files,
            dir: None,
            partial: false,
        };
        set.files
            .sort_by(|a, b| (&a.app, &a.name).cmp(&(&b.app, &b.name)));
        Ok(set)
    }

    pub(crate) fn into_files(self) -> Vec<MigrationFile> {
        self.files
    }

    pub(crate) fn from_parts(files: Vec<MigrationFile>, dir: Option<PathBuf>) -> MigrationSet {
        MigrationSet {
            files,
            dir,
            partial: false,
        }
    }

    pub(crate) fn mark_partial(mut self) -> MigrationSet {
        self.partial = true;
        self
    }

    /// Whether the set holds only some apps' migrations: the runner then ignores
    /// applied migrations of other apps instead of reporting their files missing.
    pub fn is_partial(&self) -> bool {
        self.partial
    }

    /// The directory the set was read from, if any.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The migrations, in the order they apply.
    pub fn files(&self) -> &[MigrationFile] {
        &self.files
    }

    /// The migrations of one app (`None`: the top level), in order.
    pub fn of_app<'a>(&'a self, app: Option<&'a str>) -> impl Iterator<Item = &'a MigrationFile> {
        self.files.iter().filter(move |f| f.app.as_deref() == app)
    }

    /// The apps with migrations (not counting the top level).
    pub fn apps(&self) -> Vec<String> {
        let mut apps: Vec<String> = self.files.iter().filter_map(|f| f.app.clone()).collect();
        apps.dedup();
        apps
    }

    /// The schema after every migration of `app`, replaying their operations.
    pub fn state_of_app(&self, app: Option<&str>) -> Result<SchemaSnapshot, Error> {
        self.of_app(app)
            .try_fold(SchemaSnapshot::default(), |s, f| {
                s.replay(&f.migration.forward)
            })
    }

    /// The position of a migration named `app/name` or `name`.
    pub fn position(&self, label: &str) -> Option<usize> {
        self.files.iter().position(|f| f.label() == label)
    }
}
