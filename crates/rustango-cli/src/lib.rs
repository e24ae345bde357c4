//! The `manage` commands of rustango, as a library a project's `src/bin/manage.rs`
//! calls with its models linked in:
//!
//! ```no_run
//! // src/bin/manage.rs
//! // use my_project as _; // the crate whose #[derive(Model)]s should be managed
//! fn main() -> std::process::ExitCode {
//!     rustango_cli::Manage::new().main()
//! }
//! ```
//!
//! `cargo run --bin manage -- makemigrations`, `migrate`, `downgrade`, `showmigrations`,
//! `add-data-op`, `about`, `check [--deploy]`, `version`, `docs`; every command has
//! `--help`. Errors print one line on stderr and exit with status 1 (2 for bad
//! arguments).
//!
//! The database is `--database-url`, else `DATABASE_URL`, else the SQLite file
//! `rustango.db` in the working directory. Migrations are read from `migrations/` (or
//! `--migrations <dir>`); a binary built with
//! [`Manage::embedded`] falls back to the files compiled into it when that directory
//! does not exist, so a deployed binary can migrate on its own.
#![deny(missing_docs)]

#[cfg(feature = "auth")]
mod auth;
mod checks;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use rustango_migrate::{
    Direction, EmbeddedFile, Made, MakeOptions, MigrationSet, Progress, Rename, Runner,
    SchemaSnapshot, Step, Target,
};
use rustango_orm::Pool;

/// The SQLite database used when neither `--database-url` nor `DATABASE_URL` is given.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://rustango.db?mode=rwc";

/// Where the documentation lives (`manage docs`).
pub const DOCS_URL: &str = "https://docs.rs/rustango";

/// Errors of the `manage` commands.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A migration error (files, planning, applying).
    #[error(transparent)]
    Migrate(#[from] rustango_migrate::Error),
    /// The database could not be reached or refused a statement.
    #[error("database: {0}")]
    Database(#[from] rustango_orm::Error),
    /// `check` found problems (listed on stdout).
    #[error("{0} problem(s) found")]
    CheckFailed(usize),
    /// A command-line combination that makes no sense.
    #[error("{0}")]
    Usage(String),
    /// Starting the async runtime failed.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// An auth command failed (a taken username, a weak password, …).
    #[cfg(feature = "auth")]
    #[error(transparent)]
    Auth(#[from] rustango_auth::AuthError),
}

/// The `manage` program: configure it, then call [`main`](Manage::main) (or
/// [`run`](Manage::run) from async code).
#[derive(Debug, Clone)]
pub struct Manage {
    migrations_dir: PathBuf,
    embedded: Option<&'static [EmbeddedFile]>,
    database_url: Option<String>,
    apps: Vec<rustango_migrate::App>,
}

impl Default for Manage {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "manage",
    version,
    about = "rustango project management: migrations and system checks",
    propagate_version = true
)]
struct Cli {
    /// Database URL (default: $DATABASE_URL, else the project's default, normally
    /// sqlite://rustango.db?mode=rwc).
    #[arg(long, global = true, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// The migrations directory.
    #[arg(long, global = true, value_name = "DIR", conflicts_with = "embedded")]
    migrations: Option<PathBuf>,
    /// Use the migrations compiled into this binary, even if the directory exists.
    #[arg(long, global = true)]
    embedded: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compare the models with the migrations and write the next migration file.
    Makemigrations(MakeArgs),
    /// Apply pending migrations, or move to a named one (`zero` unapplies all).
    Migrate {
        /// A migration name (`0003_x` or `app/0003_x`), or `zero`.
        target: Option<String>,
        /// Print the SQL that would run and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Unapply the last N applied migrations (default 1).
    Downgrade {
        /// How many.
        #[arg(default_value_t = 1)]
        n: usize,
        /// Print the SQL that would run and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// List migrations: [X] applied, [ ] pending.
    #[command(alias = "status")]
    Showmigrations,
    /// Append a hand-written SQL operation (a data migration) to a new or existing
    /// migration.
    AddDataOp(DataOpArgs),
    /// Version, models, apps, migrations and whether the database answers.
    About,
    /// System checks: database reachable, migrations applied, models without
    /// migrations, live schema against the migrations.
    Check {
        /// Also check production settings (RUSTANGO_ENV, SECRET_KEY, DATABASE_URL).
        #[arg(long)]
        deploy: bool,
    },
    /// Create a superuser (the auth app): asks for the password, or reads
    /// RUSTANGO_SUPERUSER_PASSWORD with --no-input.
    #[cfg(feature = "auth")]
    Createsuperuser {
        /// The username (asked when missing).
        #[arg(long)]
        username: Option<String>,
        /// The email address.
        #[arg(long)]
        email: Option<String>,
        /// Never prompt: take the password from RUSTANGO_SUPERUSER_PASSWORD.
        #[arg(long = "no-input", alias = "noinput")]
        no_input: bool,
    },
    /// Change a user's password (the auth app).
    #[cfg(feature = "auth")]
    Changepassword {
        /// The username.
        username: String,
    },
    /// Print the framework version.
    Version,
    /// Print the documentation URL.
    Docs,
}

#[derive(Debug, Args)]
struct MakeArgs {
    /// The name after the number (`0002_<name>`); derived from the changes otherwise.
    name: Option<String>,
    /// Write into migrations/<app>/ for the models of that app.
    #[arg(long)]
    app: Option<String>,
    /// Write an empty migration for hand-written operations (needs a name).
    #[arg(long)]
    empty: bool,
    /// Confirm a rename: `table.old=new` (a column) or `old_table=new_table`.
    #[arg(long = "rename", value_name = "RENAME")]
    renames: Vec<Rename>,
    /// Write drops and adds even where they look like renames.
    #[arg(long)]
    no_rename: bool,
}

#[derive(Debug, Args)]
struct DataOpArgs {
    /// The SQL to run going forward (one or more `;`-separated statements).
    #[arg(long)]
    sql: String,
    /// The SQL that undoes it; without it the migration cannot be unapplied.
    #[arg(long)]
    reverse_sql: Option<String>,
    /// Append to this existing migration (`0003_add_slug` or its number).
    #[arg(long, conflicts_with = "name")]
    to: Option<String>,
    /// The name of the new migration (default `data`).
    #[arg(long)]
    name: Option<String>,
    /// The app whose migrations to use.
    #[arg(long)]
    app: Option<String>,
}

impl Manage {
    /// The default program: `migrations/`, no embedded files, the database from
    /// `--database-url` or `DATABASE_URL`.
    pub fn new() -> Self {
        Manage {
            migrations_dir: PathBuf::from("migrations"),
            embedded: None,
            database_url: None,
            apps: Vec::new(),
        }
    }

    /// Installs a reusable app with migrations of its own (`rustango::auth::APP`):
    /// `migrate` applies its migrations before the project's and runs its
    /// post-migrate step, and `makemigrations` leaves its models alone.
    pub fn install(mut self, app: rustango_migrate::App) -> Self {
        if !self.apps.iter().any(|a| a.label == app.label) {
            self.apps.push(app);
        }
        self
    }

    /// Reads migrations from `dir` instead of `migrations/`.
    pub fn migrations_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.migrations_dir = dir.into();
        self
    }

    /// Migrations compiled into the binary (`embed_migrations!("migrations")`), used
    /// when the migrations directory does not exist.
    pub fn embedded(mut self, files: &'static [EmbeddedFile]) -> Self {
        self.embedded = Some(files);
        self
    }

    /// The database to use when neither `--database-url` nor `DATABASE_URL` is set.
    pub fn default_database_url(mut self, url: impl Into<String>) -> Self {
        self.database_url = Some(url.into());
        self
    }

    /// Parses the process arguments, runs the command on a fresh runtime and returns the
    /// exit status.
    pub fn main(self) -> ExitCode {
        match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt.block_on(self.run()),
            Err(e) => report(&Error::Runtime(e)),
        }
    }

    /// Parses the process arguments and runs the command.
    pub async fn run(self) -> ExitCode {
        self.run_with_args(std::env::args_os()).await
    }

    /// Runs the command given by `args` (the first is the program name).
    pub async fn run_with_args<I, T>(self, args: I) -> ExitCode
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let cli = match Cli::try_parse_from(args) {
            Ok(cli) => cli,
            Err(e) => {
                let _ = e.print();
                return if e.use_stderr() {
                    ExitCode::from(2)
                } else {
                    ExitCode::SUCCESS
                };
            }
        };
        match self.execute(cli).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => report(&e),
        }
    }

    fn dir(&self, cli: &Cli) -> PathBuf {
        cli.migrations
            .clone()
            .unwrap_or_else(|| self.migrations_dir.clone())
    }

    fn database_url(&self, cli: &Cli) -> String {
        cli.database_url
            .clone()
            .or_else(|| self.database_url.clone())
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned())
    }

    /// Whether the embedded files stand in for the directory: only when the
    /// directory was not named on the command line (a typo there must not silently
    /// switch to other migrations) and does not exist.
    fn uses_embedded(&self, cli: &Cli) -> bool {
        self.embedded.is_some()
            && (cli.embedded || (cli.migrations.is_none() && !self.dir(cli).exists()))
    }

    /// The migrations: the directory when it exists, else the embedded files.
    fn migration_set(&self, cli: &Cli) -> Result<MigrationSet, Error> {
        let project = match self.embedded {
            Some(files) if self.uses_embedded(cli) => MigrationSet::from_embedded(files)?,
            None if cli.embedded => {
                return Err(Error::Usage(
                    "this binary has no embedded migrations (see `Manage::embedded`)".into(),
                ));
            }
            _ => MigrationSet::from_dir(self.dir(cli))?,
        };
        Ok(project.with_apps(&self.apps)?)
    }

    async fn connect(&self, cli: &Cli) -> Result<Pool, Error> {
        Ok(Pool::connect(&self.database_url(cli)).await?)
    }

    async fn execute(&self, cli: Cli) -> Result<(), Error> {
        match &cli.command {
            Command::Makemigrations(args) => self.makemigrations(&cli, args),
            Command::Migrate { target, dry_run } => {
                let set = self.migration_set(&cli)?;
                let pool = self.connect(&cli).await?;
                let target = Target::parse(target.as_deref());
                let result = if *dry_run {
                    Runner::new(&pool, &set).dry_run(&target).await
                } else {
                    Runner::new(&pool, &set)
                        .on_progress(print_progress)
                        .migrate(&target)
                        .await
                };
                let steps = result?;
                if !*dry_run {
                    for app in &self.apps {
                        app.post_migrate(&pool).await?;
                    }
                }
                pool.close().await;
                finish_steps(steps, *dry_run);
                Ok(())
            }
            Command::Downgrade { n, dry_run } => {
                let set = self.migration_set(&cli)?;
                let pool = self.connect(&cli).await?;
                let result = Runner::new(&pool, &set)
                    .on_progress(print_progress)
                    .downgrade(*n, *dry_run)
                    .await;
                pool.close().await;
                finish_steps(result?, *dry_run);
                Ok(())
            }
            Command::Showmigrations => {
                let set = self.migration_set(&cli)?;
                let pool = self.connect(&cli).await?;
                let status = Runner::new(&pool, &set).status().await;
                pool.close().await;
                let status = status?;
                if status.is_empty() {
                    println!("No migrations.");
                }
                for s in status {
                    match s.applied_at {
                        Some(at) => println!(
                            "[X] {}  (applied {})",
                            s.migration,
                            at.format("%Y-%m-%d %H:%M:%S UTC")
                        ),
                        None => println!("[ ] {}", s.migration),
                    }
                }
                Ok(())
            }
            Command::AddDataOp(args) => {
                let dir = self.dir(&cli);
                let path = rustango_migrate::add_data_op(
                    &dir,
                    args.app.as_deref(),
                    args.to.as_deref(),
                    args.name.as_deref(),
                    &args.sql,
                    args.reverse_sql.as_deref(),
                )?;
                println!("Wrote {}", path.display());
                if args.reverse_sql.is_none() {
                    println!("Note: without --reverse-sql this migration cannot be unapplied.");
                }
                Ok(())
            }
            Command::About => checks::about(self, &cli).await,
            Command::Check { deploy } => checks::check(self, &cli, *deploy).await,
            #[cfg(feature = "auth")]
            Command::Createsuperuser {
                username,
                email,
                no_input,
            } => {
                let pool = self.connect(&cli).await?;
                let result =
                    crate::auth::createsuperuser(&pool, username.clone(), email.clone(), *no_input)
                        .await;
                pool.close().await;
                result
            }
            #[cfg(feature = "auth")]
            Command::Changepassword { username } => {
                let pool = self.connect(&cli).await?;
                let result = crate::auth::changepassword(&pool, username).await;
                pool.close().await;
                result
            }
            Command::Version => {
                println!("rustango {}", env!("CARGO_PKG_VERSION"));
                Ok(())
            }
            Command::Docs => {
                println!("{DOCS_URL}");
                Ok(())
            }
        }
    }

    fn makemigrations(&self, cli: &Cli, args: &MakeArgs) -> Result<(), Error> {
        let dir = self.dir(cli);
        if args.empty {
            let name = args.name.as_deref().ok_or_else(|| {
                Error::Usage(
                    "makemigrations --empty needs a name: makemigrations --empty <name>".into(),
                )
            })?;
            let path = rustango_migrate::make_empty(&dir, args.app.as_deref(), name)?;
            println!("Wrote {}", path.display());
            return Ok(());
        }
        let mut scopes = app_scopes(&dir, &MigrationSet::from_dir(&dir)?);
        // Installed apps ship their migrations: their models are never the project's.
        scopes.extend(self.apps.iter().map(|a| a.label.to_owned()));
        let models = models_of(&scopes, args.app.as_deref());
        if models.tables.is_empty() {
            return Err(Error::Usage(match &args.app {
                Some(app) => format!("no registered model belongs to app `{app}`"),
                None if rustango_core::registry::models().next().is_some() => format!(
                    "every registered model belongs to an app with its own migrations \
                     directory ({}): use --app <app>",
                    scopes.join(", ")
                ),
                None => "no models are registered: link the crate that defines them into the \
                         manage binary (`use my_crate as _;`)"
                    .into(),
            }));
        }
        let options = MakeOptions {
            app: args.app.clone(),
            name: args.name.clone(),
            renames: args.renames.clone(),
            allow_drops: args.no_rename,
        };
        match rustango_migrate::make_migrations(&dir, &models, &options)? {
            Made::NoChanges => println!("No changes detected."),
            Made::Written { path, migration } => {
                println!("Wrote {}", path.display());
                for op in &migration.forward {
                    println!("  - {}", op.describe());
                }
            }
        }
        Ok(())
    }
}

/// The apps with migrations of their own: subdirectories of `dir`, and the apps of
/// `set` (which may be embedded, with no directory at all).
pub(crate) fn app_scopes(dir: &Path, set: &MigrationSet) -> Vec<String> {
    let mut apps = set.apps();
    if let Ok(entries) = std::fs::read_dir(dir) {
        apps.extend(
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().is_dir())
                .filter_map(|e| e.file_name().to_str().map(str::to_owned)),
        );
    }
    apps.sort();
    apps.dedup();
    apps
}

/// The registered models that belong to `app`'s migrations, or, at the top level
/// (`None`), every model whose app has no migrations of its own (`app_scopes`).
///
/// Models with an explicit `#[rustango(app = "...")]` belong to a reusable app (the
/// framework's `auth`, say): they are never the project's top-level models, whether
/// or not the app is installed; `--app <label>` reaches them.
pub(crate) fn models_of(scopes: &[String], app: Option<&str>) -> SchemaSnapshot {
    let schemas = rustango_core::registry::models()
        .map(|e| e.schema)
        .filter(|s| {
            let label = rustango_migrate::app_label(s);
            match app {
                Some(app) => label == app,
                None => s.app.is_none() && !scopes.contains(&label),
            }
        });
    SchemaSnapshot::from_models(schemas)
}

/// Whether a registered model is part of this project: its own models, and those of
/// the apps it installed or keeps migrations for (a reusable app's models that are
/// merely linked in are not).
pub(crate) fn in_project(schema: &rustango_core::ModelSchema, scopes: &[String]) -> bool {
    schema.app.is_none() || scopes.contains(&rustango_migrate::app_label(schema))
}

fn print_progress(p: Progress<'_>) {
    match p {
        Progress::Migration {
            migration,
            direction,
        } => println!(
            "{} {migration}",
            match direction {
                Direction::Forward => "Applying",
                Direction::Backward => "Unapplying",
            }
        ),
        Progress::Operation {
            position,
            total,
            description,
            ..
        } => println!("  [{position}/{total}] {description}"),
        _ => {}
    }
}

fn finish_steps(steps: Vec<Step>, dry_run: bool) {
    if steps.is_empty() {
        println!("No migrations to apply.");
        return;
    }
    if dry_run {
        for step in &steps {
            println!(
                "-- {} {}",
                match step.direction {
                    Direction::Forward => "apply",
                    Direction::Backward => "unapply",
                },
                step.migration
            );
            for op in &step.operations {
                println!(
                    "-- [{}/{}] {}",
                    op.position,
                    step.operations.len(),
                    op.description
                );
                for sql in &op.statements {
                    println!("{sql};");
                }
            }
        }
        println!("-- dry run: nothing was changed");
    } else {
        println!("Done: {} migration(s).", steps.len());
    }
}

fn report(e: &Error) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::FAILURE
}
