//! `init_tracing` when the settings do not load: the startup error that follows must
//! still come out in production's format (JSON lines), with blank variables read as
//! unset, as the settings read them.
//!
//! The test re-runs its own binary (with `RUSTANGO_TEST_TRACING_CHILD` set), since a
//! process installs one global subscriber.

use std::process::Command;

const CHILD: &str = "RUSTANGO_TEST_TRACING_CHILD";

#[test]
fn the_fallback_log_format_follows_the_environment() {
    if std::env::var_os(CHILD).is_some() {
        let guard = rustango_server::init_tracing();
        tracing::info!(target: "child", "hello from the child");
        tracing::debug!(target: "child", "a debug line");
        drop(guard);
        return;
    }
    let run = |vars: &[(&str, &str)]| {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .args([
                "--exact",
                "the_fallback_log_format_follows_the_environment",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            // Not a number: the settings fail to load, and the fallback decides.
            .env("RUSTANGO_LOG_FLUSH_MS", "soon")
            .env_remove("RUSTANGO_LOG")
            .env_remove("RUSTANGO_LOG_FORMAT")
            .env_remove("RUSTANGO_ENV");
        for (k, v) in vars {
            command.env(k, v);
        }
        let output = command.output().unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    };

    // Production: JSON lines, and a blank RUSTANGO_LOG is the default filter (`info`).
    let out = run(&[("RUSTANGO_ENV", "prod"), ("RUSTANGO_LOG", "  ")]);
    let line = out
        .lines()
        .find(|l| l.contains("hello from the child"))
        .unwrap_or_else(|| panic!("no log line in {out:?}"));
    // The harness may print its `test … ` prefix on the same line.
    let json = &line[line.find('{').expect(line)..];
    let json: serde_json::Value = serde_json::from_str(json).expect(line);
    assert_eq!(json["level"], "INFO");
    assert_eq!(json["message"], "hello from the child");
    assert!(!out.contains("a debug line"), "{out}");

    // Development: human-readable lines; an explicit format wins over the default.
    let out = run(&[("RUSTANGO_ENV", "dev")]);
    let line = out
        .lines()
        .find(|l| l.contains("hello from the child"))
        .unwrap_or_else(|| panic!("no log line in {out:?}"));
    assert!(!line.contains("{\"timestamp\""), "{line}");
    let out = run(&[("RUSTANGO_ENV", "dev"), ("RUSTANGO_LOG_FORMAT", "JSON")]);
    assert!(
        out.lines()
            .any(|l| l.contains("{\"timestamp\"") && l.contains("hello from the child")),
        "{out}"
    );
}
