//! The `manage` binary as a user runs it: exit codes, help, output, and what each
//! command does to the migration files and the database.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Project {
    root: PathBuf,
}

impl Project {
    /// An empty project directory with its own SQLite database.
    fn new() -> Project {
        let root = std::env::temp_dir().join(format!("rustango-cli-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&root).unwrap();
        Project { root }
    }

    fn migrations(&self) -> PathBuf {
        self.root.join("migrations")
    }

    fn db_url(&self) -> String {
        format!(
            "sqlite://{}?mode=rwc",
            self.root.join("db.sqlite3").display()
        )
    }

    /// Runs `manage` with this project's migrations and database.
    fn manage(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_manage"))
            .current_dir(&self.root)
            .env_remove("DATABASE_URL")
            .env_remove("RUSTANGO_ENV")
            .env_remove("SECRET_KEY")
            .arg("--migrations")
            .arg(self.migrations())
            .arg("--database-url")
            .arg(self.db_url())
            .args(args)
            .output()
            .expect("run manage")
    }

    fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.migrations())
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "expected success, got {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        stdout(o),
        stderr(o)
    );
    stdout(o)
}

/// A failure exits 1 with one `error:` line on stderr.
#[track_caller]
fn fails(o: &Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(1),
        "stdout:\n{}\nstderr:\n{}",
        stdout(o),
        stderr(o)
    );
    let err = stderr(o);
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    err
}

#[test]
fn every_command_has_help_and_bad_arguments_exit_2() {
    let p = Project::new();
    let top = ok(&p.manage(&["--help"]));
    for cmd in [
        "makemigrations",
        "migrate",
        "downgrade",
        "showmigrations",
        "add-data-op",
        "about",
        "check",
        "version",
        "docs",
    ] {
        assert!(top.contains(cmd), "{cmd} missing from --help:\n{top}");
        let help = ok(&p.manage(&[cmd, "--help"]));
        assert!(help.contains("Usage:"), "{cmd} --help:\n{help}");
    }
    assert_eq!(p.manage(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(p.manage(&["downgrade", "many"]).status.code(), Some(2));
    assert!(ok(&p.manage(&["--version"])).contains(env!("CARGO_PKG_VERSION")));
    assert!(ok(&p.manage(&["version"])).contains(env!("CARGO_PKG_VERSION")));
    assert!(ok(&p.manage(&["docs"])).contains("https://docs.rs/rustango"));
}

#[test]
fn makemigrations_migrate_showmigrations_downgrade() {
    let p = Project::new();
    let out = ok(&p.manage(&["makemigrations"]));
    assert!(out.contains("0001_initial.json"), "{out}");
    assert!(out.contains("create table posts"), "{out}");
    assert_eq!(p.files(), ["0001_initial.json"]);
    assert!(ok(&p.manage(&["makemigrations"])).contains("No changes detected"));
    assert_eq!(p.files(), ["0001_initial.json"]);

    // A dry run prints SQL and changes nothing.
    let dry = ok(&p.manage(&["migrate", "--dry-run"]));
    assert!(dry.contains("CREATE TABLE \"posts\""), "{dry}");
    assert!(dry.contains("dry run"), "{dry}");
    assert!(ok(&p.manage(&["showmigrations"])).contains("[ ] 0001_initial"));

    let applied = ok(&p.manage(&["migrate"]));
    assert!(applied.contains("Applying 0001_initial"), "{applied}");
    assert!(applied.contains("[1/"), "progress is shown: {applied}");
    let status = ok(&p.manage(&["status"]));
    assert!(status.contains("[X] 0001_initial"), "{status}");
    assert!(ok(&p.manage(&["migrate"])).contains("No migrations to apply"));
    let check = ok(&p.manage(&["check"]));
    assert!(check.contains("no issues"), "{check}");

    // A data migration, then back down one and to zero.
    let out = ok(&p.manage(&[
        "add-data-op",
        "--sql",
        "INSERT INTO authors (name) VALUES ('seeded'); INSERT INTO authors (name) VALUES ('seeded')",
        "--reverse-sql",
        "DELETE FROM authors WHERE name = 'seeded'",
        "--name",
        "seed_authors",
    ]));
    assert!(out.contains("0002_seed_authors.json"), "{out}");
    ok(&p.manage(&["migrate"]));
    assert!(ok(&p.manage(&["status"])).contains("[X] 0002_seed_authors"));
    let down = ok(&p.manage(&["downgrade"]));
    assert!(down.contains("Unapplying 0002_seed_authors"), "{down}");
    assert!(ok(&p.manage(&["status"])).contains("[ ] 0002_seed_authors"));
    // Targets: forward to a named migration, back to one named by its number.
    let fwd = ok(&p.manage(&["migrate", "0002_seed_authors"]));
    assert!(fwd.contains("Applying 0002_seed_authors"), "{fwd}");
    let back = ok(&p.manage(&["migrate", "0001"]));
    assert!(back.contains("Unapplying 0002_seed_authors"), "{back}");
    assert!(!back.contains("0001_initial"), "{back}");
    ok(&p.manage(&["migrate", "zero"]));
    let status = ok(&p.manage(&["showmigrations"]));
    assert!(status.contains("[ ] 0001_initial"), "{status}");
}

#[test]
fn errors_are_one_line_and_exit_1() {
    let p = Project::new();
    let err = fails(&p.manage(&["makemigrations", "--empty"]));
    assert!(err.contains("needs a name"), "{err}");
    ok(&p.manage(&["makemigrations"]));
    let err = fails(&p.manage(&["migrate", "0042_nope"]));
    assert!(err.contains("0042_nope"), "{err}");
    let err = fails(&p.manage(&["add-data-op", "--to", "0009", "--sql", "SELECT 1"]));
    assert!(err.contains("0009"), "{err}");

    // A migration that fails names the operation and leaves nothing behind.
    ok(&p.manage(&["migrate"]));
    ok(&p.manage(&[
        "add-data-op",
        "--sql",
        "INSERT INTO nowhere VALUES (1)",
        "--name",
        "broken",
    ]));
    let err = fails(&p.manage(&["migrate"]));
    assert!(
        err.contains("0002_broken") && err.contains("operation 1 of 1"),
        "{err}"
    );
    assert!(ok(&p.manage(&["status"])).contains("[ ] 0002_broken"));

    // Editing an applied migration is refused.
    let initial = p.migrations().join("0001_initial.json");
    let text = std::fs::read_to_string(&initial).unwrap();
    std::fs::write(&initial, text.replacen("\"posts\"", "\"articles\"", 1)).unwrap();
    let err = fails(&p.manage(&["migrate"]));
    assert!(err.contains("changed after it was applied"), "{err}");

    // An unreachable database is one line too.
    let out = Command::new(env!("CARGO_BIN_EXE_manage"))
        .args(["--database-url", "mysql://nowhere/db", "showmigrations"])
        .arg("--migrations")
        .arg(p.migrations())
        .output()
        .unwrap();
    fails(&out);
}

#[test]
fn dry_run_changes_nothing_in_the_database() {
    let p = Project::new();
    ok(&p.manage(&["makemigrations"]));
    ok(&p.manage(&["migrate", "--dry-run"]));
    ok(&p.manage(&["migrate", "zero", "--dry-run"]));
    ok(&p.manage(&["downgrade", "--dry-run"]));
    // Nothing applied: the check reports the pending migration and fails.
    let out = p.manage(&["check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("not applied: 0001_initial"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn check_reports_models_without_migrations_and_drift() {
    let p = Project::new();
    std::fs::create_dir_all(p.migrations()).unwrap();
    // No migration for the models yet.
    let out = p.manage(&["check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("no migration records"),
        "{}",
        stdout(&out)
    );

    ok(&p.manage(&["makemigrations"]));
    ok(&p.manage(&["migrate"]));
    ok(&p.manage(&["check"]));
    // Someone changes the live schema by hand.
    ok(&p.manage(&[
        "add-data-op",
        "--sql",
        "CREATE TABLE stray (id INTEGER)",
        "--name",
        "stray",
    ]));
    ok(&p.manage(&["migrate"]));
    let out = p.manage(&["check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("stray"), "{}", stdout(&out));
}

#[test]
fn check_deploy_wants_production_settings() {
    let p = Project::new();
    ok(&p.manage(&["makemigrations"]));
    ok(&p.manage(&["migrate"]));
    let out = p.manage(&["check", "--deploy"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("RUSTANGO_ENV is not set"), "{text}");
    assert!(text.contains("SECRET_KEY is not set"), "{text}");

    // Production settings come from the environment, DATABASE_URL included.
    let deploy_check = |secret_key: &str| {
        Command::new(env!("CARGO_BIN_EXE_manage"))
            .current_dir(&p.root)
            .env("RUSTANGO_ENV", "prod")
            .env("SECRET_KEY", secret_key)
            .env("DATABASE_URL", p.db_url())
            .arg("--migrations")
            .arg(p.migrations())
            .args(["check", "--deploy"])
            .output()
            .unwrap()
    };
    let text = ok(&deploy_check("0123456789abcdef0123456789abcdef"));
    assert!(text.contains("no issues"), "{text}");

    let out = deploy_check("short");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("SECRET_KEY is 5 bytes"),
        "{}",
        stdout(&out)
    );
    assert!(
        !stdout(&out).contains("short"),
        "the key itself is never printed"
    );

    // The server's middleware settings: a defence turned off fails the check, and
    // SQLite in production is a warning.
    assert!(
        text.contains("WARN  DATABASE_URL points at SQLite"),
        "{text}"
    );
    std::fs::write(
        p.root.join("rustango.toml"),
        "[middleware]\nsecurity_headers = \"off\"\ncsrf = false\n",
    )
    .unwrap();
    let out = deploy_check("0123456789abcdef0123456789abcdef");
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("FAIL  [middleware] security_headers = \"off\""),
        "{text}"
    );
    assert!(text.contains("FAIL  [middleware] csrf = false"), "{text}");
}

#[test]
fn about_lists_models_apps_and_the_database() {
    let p = Project::new();
    let out = ok(&p.manage(&["about"]));
    assert!(out.contains("models:     3"), "{out}");
    assert!(out.contains("apps:       blog"), "{out}");
    assert!(out.contains("reachable:  yes"), "{out}");
}

#[test]
fn the_shipped_migrations_match_the_models_and_are_embedded() {
    // The example's own migrations/ directory is up to date with its models.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let p = Project::new();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_manage"))
            .env_remove("DATABASE_URL")
            .arg("--migrations")
            .arg(&dir)
            .arg("--database-url")
            .arg(p.db_url())
            .args(args)
            .output()
            .unwrap()
    };
    ok(&run(&["migrate"]));
    let check = ok(&run(&["check"]));
    assert!(check.contains("no issues"), "{check}");
    // A mistyped directory is an empty one, not a silent switch to other files.
    let typo = Command::new(env!("CARGO_BIN_EXE_manage"))
        .env_remove("DATABASE_URL")
        .arg("--migrations")
        .arg(p.root.join("not-here"))
        .args(["--database-url", &p.db_url(), "about"])
        .output()
        .unwrap();
    assert!(ok(&typo).contains("migrations: 0"), "{}", stdout(&typo));
    // With --embedded, the binary uses the files compiled into it.
    let embedded = Command::new(env!("CARGO_BIN_EXE_manage"))
        .current_dir(&p.root)
        .env_remove("DATABASE_URL")
        .arg("--embedded")
        .arg("--database-url")
        .arg(p.db_url())
        .arg("about")
        .output()
        .unwrap();
    let text = ok(&embedded);
    assert!(text.contains("embedded in the binary"), "{text}");
    assert!(text.contains("pending:    0"), "{text}");
}

/// Two `manage migrate` processes at once against one PostgreSQL database: each
/// migration is applied once, and both processes succeed.
#[cfg(feature = "__test-pg")]
#[test]
fn postgres_two_concurrent_migrate_processes_apply_each_migration_once() {
    let base = std::env::var("DATABASE_URL").expect(
        "DATABASE_URL is not set: the PostgreSQL suite needs a server; run it with `cargo xtask test-pg`",
    );
    let name = format!("rustango_cli_{}", uuid::Uuid::new_v4().simple());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let admin = rt
        .block_on(rustango::sql::Pool::connect(&base))
        .expect("connect to DATABASE_URL");
    rt.block_on(rustango::sql::raw::execute(
        &admin,
        &format!("CREATE DATABASE \"{name}\""),
        vec![],
    ))
    .unwrap();
    let url = format!("{}/{name}", &base[..base.rfind('/').unwrap()]);

    let p = Project::new();
    ok(&p.manage(&["makemigrations"]));
    for i in 0..4 {
        ok(&p.manage(&[
            "add-data-op",
            "--sql",
            // Two statements in one operation: sent as one script.
            &format!("CREATE TABLE extra_{i} (id BIGINT); INSERT INTO extra_{i} VALUES ({i})"),
            "--reverse-sql",
            &format!("DROP TABLE extra_{i}"),
            "--name",
            &format!("extra_{i}"),
        ]));
    }
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_manage"))
            .arg("--migrations")
            .arg(p.migrations())
            .args(["--database-url", &url, "migrate"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let (out_a, out_b) = (ok(&a), ok(&b));
    let applied_by = |o: &str| o.matches("Applying ").count();
    assert_eq!(
        applied_by(&out_a) + applied_by(&out_b),
        5,
        "{out_a}\n---\n{out_b}"
    );

    let pool = rt.block_on(rustango::sql::Pool::connect(&url)).unwrap();
    let rows = rt
        .block_on(rustango::sql::raw::fetch(
            &pool,
            "SELECT name, COUNT(*) FROM rustango_migrations GROUP BY name",
            vec![],
            &[
                rustango::core::ValueKind::String,
                rustango::core::ValueKind::I64,
            ],
        ))
        .unwrap();
    assert_eq!(rows.len(), 5);
    assert!(rows.iter().all(|r| r[1] == rustango::core::Value::I64(1)));
    rt.block_on(pool.close());

    // The other commands against PostgreSQL.
    let manage = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_manage"))
            .arg("--migrations")
            .arg(p.migrations())
            .args(["--database-url", &url])
            .args(args)
            .output()
            .unwrap()
    };
    assert!(ok(&manage(&["status"])).contains("[X] 0005_extra_3"));
    // The tables the data migrations made by hand are drift; the rest is in order.
    let check = manage(&["check"]);
    assert_eq!(check.status.code(), Some(1));
    let text = stdout(&check);
    assert!(text.contains("is reachable"), "{text}");
    assert!(text.contains("ok    every migration is applied"), "{text}");
    assert!(
        text.contains("table `extra_0` is not in the migrations"),
        "{text}"
    );
    assert_eq!(text.matches("FAIL").count(), 4, "{text}");
    let about = ok(&manage(&["about"]));
    assert!(about.contains("reachable:  yes (Postgres)"), "{about}");
    let dry = ok(&manage(&["downgrade", "2", "--dry-run"]));
    assert!(dry.contains("DROP TABLE extra_3"), "{dry}");
    assert!(ok(&manage(&["status"])).contains("[X] 0005_extra_3"));
    let down = ok(&manage(&["downgrade", "2"]));
    assert!(down.contains("Unapplying 0005_extra_3") && down.contains("Unapplying 0004_extra_2"));
    let status = ok(&manage(&["status"]));
    assert!(status.contains("[ ] 0004_extra_2") && status.contains("[X] 0003_extra_1"));
    ok(&manage(&["migrate", "zero"]));
    rt.block_on(rustango::sql::raw::execute(
        &admin,
        &format!("DROP DATABASE \"{name}\" WITH (FORCE)"),
        vec![],
    ))
    .unwrap();
}

#[test]
fn per_app_migration_directories() {
    let p = Project::new();
    let out = ok(&p.manage(&["makemigrations", "--app", "blog"]));
    assert!(out.contains("blog/0001_initial.json"), "{out}");
    // Every model now has its app's directory: the top level has nothing to do.
    let err = fails(&p.manage(&["makemigrations"]));
    assert!(err.contains("--app"), "{err}");
    let err = fails(&p.manage(&["makemigrations", "--app", "shop"]));
    assert!(err.contains("`shop`"), "{err}");
    assert!(ok(&p.manage(&["makemigrations", "--app", "blog"])).contains("No changes"));
    let applied = ok(&p.manage(&["migrate"]));
    assert!(applied.contains("Applying blog/0001_initial"), "{applied}");
    assert!(ok(&p.manage(&["status"])).contains("[X] blog/0001_initial"));
    let check = ok(&p.manage(&["check"]));
    assert!(check.contains("no issues"), "{check}");
    ok(&p.manage(&["migrate", "blog/0001_initial"]));
    let back = ok(&p.manage(&["migrate", "zero"]));
    assert!(back.contains("Unapplying blog/0001_initial"), "{back}");
}
