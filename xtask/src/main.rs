//! Project automation, run as `cargo xtask <command>` (alias in `.cargo/config.toml`).
//!
//! Commands:
//! - `test-pg [cargo test args] [-- test binary args]`: the PostgreSQL suites.
//! - `pg-url [--throwaway]`: print the PostgreSQL URL `test-pg` would use.
//! - `test-redis [cargo test args] [-- test binary args]`: the Redis suites.
//! - `test-peers [cargo test args] [-- test binary args]`: the suites against real
//!   protocol peers from PyPI (installed first from `xtask/peers-requirements.txt`).
//! - `check-tiers`: the tier rule of CONVENTIONS §2 (also run by `cargo test`).

mod bench;
mod pg;
mod tiers;

use std::env;
use std::ffi::OsString;
use std::io::{self, BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, ExitStatus, Stdio};

use anyhow::{Context as _, Result};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  test-pg [ARGS] [-- TEST-ARGS]  run the PostgreSQL test suites; ARGS go to `cargo test`,
                                 TEST-ARGS to the test binaries. Uses DATABASE_URL when it
                                 is a postgres URL, else a server on 127.0.0.1:5432, else
                                 starts one (pg_ctlcluster, or a throwaway initdb cluster)
  pg-url [--throwaway]           print the PostgreSQL URL test-pg would use (--throwaway:
                                 create, start and stop a throwaway cluster, as a check)
                                 XTASK_PG_THROWAWAY=1 forces a throwaway cluster in both
  test-redis [ARGS] [-- TEST-ARGS]
                                 run the Redis test suites (same ARGS as test-pg). Uses
                                 REDIS_URL when it is a redis URL, else a server answering
                                 PING on 127.0.0.1:6379, else starts one with redis-server
  test-peers [ARGS] [-- TEST-ARGS]
                                 install the Python peers (xtask/peers-requirements.txt:
                                 prometheus-client, opentelemetry-proto, pyotp, pyjwt) with
                                 pip and the OpenID Connect provider (npm oidc-provider)
                                 with npm ci, then run the suites that talk to them
  bench-http [ARGS]              wrk on loopback: full default stack vs bare axum (ARGS: --duration SECS, --rounds N, -c N, -t N)
  check-tiers                    check the crate tier rule (CONVENTIONS section 2)
  help                           print this message";

/// An external service a test suite needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    /// PostgreSQL, passed to the tests as `DATABASE_URL`.
    Postgres,
    /// Redis, passed to the tests as `REDIS_URL`.
    Redis,
    /// Python programs the tests start themselves (a metrics parser, an OTLP receiver,
    /// pyotp, pyjwt).
    Peers,
}

/// A test suite against a real service: `cargo test -p PACKAGE --features FEATURES
/// --tests -- FILTER`.
#[derive(Debug)]
struct Suite {
    service: Service,
    package: &'static str,
    features: &'static str,
    filter: &'static str,
}

/// Every suite that needs a service. Add `test-mysql`, … suites here.
const SUITES: &[Suite] = &[
    Suite {
        service: Service::Postgres,
        package: "rustango-orm",
        features: "__test-pg",
        filter: "postgres",
    },
    Suite {
        service: Service::Postgres,
        package: "rustango-migrate",
        features: "__test-pg",
        filter: "postgres",
    },
    Suite {
        service: Service::Postgres,
        package: "blog",
        features: "__test-pg",
        filter: "postgres",
    },
    Suite {
        service: Service::Postgres,
        package: "rustango-auth",
        features: "__test-pg",
        filter: "postgres",
    },
    Suite {
        service: Service::Redis,
        package: "rustango-auth",
        features: "__test-redis",
        filter: "redis",
    },
    Suite {
        service: Service::Redis,
        package: "rustango-cache",
        features: "__test-redis",
        filter: "redis",
    },
    Suite {
        service: Service::Redis,
        package: "rustango-middleware",
        features: "__test-redis",
        filter: "redis",
    },
    Suite {
        service: Service::Peers,
        package: "rustango-server",
        features: "__test-peers",
        filter: "",
    },
    Suite {
        service: Service::Peers,
        package: "rustango-auth",
        features: "__test-peers",
        filter: "",
    },
    Suite {
        service: Service::Peers,
        package: "rustango-crypto",
        features: "__test-peers",
        filter: "",
    },
];

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match command.as_str() {
        "test-pg" => test_pg(rest),
        "pg-url" => pg_url(rest),
        "test-redis" => test_redis(rest),
        "bench-http" => bench::http(rest),
        "test-peers" => test_peers(rest),
        "check-tiers" if rest.is_empty() => check_tiers(),
        "help" | "-h" | "--help" => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        other => {
            eprintln!(
                "xtask: unknown command or arguments: {other} {}\n",
                rest.join(" ")
            );
            eprintln!("{USAGE}");
            Ok(ExitCode::from(2))
        }
    };
    result.unwrap_or_else(|err| {
        eprintln!("xtask: error: {err:#}");
        ExitCode::FAILURE
    })
}

/// `XTASK_PG_THROWAWAY=1` skips DATABASE_URL and running servers and makes a
/// throwaway cluster (to exercise that path on a machine that has PostgreSQL running).
fn env_forces_throwaway() -> bool {
    env::var_os("XTASK_PG_THROWAWAY").is_some_and(|v| v == "1")
}

/// Where cargo puts build output (throwaway clusters live under it too).
fn target_dir(root: &Path) -> PathBuf {
    match env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}

fn test_pg(args: &[String]) -> Result<ExitCode> {
    let root = tiers::workspace_root();
    let postgres = pg::resolve(&target_dir(&root), env_forces_throwaway())?;
    eprintln!(
        "xtask: PostgreSQL: {} -> DATABASE_URL={}",
        postgres.how,
        pg::redact(&postgres.url)
    );
    let code = run_suites(
        &root,
        Service::Postgres,
        &[("DATABASE_URL", &postgres.url)],
        args,
    );
    drop(postgres); // stops a throwaway cluster, also when the suites failed
    code
}

fn pg_url(args: &[String]) -> Result<ExitCode> {
    let force_throwaway = match args {
        [] => false,
        [flag] if flag == "--throwaway" => true,
        _ => {
            eprintln!("{USAGE}");
            return Ok(ExitCode::from(2));
        }
    };
    let root = tiers::workspace_root();
    let postgres = pg::resolve(
        &target_dir(&root),
        force_throwaway || env_forces_throwaway(),
    )?;
    eprintln!("xtask: PostgreSQL: {}", postgres.how);
    println!("{}", postgres.url);
    if postgres.is_throwaway() {
        drop(postgres);
        eprintln!("xtask: (test-pg keeps such a cluster running for the whole run)");
    }
    Ok(ExitCode::SUCCESS)
}

fn test_redis(args: &[String]) -> Result<ExitCode> {
    let root = tiers::workspace_root();
    let redis = redis_server::resolve()?;
    eprintln!(
        "xtask: Redis: {} -> REDIS_URL={}",
        redis.how,
        pg::redact(&redis.url)
    );
    run_suites(&root, Service::Redis, &[("REDIS_URL", &redis.url)], args)
}

fn test_peers(args: &[String]) -> Result<ExitCode> {
    let root = tiers::workspace_root();
    let requirements = root.join("xtask/peers-requirements.txt");
    eprintln!(
        "xtask: installing the Python peers from {}",
        requirements.display()
    );
    let status = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(&requirements)
        .status()
        .context("running python3 -m pip (is Python 3 with pip installed?)")?;
    if !status.success() {
        anyhow::bail!("pip could not install {}: {status}", requirements.display());
    }
    // The OpenID Connect provider (npm oidc-provider), pinned by its lock file.
    let oidc = root.join("crates/rustango-auth/tests/oidc");
    eprintln!(
        "xtask: installing the OpenID Connect provider in {}",
        oidc.display()
    );
    let status = Command::new("npm")
        .args([
            "ci",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            "--prefix",
        ])
        .arg(&oidc)
        .status()
        .context("running npm (is Node.js with npm installed?)")?;
    if !status.success() {
        anyhow::bail!("npm ci failed in {}: {status}", oidc.display());
    }
    run_suites(&root, Service::Peers, &[], args)
}

/// Finding or starting a Redis server for the `__test-redis` suites: `REDIS_URL` (when
/// it is a redis URL); a server answering `PING` on 127.0.0.1:6379; a `redis-server`
/// started on that port without persistence (left running, like a started PostgreSQL
/// cluster, for the next run).
mod redis_server {
    use std::fmt::Write as _;
    use std::io::{Read as _, Write as _};
    use std::net::{SocketAddr, TcpStream};
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    use std::{env, thread};

    use anyhow::{Context as _, Result, bail};

    use crate::pg::redact;

    const PORT: u16 = 6379;
    const START_TIMEOUT: Duration = Duration::from_secs(10);

    /// A Redis server the tests can use, and how it was found.
    #[derive(Debug)]
    pub struct Redis {
        /// What the tests get as `REDIS_URL`.
        pub url: String,
        /// How the server was found, for messages.
        pub how: String,
    }

    /// Finds or starts Redis; fails with everything that was tried.
    pub fn resolve() -> Result<Redis> {
        let mut tried = String::new();
        match env::var("REDIS_URL") {
            Ok(url) if is_redis_url(&url) => {
                return Ok(Redis {
                    how: format!("REDIS_URL ({})", redact(&url)),
                    url,
                });
            }
            Ok(url) => {
                let _ = writeln!(tried, "  - REDIS_URL is not a redis URL: {}", redact(&url));
            }
            Err(_) => tried.push_str("  - REDIS_URL is not set\n"),
        }

        eprintln!("xtask: looking for Redis on 127.0.0.1:{PORT}");
        match ping(PORT) {
            Ok(()) => {
                return Ok(Redis {
                    url: local_url(),
                    how: format!("server already answering PING on 127.0.0.1:{PORT}"),
                });
            }
            Err(err) if port_open() => {
                // Something else holds the port: starting a server there would fail.
                let _ = writeln!(
                    tried,
                    "  - 127.0.0.1:{PORT} is taken but PING failed: {err:#}"
                );
                bail!(
                    "Redis could not be used:\n{tried}\
                     Fix: if it needs a password, set REDIS_URL=redis://:PASSWORD@127.0.0.1:{PORT}/, \
                     or free the port"
                );
            }
            Err(err) => {
                let _ = writeln!(tried, "  - nothing answers on 127.0.0.1:{PORT}: {err:#}");
            }
        }

        match start() {
            Ok(()) => Ok(Redis {
                url: local_url(),
                how: format!("redis-server started on 127.0.0.1:{PORT} (left running)"),
            }),
            Err(err) => {
                let _ = writeln!(tried, "  - redis-server: {err:#}");
                bail!(
                    "Redis could not be found or started:\n{tried}\
                     Fix: install Redis (Debian: `apt-get install redis-server`), or point \
                     REDIS_URL at a server, e.g. REDIS_URL=redis://127.0.0.1:{PORT}/"
                )
            }
        }
    }

    fn is_redis_url(url: &str) -> bool {
        ["redis://", "rediss://", "redis+unix://", "unix://"]
            .iter()
            .any(|scheme| url.starts_with(scheme))
    }

    fn local_url() -> String {
        format!("redis://127.0.0.1:{PORT}/")
    }

    fn addr() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], PORT))
    }

    fn port_open() -> bool {
        TcpStream::connect_timeout(&addr(), Duration::from_secs(1)).is_ok()
    }

    /// Sends `PING` and expects `+PONG` (a server that wants a password says `-NOAUTH`).
    fn ping(port: u16) -> Result<()> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut stream =
            TcpStream::connect_timeout(&addr, Duration::from_secs(1)).context("connecting")?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        stream.set_write_timeout(Some(Duration::from_secs(2)))?;
        stream
            .write_all(b"*1\r\n$4\r\nPING\r\n")
            .context("sending PING")?;
        let mut reply = Vec::new();
        let mut buf = [0u8; 256];
        while !reply.ends_with(b"\r\n") && reply.len() < 4096 {
            let n = stream.read(&mut buf).context("reading the PING reply")?;
            if n == 0 {
                break;
            }
            reply.extend_from_slice(&buf[..n]);
        }
        let reply = String::from_utf8_lossy(&reply);
        if reply.starts_with("+PONG") {
            Ok(())
        } else {
            let first_line: String = reply
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(100)
                .collect();
            bail!("PING answered {first_line:?}")
        }
    }

    /// Starts a daemonized `redis-server` on 127.0.0.1:6379 without persistence and
    /// waits until it answers `PING`.
    fn start() -> Result<()> {
        let port = PORT.to_string();
        let args = [
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "--port",
            &port,
            "--save",
            "",
            "--appendonly",
            "no",
        ];
        eprintln!(
            "xtask: starting Redis with `redis-server {}`",
            args.map(|a| if a.is_empty() { "\"\"" } else { a })
                .join(" ")
        );
        let out = Command::new("redis-server")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .context("cannot run redis-server")?;
        if !out.status.success() {
            bail!(
                "redis-server failed: {}\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match ping(PORT) {
                Ok(()) => return Ok(()),
                Err(err) if Instant::now() >= deadline => bail!(
                    "started, but not answering PING on 127.0.0.1:{PORT} after {}s ({err:#}); \
                     run the command above without `--daemonize yes` to see its log",
                    START_TIMEOUT.as_secs()
                ),
                Err(_) => thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn recognises_redis_urls() {
            assert!(is_redis_url("redis://127.0.0.1:6379/"));
            assert!(is_redis_url("rediss://u:p@host/0"));
            assert!(is_redis_url("redis+unix:///run/redis.sock"));
            assert!(!is_redis_url("postgres://localhost/db"));
            assert!(!is_redis_url("127.0.0.1:6379"));
        }
    }
}

/// Runs every suite of `service` with `envs` set; returns the first failing exit code.
fn run_suites(
    root: &Path,
    service: Service,
    envs: &[(&str, &str)],
    args: &[String],
) -> Result<ExitCode> {
    // `cargo xtask test-pg --release -- --nocapture`: before `--` to cargo, after it to
    // the test binaries (after the suite's filter).
    let (cargo_args, test_args) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => (args, &[][..]),
    };
    let cargo = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut failed = Vec::new();
    let mut first_code = None;
    for suite in SUITES.iter().filter(|s| s.service == service) {
        let mut cmd = Command::new(&cargo);
        cmd.current_dir(root)
            .args([
                "test",
                "-p",
                suite.package,
                "--features",
                suite.features,
                "--tests",
            ])
            .args(cargo_args)
            .arg("--")
            .arg(suite.filter)
            .args(test_args);
        for (key, value) in envs {
            cmd.env(key, value);
        }
        let shown: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        eprintln!("xtask: running `cargo {}`", shown.join(" "));
        let (status, passed) = run_counting_tests(&mut cmd)
            .with_context(|| format!("running {}", cargo.to_string_lossy()))?;
        if !status.success() {
            failed.push(suite.package);
            first_code.get_or_insert(status.code().unwrap_or(1));
        } else if passed == 0 && !test_args.iter().any(|a| a == "--list") {
            // A suite that runs nothing must not look green (CONVENTIONS §9).
            eprintln!(
                "xtask: error: no test of {} matched the filter `{}`",
                suite.package, suite.filter
            );
            failed.push(suite.package);
            first_code.get_or_insert(1);
        }
    }
    match first_code {
        None => {
            eprintln!("xtask: {service:?} suites passed");
            Ok(ExitCode::SUCCESS)
        }
        Some(code) => {
            eprintln!("xtask: {service:?} suites failed: {}", failed.join(", "));
            Ok(ExitCode::from(
                u8::try_from(code).ok().filter(|&c| c != 0).unwrap_or(1),
            ))
        }
    }
}

/// Runs a `cargo test` command, passing its stdout through, and adds up the
/// `N passed` of its `test result:` lines.
fn run_counting_tests(cmd: &mut Command) -> Result<(ExitStatus, u64)> {
    let mut child = cmd.stdout(Stdio::piped()).spawn()?;
    let stdout = child.stdout.take().context("no stdout pipe")?;
    let mut out = io::stdout().lock();
    let mut passed = 0;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        writeln!(out, "{line}")?;
        out.flush()?;
        passed += passed_count(&line).unwrap_or(0);
    }
    Ok((child.wait()?, passed))
}

/// `test result: ok. 3 passed; 0 failed; ...` -> 3.
fn passed_count(line: &str) -> Option<u64> {
    let rest = line.trim_start().strip_prefix("test result:")?;
    let before = rest.split(" passed").next()?;
    before.rsplit(' ').next()?.parse().ok()
}

fn check_tiers() -> Result<ExitCode> {
    eprintln!("xtask: checking the tier rule (cargo metadata --all-features, deny.toml)");
    let (checked, problems) = tiers::check_workspace()?;
    if problems.is_empty() {
        println!("tier rule holds: {checked} tiered workspace crates checked");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("tier rule violated ({} problems):", problems.len());
        for problem in &problems {
            println!("  {problem}");
        }
        Ok(ExitCode::FAILURE)
    }
}

#[cfg(test)]
mod tests {
    use super::passed_count;

    #[test]
    fn counts_passed_tests() {
        assert_eq!(
            passed_count(
                "test result: ok. 12 passed; 0 failed; 0 ignored; 0 measured; 3 filtered out; finished in 0.25s"
            ),
            Some(12)
        );
        assert_eq!(
            passed_count("test result: FAILED. 0 passed; 1 failed; 0 ignored"),
            Some(0)
        );
        assert_eq!(passed_count("running 3 tests"), None);
    }
}

/// The book includes its code samples from files that CI compiles
/// (`{{#include path:anchor}}`); this checks that every include names an existing file
/// and anchor, so a renamed anchor cannot silently empty a chapter.
#[cfg(test)]
mod book_includes {
    use std::path::Path;

    #[test]
    fn every_include_resolves() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let src = root.join("book/src");
        let mut checked = 0;
        for entry in std::fs::read_dir(&src).expect("book/src") {
            let path = entry.expect("entry").path();
            if path.extension().is_none_or(|e| e != "md") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("chapter");
            for (_, rest) in text
                .match_indices("{{#include ")
                .map(|(i, _)| ((), &text[i + 11..]))
            {
                let spec = &rest[..rest.find("}}").expect("closing braces")];
                let (file, anchor) = spec.split_once(':').unwrap_or((spec, ""));
                let target = src.join(file);
                let body = std::fs::read_to_string(&target)
                    .unwrap_or_else(|e| panic!("{}: include {file}: {e}", path.display()));
                if !anchor.is_empty() {
                    assert!(
                        body.contains(&format!("ANCHOR: {anchor}"))
                            && body.contains(&format!("ANCHOR_END: {anchor}")),
                        "{}: anchor `{anchor}` missing in {file}",
                        path.display()
                    );
                }
                checked += 1;
            }
        }
        assert!(checked > 0, "the book includes no samples");
    }
}
