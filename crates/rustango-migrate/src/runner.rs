//! Applying and unapplying migrations against a database.
//!
//! Each migration runs in one transaction with its record in the `rustango_migrations`
//! table: it applies completely or not at all, and a failure names the operation. Every
//! transaction first takes a lock (a PostgreSQL advisory lock; SQLite's write lock via
//! `BEGIN IMMEDIATE`) and re-reads what is applied, so two processes that run `migrate`
//! at once apply each migration once.

use rustango_core::{Value, ValueKind};
use rustango_orm::{Conn, Pool, raw, schema_transaction};
use rustango_query::{Dialect, DialectKind, quote_ident};

use crate::plan::{PlannedOp, plan};
use crate::source::{MigrationFile, MigrationSet, label};
use crate::{Error, SchemaSnapshot};

/// The table that records applied migrations.
pub const APPLIED_TABLE: &str = "rustango_migrations";

/// The PostgreSQL advisory lock key every migrating process takes.
const LOCK_KEY: i64 = 0x7275_7374_616e_676f; // "rustango"

/// Where `migrate` should leave the database.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Target {
    /// Every migration applied.
    Latest,
    /// No migration applied (every one unapplied, last first).
    Zero,
    /// The named migration (`name` or `app/name`) and those before it in its app
    /// applied, the later ones of its app unapplied.
    Named(String),
}

impl Target {
    /// `zero`, a migration name, or `None` for the latest.
    pub fn parse(target: Option<&str>) -> Target {
        match target {
            None => Target::Latest,
            Some("zero") => Target::Zero,
            Some(name) => Target::Named(name.to_owned()),
        }
    }
}

/// Which way a migration goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Applying.
    Forward,
    /// Unapplying.
    Backward,
}

/// One migration applied or unapplied (or, in a dry run, that would be).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// `name` or `app/name`.
    pub migration: String,
    /// Which way.
    pub direction: Direction,
    /// Its operations and their SQL.
    pub operations: Vec<PlannedOp>,
}

impl Step {
    /// Every statement of the step, in order.
    pub fn statements(&self) -> impl Iterator<Item = &str> {
        self.operations
            .iter()
            .flat_map(|o| o.statements.iter().map(String::as_str))
    }
}

/// What a runner reports while it works.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Progress<'a> {
    /// A migration starts.
    Migration {
        /// `name` or `app/name`.
        migration: &'a str,
        /// Which way.
        direction: Direction,
    },
    /// An operation starts.
    Operation {
        /// `name` or `app/name`.
        migration: &'a str,
        /// 1-based position.
        position: usize,
        /// How many operations the migration has.
        total: usize,
        /// What it does.
        description: &'a str,
    },
}

/// One row of `showmigrations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    /// `name` or `app/name`.
    pub migration: String,
    /// When it was applied, if it was.
    pub applied_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Clone)]
struct Applied {
    app: String,
    name: String,
    checksum: String,
    applied_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl Applied {
    fn label(&self) -> String {
        label(
            (!self.app.is_empty()).then_some(self.app.as_str()),
            &self.name,
        )
    }
}

/// A progress callback.
type ProgressFn<'a> = Box<dyn FnMut(Progress<'_>) + Send + Sync + 'a>;

/// Applies and unapplies a [`MigrationSet`] on a [`Pool`].
pub struct Runner<'a> {
    pool: &'a Pool,
    set: &'a MigrationSet,
    progress: Option<ProgressFn<'a>>,
}

impl std::fmt::Debug for Runner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("migrations", &self.set.files().len())
            .finish()
    }
}

fn q(d: &dyn Dialect, name: &str) -> String {
    let mut s = String::new();
    quote_ident(d, name, &mut s);
    s
}

fn placeholders(d: &dyn Dialect, n: usize) -> Vec<String> {
    (1..=n)
        .map(|i| {
            let mut s = String::new();
            d.placeholder(i, &mut s);
            s
        })
        .collect()
}

/// What to do next, given what is applied.
enum Goal {
    /// Apply every pending migration.
    Latest,
    /// Bring one app to a position: apply up to and including `upto` (or nothing when
    /// `None`), unapply the rest of that app.
    App {
        app: Option<String>,
        upto: Option<usize>,
    },
    /// Unapply these migrations (positions in the set).
    Unapply(Vec<usize>),
    /// Unapply the last applied migration, this many times.
    Downgrade(usize),
}

impl<'a> Runner<'a> {
    /// A runner for `set` on `pool`.
    pub fn new(pool: &'a Pool, set: &'a MigrationSet) -> Self {
        Runner {
            pool,
            set,
            progress: None,
        }
    }

    /// Calls `f` as each migration and operation starts (the CLI prints "operation n
    /// of m").
    pub fn on_progress(mut self, f: impl FnMut(Progress<'_>) + Send + Sync + 'a) -> Self {
        self.progress = Some(Box::new(f));
        self
    }

    fn report(&mut self, p: Progress<'_>) {
        if let Some(f) = &mut self.progress {
            f(p);
        }
    }

    /// Every migration with whether (and when) it is applied.
    pub async fn status(&self) -> Result<Vec<MigrationStatus>, Error> {
        let applied = self.read_applied_unlocked().await?;
        self.validate(&applied)?;
        Ok(self
            .set
            .files()
            .iter()
            .map(|f| MigrationStatus {
                migration: f.label(),
                applied_at: applied
                    .iter()
                    .find(|a| a.label() == f.label())
                    .and_then(|a| a.applied_at),
            })
            .collect())
    }

    /// The migrations not applied yet.
    pub async fn pending(&self) -> Result<Vec<String>, Error> {
        Ok(self
            .status()
            .await?
            .into_iter()
            .filter(|s| s.applied_at.is_none())
            .map(|s| s.migration)
            .collect())
    }

    /// Applies or unapplies migrations until `target` is reached.
    pub async fn migrate(&mut self, target: &Target) -> Result<Vec<Step>, Error> {
        let goal = self.goal(target)?;
        self.run(goal, false).await
    }

    /// The steps `migrate` would take and their SQL, changing nothing.
    pub async fn dry_run(&mut self, target: &Target) -> Result<Vec<Step>, Error> {
        let goal = self.goal(target)?;
        self.run(goal, true).await
    }

    /// Unapplies the last `n` applied migrations, last first.
    pub async fn downgrade(&mut self, n: usize, dry_run: bool) -> Result<Vec<Step>, Error> {
        // Which migrations are "last" is decided under the lock, one at a time, so a
        // concurrent `migrate` cannot make this unapply out of order.
        self.run(Goal::Downgrade(n), dry_run).await
    }

    fn goal(&self, target: &Target) -> Result<Goal, Error> {
        Ok(match target {
            Target::Latest => Goal::Latest,
            Target::Zero => Goal::Unapply((0..self.set.files().len()).collect()),
            Target::Named(name) => {
                let pos = self.find(name)?;
                Goal::App {
                    app: self.set.files()[pos].app.clone(),
                    upto: Some(pos),
                }
            }
        })
    }

    /// A migration by its full label, or by a prefix that names exactly one
    /// (`0002` for `0002_add_slug`, as Django allows).
    fn find(&self, name: &str) -> Result<usize, Error> {
        if let Some(pos) = self.set.position(name) {
            return Ok(pos);
        }
        let matches: Vec<usize> = self
            .set
            .files()
            .iter()
            .enumerate()
            .filter(|(_, f)| f.label().starts_with(&format!("{name}_")))
            .map(|(i, _)| i)
            .collect();
        match matches.as_slice() {
            [one] => Ok(*one),
            _ => Err(Error::UnknownTarget(name.to_owned())),
        }
    }

    /// The next migration to apply or unapply, if any.
    fn next(&self, goal: &Goal, applied: &[Applied], done: usize) -> Option<(usize, Direction)> {
        let is_applied = |f: &MigrationFile| applied.iter().any(|a| a.label() == f.label());
        let files = self.set.files();
        match goal {
            Goal::Latest => files
                .iter()
                .position(|f| !is_applied(f))
                .map(|i| (i, Direction::Forward)),
            Goal::App { app, upto } => {
                let in_app = |i: &usize| files[*i].app == *app;
                // Unapply the app's migrations after the target, last first.
                let unapply = (0..files.len())
                    .rev()
                    .filter(in_app)
                    .find(|i| upto.is_none_or(|u| *i > u) && is_applied(&files[*i]));
                if let Some(i) = unapply {
                    return Some((i, Direction::Backward));
                }
                (0..files.len())
                    .filter(in_app)
                    .find(|i| upto.is_some_and(|u| *i <= u) && !is_applied(&files[*i]))
                    .map(|i| (i, Direction::Forward))
            }
            Goal::Unapply(list) => list
                .iter()
                .rev()
                .find(|i| is_applied(&files[**i]))
                .map(|i| (*i, Direction::Backward)),
            Goal::Downgrade(n) if done < *n => (0..files.len())
                .rev()
                .find(|i| is_applied(&files[*i]))
                .map(|i| (i, Direction::Backward)),
            Goal::Downgrade(_) => None,
        }
    }

    /// Checks the recorded history against the files: every applied migration has its
    /// file, unchanged, and within each app the applied ones come first.
    fn validate(&self, applied: &[Applied]) -> Result<(), Error> {
        let apps = self.set.apps();
        for a in applied {
            if self.set.is_partial() && !apps.contains(&a.app) {
                continue;
            }
            let label = a.label();
            let file = self
                .set
                .files()
                .iter()
                .find(|f| f.label() == label)
                .ok_or_else(|| Error::MissingFile {
                    migration: label.clone(),
                })?;
            if file.checksum != a.checksum {
                return Err(Error::ChecksumMismatch {
                    migration: label,
                    applied: a.checksum.clone(),
                    found: file.checksum.clone(),
                });
            }
        }
        let mut pending_in_app: std::collections::HashMap<Option<&str>, &str> =
            std::collections::HashMap::new();
        for f in self.set.files() {
            let label = f.label();
            let is_applied = applied.iter().any(|a| a.label() == label);
            match (is_applied, pending_in_app.get(&f.app.as_deref())) {
                (true, Some(pending)) => {
                    return Err(Error::OutOfOrder {
                        pending: (*pending).to_owned(),
                        applied: label,
                    });
                }
                (false, None) => {
                    pending_in_app.insert(f.app.as_deref(), &f.name);
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The schema the applied migrations leave, replayed in set order.
    fn applied_state(&self, applied: &[Applied]) -> Result<SchemaSnapshot, Error> {
        self.set
            .files()
            .iter()
            .filter(|f| applied.iter().any(|a| a.label() == f.label()))
            .try_fold(SchemaSnapshot::default(), |s, f| {
                s.replay(&f.migration.forward)
            })
    }

    fn step_for(
        &self,
        d: &dyn Dialect,
        applied: &[Applied],
        index: usize,
        direction: Direction,
    ) -> Result<Step, Error> {
        let file = &self.set.files()[index];
        let mut state = self.applied_state(applied)?;
        let ops = match direction {
            Direction::Forward => file.migration.forward.clone(),
            Direction::Backward => file.migration.backward()?,
        };
        let operations = plan(d, &mut state, &ops).map_err(|e| match e {
            e @ Error::BadOperation { .. } => Error::InMigration {
                migration: file.label(),
                source: Box::new(e),
            },
            e => e,
        })?;
        Ok(Step {
            migration: file.label(),
            direction,
            operations,
        })
    }

    async fn run(&mut self, goal: Goal, dry_run: bool) -> Result<Vec<Step>, Error> {
        let d = self.pool.dialect();
        let mut steps = Vec::new();
        if dry_run {
            let mut applied = self.read_applied_unlocked().await?;
            self.validate(&applied)?;
            while let Some((index, direction)) = self.next(&goal, &applied, steps.len()) {
                let step = self.step_for(d, &applied, index, direction)?;
                let file = &self.set.files()[index];
                match direction {
                    Direction::Forward => applied.push(Applied {
                        app: file.app.clone().unwrap_or_default(),
                        name: file.name.clone(),
                        checksum: file.checksum.clone(),
                        applied_at: None,
                    }),
                    Direction::Backward => applied.retain(|a| a.label() != file.label()),
                }
                steps.push(step);
            }
            return Ok(steps);
        }
        loop {
            let pool = self.pool;
            // Each migration: lock, re-read what is applied, do one step, record it.
            let this = &mut *self;
            let goal = &goal;
            let done = steps.len();
            // The migration being committed, to name it if the commit fails.
            let attempted = std::sync::Mutex::new(None::<String>);
            let attempted_ref = &attempted;
            let step = schema_transaction(pool, |mut conn| async move {
                let step = this.run_one(&mut conn, goal, done).await;
                if let (Ok(Some(step)), Ok(mut slot)) = (&step, attempted_ref.lock()) {
                    *slot = Some(step.migration.clone());
                }
                step.map_err(Wrapped::wrap)
            })
            .await;
            let step = match step {
                Ok(step) => step,
                Err(e) => {
                    let e = Wrapped::unwrap(e);
                    let attempted = attempted.lock().ok().and_then(|mut s| s.take());
                    return Err(match (e, attempted) {
                        (Error::Database(source), Some(migration)) => {
                            Error::CommitFailed { migration, source }
                        }
                        (e, _) => e,
                    });
                }
            };
            match step {
                Some(step) => steps.push(step),
                None => return Ok(steps),
            }
        }
    }

    async fn run_one(
        &mut self,
        conn: &mut Conn,
        goal: &Goal,
        done: usize,
    ) -> Result<Option<Step>, Error> {
        let d = self.pool.dialect();
        if d.kind() == DialectKind::Postgres {
            raw::execute(
                &mut *conn,
                &format!("SELECT pg_advisory_xact_lock({LOCK_KEY})"),
                Vec::new(),
            )
            .await?;
        }
        raw::execute(&mut *conn, &create_applied_table(d), Vec::new()).await?;
        let applied = read_applied(&mut *conn, d).await?;
        self.validate(&applied)?;
        let Some((index, direction)) = self.next(goal, &applied, done) else {
            return Ok(None);
        };
        let step = self.step_for(d, &applied, index, direction)?;
        let file = &self.set.files()[index];
        let label = file.label();
        self.report(Progress::Migration {
            migration: &label,
            direction,
        });
        let total = step.operations.len();
        for op in &step.operations {
            self.report(Progress::Operation {
                migration: &label,
                position: op.position,
                total,
                description: &op.description,
            });
            let fail = |source| Error::OperationFailed {
                migration: label.clone(),
                position: op.position,
                total,
                operation: op.description.clone(),
                source: Box::new(source),
            };
            let kept = match &op.rebuild {
                Some(rebuild) if d.kind() == DialectKind::Sqlite => {
                    Some(keep_sqlite_objects(conn, d, rebuild).await.map_err(fail)?)
                }
                _ => None,
            };
            for sql in &op.statements {
                // Statements without parameters go over the simple protocol, so a
                // RunSql may hold several.
                raw::execute_script(&mut *conn, sql).await.map_err(fail)?;
            }
            if let Some(kept) = kept {
                kept.restore(conn).await.map_err(fail)?;
            }
        }
        let app = file.app.clone().unwrap_or_default();
        let table = q(d, APPLIED_TABLE);
        match direction {
            Direction::Forward => {
                let ph = placeholders(d, 4);
                raw::execute(
                    &mut *conn,
                    &format!(
                        "INSERT INTO {table} ({}, {}, {}, {}) VALUES ({})",
                        q(d, "app"),
                        q(d, "name"),
                        q(d, "checksum"),
                        q(d, "applied_at"),
                        ph.join(", ")
                    ),
                    vec![
                        Value::String(app),
                        Value::String(file.name.clone()),
                        Value::String(file.checksum.clone()),
                        Value::DateTime(chrono::Utc::now()),
                    ],
                )
                .await?;
            }
            Direction::Backward => {
                let ph = placeholders(d, 2);
                raw::execute(
                    &mut *conn,
                    &format!(
                        "DELETE FROM {table} WHERE {} = {} AND {} = {}",
                        q(d, "app"),
                        ph[0],
                        q(d, "name"),
                        ph[1]
                    ),
                    vec![Value::String(app), Value::String(file.name.clone())],
                )
                .await?;
            }
        }
        Ok(Some(step))
    }

    /// Reads the applied migrations without taking the lock (status, dry runs); no
    /// table yet means nothing applied.
    async fn read_applied_unlocked(&self) -> Result<Vec<Applied>, Error> {
        let d = self.pool.dialect();
        let (sql, params) = match d.kind() {
            DialectKind::Postgres => (
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = $1",
                vec![Value::String(APPLIED_TABLE.to_owned())],
            ),
            _ => (
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
                vec![Value::String(APPLIED_TABLE.to_owned())],
            ),
        };
        let rows = raw::fetch(self.pool, sql, params, &[ValueKind::I64]).await?;
        if matches!(rows.first().and_then(|r| r.first()), Some(Value::I64(0))) {
            return Ok(Vec::new());
        }
        read_applied(self.pool, d).await
    }
}

/// What a SQLite rebuild would lose, saved before it and restored after it.
struct KeptObjects {
    table: String,
    /// `CREATE` statements of views, triggers and the table's own indexes, in schema
    /// order.
    create: Vec<String>,
    /// The table's `AUTOINCREMENT` counter.
    sequence: Option<i64>,
}

/// Saves the schema objects a rebuild of `rebuild.table` would drop or break (views and
/// triggers anywhere, since they may name the table; indexes of the table that the
/// snapshot does not list) and drops the views and triggers, which SQLite would
/// otherwise check against the half-rebuilt schema.
async fn keep_sqlite_objects(
    conn: &mut Conn,
    d: &dyn Dialect,
    rebuild: &crate::plan::Rebuild,
) -> Result<KeptObjects, rustango_orm::Error> {
    let rows = raw::fetch(
        &mut *conn,
        "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL \
         AND (type IN ('view', 'trigger') OR (type = 'index' AND tbl_name = ?)) ORDER BY rowid",
        vec![Value::String(rebuild.table.clone())],
        &[ValueKind::String, ValueKind::String, ValueKind::String],
    )
    .await?;
    let mut create = Vec::new();
    for row in rows {
        let [Value::String(kind), Value::String(name), Value::String(sql)] = &row[..] else {
            continue;
        };
        match kind.as_str() {
            "index" if rebuild.indexes.contains(name) => continue,
            "index" => {}
            "view" => {
                raw::execute_script(&mut *conn, &format!("DROP VIEW {}", q(d, name))).await?;
            }
            _ => {
                raw::execute_script(&mut *conn, &format!("DROP TRIGGER {}", q(d, name))).await?;
            }
        }
        create.push(sql.clone());
    }
    let sequence = if rebuild.autoincrement {
        raw::fetch(
            &mut *conn,
            "SELECT seq FROM sqlite_sequence WHERE name = ?",
            vec![Value::String(rebuild.table.clone())],
            &[ValueKind::I64],
        )
        .await?
        .into_iter()
        .next()
        .and_then(|r| match r.first() {
            Some(Value::I64(n)) => Some(*n),
            _ => None,
        })
    } else {
        None
    };
    Ok(KeptObjects {
        table: rebuild.table.clone(),
        create,
        sequence,
    })
}

impl KeptObjects {
    async fn restore(self, conn: &mut Conn) -> Result<(), rustango_orm::Error> {
        if let Some(seq) = self.sequence {
            // AUTOINCREMENT never reuses a key: the copy only raised the new table's
            // counter to the largest key left.
            raw::execute(
                &mut *conn,
                "DELETE FROM sqlite_sequence WHERE name = ?",
                vec![Value::String(self.table.clone())],
            )
            .await?;
            raw::execute(
                &mut *conn,
                "INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)",
                vec![Value::String(self.table), Value::I64(seq)],
            )
            .await?;
        }
        for sql in &self.create {
            raw::execute_script(&mut *conn, sql).await?;
        }
        Ok(())
    }
}

/// `CREATE TABLE IF NOT EXISTS rustango_migrations (…)`.
fn create_applied_table(d: &dyn Dialect) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {} ({} VARCHAR(100) NOT NULL, {} VARCHAR(200) NOT NULL, \
         {} VARCHAR(64) NOT NULL, {} {} NOT NULL, PRIMARY KEY ({}, {}))",
        q(d, APPLIED_TABLE),
        q(d, "app"),
        q(d, "name"),
        q(d, "checksum"),
        q(d, "applied_at"),
        d.cast_type(ValueKind::DateTime),
        q(d, "app"),
        q(d, "name"),
    )
}

async fn read_applied<'e>(
    exec: impl rustango_orm::Executor<'e>,
    d: &dyn Dialect,
) -> Result<Vec<Applied>, Error> {
    let sql = format!(
        "SELECT {}, {}, {}, {} FROM {}",
        q(d, "app"),
        q(d, "name"),
        q(d, "checksum"),
        q(d, "applied_at"),
        q(d, APPLIED_TABLE)
    );
    let rows = raw::fetch(
        exec,
        &sql,
        Vec::new(),
        &[
            ValueKind::String,
            ValueKind::String,
            ValueKind::String,
            ValueKind::DateTime,
        ],
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let mut r = r.into_iter();
            let mut text = || match r.next() {
                Some(Value::String(s)) => s,
                _ => String::new(),
            };
            let (app, name, checksum) = (text(), text(), text());
            Applied {
                app,
                name,
                checksum,
                applied_at: match r.next() {
                    Some(Value::DateTime(t)) => Some(t),
                    _ => None,
                },
            }
        })
        .collect())
}

/// Carries a migration error through `schema_transaction`, whose closure must return
/// the ORM's error type.
struct Wrapped;

impl Wrapped {
    fn wrap(e: Error) -> rustango_orm::Error {
        match e {
            Error::Database(e) => *e,
            other => rustango_orm::Error::Other(Box::new(other)),
        }
    }

    fn unwrap(e: rustango_orm::Error) -> Error {
        match e {
            rustango_orm::Error::Other(inner) => match inner.downcast::<Error>() {
                Ok(e) => *e,
                Err(inner) => rustango_orm::Error::Other(inner).into(),
            },
            e => e.into(),
        }
    }
}

/// Applies every pending migration of `set` (see [`Runner`] for progress reports and
/// other targets).
pub async fn migrate(pool: &Pool, set: &MigrationSet) -> Result<Vec<Step>, Error> {
    Runner::new(pool, set).migrate(&Target::Latest).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    /// Migrating from a spawned task (a server's start-up) needs `Send` futures.
    #[test]
    fn runner_futures_are_send() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let pool = rt.block_on(Pool::connect("sqlite::memory:")).unwrap();
        let set = MigrationSet::default();
        let mut runner = Runner::new(&pool, &set).on_progress(|_| {});
        let fut = runner.migrate(&Target::Latest);
        assert_send(&fut);
        assert!(rt.block_on(fut).unwrap().is_empty());
        let fut = migrate(&pool, &set);
        assert_send(&fut);
        assert!(rt.block_on(fut).unwrap().is_empty());
    }
}
