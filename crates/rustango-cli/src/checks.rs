//! `about` and `check`.

use rustango_migrate::{MigrationSet, Runner, SchemaSnapshot};
use rustango_orm::Pool;

use crate::{Cli, Error, Manage, app_scopes, models_of};

/// The database URL without secrets, for printing (the one masking function, in
/// `rustango-config`).
pub(crate) fn redact(url: &str) -> String {
    rustango_config::mask_url(url)
}

async fn reachable(pool: &Pool) -> Result<(), rustango_orm::Error> {
    rustango_orm::raw::fetch(
        pool,
        "SELECT CAST(1 AS BIGINT)",
        Vec::new(),
        &[rustango_core::ValueKind::I64],
    )
    .await
    .map(drop)
}

fn apps(scopes: &[String]) -> Vec<String> {
    let mut apps: Vec<String> = rustango_core::registry::models()
        .filter(|e| crate::in_project(e.schema, scopes))
        .map(|e| rustango_migrate::app_label(e.schema))
        .collect();
    apps.sort();
    apps.dedup();
    apps
}

pub(crate) async fn about(manage: &Manage, cli: &Cli) -> Result<(), Error> {
    let url = manage.database_url(cli);
    let dir = manage.dir(cli);
    let set = manage.migration_set(cli)?;
    let scopes = app_scopes(&dir, &set);
    println!("rustango {}", env!("CARGO_PKG_VERSION"));
    println!(
        "models:     {}",
        rustango_core::registry::models()
            .filter(|e| crate::in_project(e.schema, &scopes))
            .count()
    );
    println!("apps:       {}", apps(&scopes).join(", "));
    let source = if manage.uses_embedded(cli) {
        "embedded in the binary".to_owned()
    } else {
        dir.display().to_string()
    };
    println!("migrations: {} ({source})", set.files().len());
    println!("database:   {}", redact(&url));
    match Pool::connect(&url).await {
        Ok(pool) => {
            let ok = reachable(&pool).await;
            let pending = Runner::new(&pool, &set).pending().await;
            pool.close().await;
            match ok {
                Ok(()) => println!("reachable:  yes ({:?})", pool.backend()),
                Err(e) => println!("reachable:  no ({e})"),
            }
            if let Ok(p) = pending {
                println!("pending:    {}", p.len());
            }
        }
        Err(e) => println!("reachable:  no ({e})"),
    }
    Ok(())
}

/// One finding of `check`.
struct Findings {
    problems: Vec<String>,
}

impl Findings {
    fn ok(&self, what: &str) {
        println!("ok    {what}");
    }
    fn fail(&mut self, what: String) {
        println!("FAIL  {what}");
        self.problems.push(what);
    }
    fn warn(&self, what: &str) {
        println!("WARN  {what}");
    }
}

pub(crate) async fn check(manage: &Manage, cli: &Cli, deploy: bool) -> Result<(), Error> {
    let mut f = Findings {
        problems: Vec::new(),
    };
    let url = manage.database_url(cli);
    let dir = manage.dir(cli);

    // Models whose changes no migration records (only where the files are at hand).
    let set = match manage.migration_set(cli) {
        Ok(set) => Some(set),
        Err(e) => {
            f.fail(format!("migrations cannot be read: {e}"));
            None
        }
    };
    if let Some(set) = &set {
        unmigrated_models(&mut f, &dir, set);
    }

    match Pool::connect(&url).await {
        Err(e) => f.fail(format!("database {} is not reachable: {e}", redact(&url))),
        Ok(pool) => {
            match reachable(&pool).await {
                Ok(()) => f.ok(&format!("database {} is reachable", redact(&url))),
                Err(e) => f.fail(format!("database {} is not reachable: {e}", redact(&url))),
            }
            if let Some(set) = &set {
                match Runner::new(&pool, set).pending().await {
                    Ok(p) if p.is_empty() => f.ok("every migration is applied"),
                    Ok(p) => f.fail(format!(
                        "{} migration(s) not applied: {} (run `manage migrate`)",
                        p.len(),
                        p.join(", ")
                    )),
                    Err(e) => f.fail(format!("migration history: {e}")),
                }
                schema_drift(&mut f, &pool, set).await;
            }
            pool.close().await;
        }
    }

    if deploy {
        deploy_checks(&mut f, manage, cli);
    }
    if f.problems.is_empty() {
        println!("System check identified no issues.");
        Ok(())
    } else {
        Err(Error::CheckFailed(f.problems.len()))
    }
}

fn unmigrated_models(f: &mut Findings, dir: &std::path::Path, set: &MigrationSet) {
    if !dir.exists() && set.files().is_empty() && rustango_core::registry::models().count() == 0 {
        return;
    }
    let app_dirs = app_scopes(dir, set);
    let mut scopes: Vec<Option<String>> = vec![None];
    scopes.extend(app_dirs.iter().cloned().map(Some));
    let mut clean = true;
    for app in scopes {
        let models = models_of(&app_dirs, app.as_deref());
        let current = match set.state_of_app(app.as_deref()) {
            Ok(s) => s,
            Err(e) => {
                f.fail(format!("migrations cannot be replayed: {e}"));
                return;
            }
        };
        if models == SchemaSnapshot::default() && current == SchemaSnapshot::default() {
            continue;
        }
        match rustango_migrate::autodetect(&current, &models) {
            Ok(d) if d.operations.is_empty() => {}
            Ok(d) => {
                clean = false;
                f.fail(format!(
                    "models have {} change(s) that no migration records{} (run `manage \
                     makemigrations{}`): {}",
                    d.operations.len(),
                    app.as_deref()
                        .map(|a| format!(" in app {a}"))
                        .unwrap_or_default(),
                    app.as_deref()
                        .map(|a| format!(" --app {a}"))
                        .unwrap_or_default(),
                    d.operations
                        .iter()
                        .map(|o| o.describe())
                        .collect::<Vec<_>>()
                        .join("; ")
                ));
            }
            Err(e) => {
                clean = false;
                f.fail(format!("models cannot be migrated as they are: {e}"));
            }
        }
    }
    if clean {
        f.ok("every model change has a migration");
    }
}

async fn schema_drift(f: &mut Findings, pool: &Pool, set: &MigrationSet) {
    // The schema the applied migrations should have produced.
    let status = match Runner::new(pool, set).status().await {
        Ok(s) => s,
        Err(_) => return, // already reported with the history
    };
    let applied = status.iter().filter(|s| s.applied_at.is_some()).count();
    let expected = set
        .files()
        .iter()
        .zip(&status)
        .filter(|(_, s)| s.applied_at.is_some())
        .try_fold(SchemaSnapshot::default(), |s, (file, _)| {
            s.replay(&file.migration.forward)
        });
    let expected = match expected {
        Ok(e) => e,
        Err(e) => {
            f.fail(format!("migrations cannot be replayed: {e}"));
            return;
        }
    };
    match rustango_migrate::introspect(pool).await {
        Err(e) => f.fail(format!("live schema cannot be read: {e}")),
        Ok(live) => {
            let drift = rustango_migrate::drift(&live, &expected, pool.dialect());
            if drift.is_empty() {
                f.ok(&format!(
                    "the live schema matches the {applied} applied migration(s)"
                ));
            } else {
                for d in drift {
                    f.fail(format!("schema drift: {d}"));
                }
            }
        }
    }
}

fn deploy_checks(f: &mut Findings, manage: &Manage, cli: &Cli) {
    match std::env::var("RUSTANGO_ENV").as_deref() {
        Ok("prod") | Ok("production") => f.ok("RUSTANGO_ENV is prod"),
        Ok(other) => f.fail(format!(
            "RUSTANGO_ENV is `{other}`: set RUSTANGO_ENV=prod in production"
        )),
        Err(_) => f.fail("RUSTANGO_ENV is not set: set RUSTANGO_ENV=prod in production".into()),
    }
    match std::env::var("SECRET_KEY") {
        Ok(key) if key.len() >= 32 => f.ok("SECRET_KEY is set and at least 32 bytes"),
        Ok(key) => f.fail(format!(
            "SECRET_KEY is {} bytes: use at least 32 random bytes",
            key.len()
        )),
        Err(_) => f.fail("SECRET_KEY is not set".into()),
    }
    match (&cli.database_url, std::env::var("DATABASE_URL")) {
        (_, Ok(_)) | (Some(_), _) => f.ok("DATABASE_URL is set"),
        _ if manage.database_url.is_some() => {
            f.ok("the database is the project's configured default")
        }
        _ => f.fail(format!(
            "DATABASE_URL is not set (the default is the development database {})",
            crate::DEFAULT_DATABASE_URL
        )),
    }
    // What the server will read: `rustango.toml`, `rustango.prod.toml` and the
    // environment, including the middleware the server puts around the app.
    match rustango_config::Settings::from_env() {
        Ok(settings) => {
            for problem in settings.deploy_problems() {
                if let Some(advice) = problem.strip_prefix("warning: ") {
                    f.warn(advice);
                }
            }
            middleware_checks(f, &settings);
        }
        Err(e) => f.fail(format!("the settings cannot be read: {e}")),
    }
}

/// The `[middleware]` section turning off a defence the server keeps on by default.
fn middleware_checks(f: &mut Findings, settings: &rustango_config::Settings) {
    let Some(section) = settings.sections().get("middleware") else {
        f.ok("the default middleware stack is on");
        return;
    };
    match section.get("security_headers").and_then(|v| v.as_str()) {
        Some(preset @ ("off" | "dev")) => f.fail(format!(
            "[middleware] security_headers = \"{preset}\": use \"strict\" or \"relaxed\" in production"
        )),
        _ => f.ok("security headers are on"),
    }
    if section.get("csrf").and_then(|v| v.as_bool()) == Some(false) {
        f.fail("[middleware] csrf = false: cookie-authenticated forms are open to CSRF".into());
    }
    if section
        .get("rate_limit_per_minute")
        .and_then(|v| v.as_integer())
        == Some(0)
    {
        f.warn("[middleware] rate_limit_per_minute = 0: no per-client rate limit");
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_not_printed() {
        for url in [
            "postgres://app:s3cret@db:5432/prod",
            "postgres://127.0.0.1/db?user=app&password=s3cret&sslmode=require",
        ] {
            let shown = redact(url);
            assert!(!shown.contains("s3cret"), "{shown}");
            assert!(shown.contains("db"), "{shown}");
        }
        assert_eq!(redact("sqlite://x.db?mode=rwc"), "sqlite://x.db?mode=rwc");
    }
}
