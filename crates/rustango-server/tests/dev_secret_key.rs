//! The warning `Stack::for_settings` logs when development runs without a
//! `SECRET_KEY`. A test binary of its own: `tracing` caches whether a log statement
//! is wanted per call site, and tests on other threads reaching the same statement
//! without a subscriber could race that cache against this test's subscriber.

use rustango_config::{Settings, Sources};

fn settings(dir: &std::path::Path, extra: &[(&str, &str)]) -> Settings {
    let mut sources = Sources::new(dir).var(
        "DATABASE_URL",
        format!("sqlite://{}?mode=rwc", dir.join("db.sqlite3").display()),
    );
    for (k, v) in extra {
        sources = sources.var(*k, *v);
    }
    Settings::load(sources).unwrap()
}

/// The warnings `Stack::for_settings` logs for `extra` settings.
async fn stack_warnings(dir: &std::path::Path, extra: &[(&str, &str)]) -> String {
    use std::sync::{Arc, Mutex};
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    rustango_server::Stack::for_settings(&settings(dir, extra))
        .await
        .unwrap();
    String::from_utf8(lines.0.lock().unwrap().clone()).unwrap()
}

#[tokio::test]
async fn development_without_a_secret_key_warns_that_tokens_die_at_a_restart() {
    let dir = std::env::temp_dir().join(format!("rustango-dev-key-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let logged = stack_warnings(&dir, &[]).await;
    assert!(logged.contains("SECRET_KEY is not set"), "{logged}");
    // With a key, or in tests, nothing to say.
    let key = "0123456789abcdef0123456789abcdef";
    assert_eq!(stack_warnings(&dir, &[("SECRET_KEY", key)]).await, "");
    assert_eq!(stack_warnings(&dir, &[("RUSTANGO_ENV", "test")]).await, "");
    std::fs::remove_dir_all(&dir).unwrap();
}
