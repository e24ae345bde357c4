//! Finding or starting a PostgreSQL server for the `__test-pg` suites.
//!
//! In order: `DATABASE_URL` (when it is a postgres URL); a server already listening on
//! 127.0.0.1:5432; the Debian cluster started with `pg_ctlcluster`; a throwaway cluster
//! made with `initdb` under the target directory, stopped and removed when the
//! [`Postgres`] value is dropped.

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use std::{env, fs, thread};

use anyhow::{Context as _, Result, bail};

const DEFAULT_PORT: u16 = 5432;
const CLUSTER_START_TIMEOUT: Duration = Duration::from_secs(15);

/// A PostgreSQL server the tests can use, and how it was found.
#[derive(Debug)]
pub struct Postgres {
    /// The base URL (tests create and drop their own databases through it).
    pub url: String,
    /// How the server was found, for messages.
    pub how: String,
    /// A throwaway cluster that this process started; stopped on drop.
    cluster: Option<Throwaway>,
}

impl Postgres {
    /// Whether this is a throwaway cluster that goes away with this value.
    pub fn is_throwaway(&self) -> bool {
        self.cluster.is_some()
    }
}

/// Finds or starts PostgreSQL. `target_dir` holds throwaway clusters.
/// With `force_throwaway`, skips straight to the throwaway cluster (to test that path).
pub fn resolve(target_dir: &Path, force_throwaway: bool) -> Result<Postgres> {
    let mut tried = String::new();

    if !force_throwaway {
        match env::var("DATABASE_URL") {
            Ok(url) if url.starts_with("postgres") => {
                return Ok(Postgres {
                    how: format!("DATABASE_URL ({})", redact(&url)),
                    url,
                    cluster: None,
                });
            }
            Ok(url) => {
                let _ = writeln!(
                    tried,
                    "  - DATABASE_URL is not a postgres URL: {}",
                    redact(&url)
                );
            }
            Err(_) => tried.push_str("  - DATABASE_URL is not set\n"),
        }

        eprintln!("xtask: looking for PostgreSQL on 127.0.0.1:{DEFAULT_PORT}");
        if port_open(DEFAULT_PORT, Duration::from_secs(1)) && can_log_in(&local_url(DEFAULT_PORT)) {
            return Ok(Postgres {
                url: local_url(DEFAULT_PORT),
                how: format!("server already listening on 127.0.0.1:{DEFAULT_PORT}"),
                cluster: None,
            });
        }
        let _ = writeln!(
            tried,
            "  - nothing on 127.0.0.1:{DEFAULT_PORT} accepts user postgres without a password"
        );

        match start_debian_cluster() {
            Ok(pg) => return Ok(pg),
            Err(err) => {
                let _ = writeln!(tried, "  - pg_ctlcluster: {err:#}");
            }
        }
    }

    match Throwaway::start(target_dir) {
        Ok(cluster) => Ok(Postgres {
            url: local_url(cluster.port),
            how: format!(
                "throwaway cluster in {} on port {}",
                cluster.base.display(),
                cluster.port
            ),
            cluster: Some(cluster),
        }),
        Err(err) => {
            let _ = writeln!(tried, "  - throwaway cluster: {err:#}");
            bail!(
                "PostgreSQL could not be found or started:\n{tried}\
                 Fix: install PostgreSQL (Debian: `apt-get install postgresql`, which provides \
                 pg_ctlcluster and /usr/lib/postgresql/*/bin/initdb), or point DATABASE_URL at a \
                 server, e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres"
            )
        }
    }
}

fn local_url(port: u16) -> String {
    format!("postgres://postgres@127.0.0.1:{port}/postgres")
}

/// Hides the password of `scheme://user:password@host/...`.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let Some(at) = url[scheme_end..].rfind('@').map(|i| i + scheme_end) else {
        return url.to_owned();
    };
    match url[scheme_end..at].find(':') {
        Some(colon) => format!("{}:***{}", &url[..scheme_end + colon], &url[at..]),
        None => url.to_owned(),
    }
}

fn port_open(port: u16, timeout: Duration) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, timeout).is_ok()
}

fn wait_for_port(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if port_open(port, Duration::from_millis(500)) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(250));
    }
}

/// Installed PostgreSQL major versions in `dir` (e.g. /etc/postgresql), newest first.
fn versions_in(dir: &Path) -> Vec<String> {
    let mut versions: Vec<(u32, String)> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let major = name.split('.').next()?.parse().ok()?;
            Some((major, name))
        })
        .collect();
    versions.sort_by(|a, b| b.cmp(a));
    versions.into_iter().map(|(_, name)| name).collect()
}

/// The `port = N` of a postgresql.conf, if set.
fn conf_port(conf: &str) -> Option<u16> {
    conf.lines().find_map(|line| {
        let line = line.split('#').next()?.trim();
        let value = line.strip_prefix("port")?.trim_start().strip_prefix('=')?;
        value.trim().parse().ok()
    })
}

/// Starts the Debian cluster `<version> main` and waits for its port.
fn start_debian_cluster() -> Result<Postgres> {
    let versions = versions_in(Path::new("/etc/postgresql"));
    if versions.is_empty() {
        bail!("no cluster under /etc/postgresql");
    }
    let mut errors = Vec::new();
    for version in versions {
        let conf = format!("/etc/postgresql/{version}/main/postgresql.conf");
        let port = fs::read_to_string(&conf)
            .ok()
            .and_then(|c| conf_port(&c))
            .unwrap_or(DEFAULT_PORT);
        eprintln!(
            "xtask: starting PostgreSQL {version} with `pg_ctlcluster --skip-systemctl-redirect {version} main start`"
        );
        let output = Command::new("pg_ctlcluster")
            .args(["--skip-systemctl-redirect", &version, "main", "start"])
            .stdin(Stdio::null())
            .output();
        match output {
            Err(err) => {
                errors.push(format!("cannot run pg_ctlcluster: {err}"));
                break;
            }
            Ok(out) if !out.status.success() => {
                // "already running" also exits non-zero; the port check below decides.
                eprintln!("xtask: pg_ctlcluster said: {}", describe(&out).trim());
            }
            Ok(_) => {}
        }
        if wait_for_port(port, CLUSTER_START_TIMEOUT) {
            return Ok(Postgres {
                url: local_url(port),
                how: format!("cluster {version}/main started with pg_ctlcluster on port {port}"),
                cluster: None,
            });
        }
        errors.push(format!(
            "cluster {version}/main is not listening on 127.0.0.1:{port} after {}s",
            CLUSTER_START_TIMEOUT.as_secs()
        ));
    }
    bail!("{}", errors.join("; "))
}

/// Exit status and output of a finished command, for error messages.
fn describe(out: &Output) -> String {
    format!(
        "{}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn running_as_root() -> bool {
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// A cluster made with `initdb` for this run only.
#[derive(Debug)]
struct Throwaway {
    /// Holds `data/`, the server log and the socket.
    base: PathBuf,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
    started: bool,
}

impl Throwaway {
    fn start(target_dir: &Path) -> Result<Self> {
        let bin = versions_in(Path::new("/usr/lib/postgresql"))
            .into_iter()
            .map(|v| PathBuf::from(format!("/usr/lib/postgresql/{v}/bin")))
            .find(|bin| bin.join("initdb").is_file())
            .context("no initdb under /usr/lib/postgresql/*/bin")?;
        let as_postgres = running_as_root();

        // initdb refuses to run as root: the cluster belongs to the `postgres` user, who
        // must be able to reach the directory. Unix socket paths are limited to ~100 bytes.
        let name = format!("cluster-{}", std::process::id());
        let candidates = [
            target_dir.join("xtask-pg").join(&name),
            env::temp_dir().join(format!("rustango-xtask-pg-{name}")),
        ];
        let mut last_error = None;
        for base in candidates {
            if base.as_os_str().len() > 80 {
                continue;
            }
            reap_stale_clusters(&base, &bin, as_postgres);
            let mut cluster = Self {
                base,
                bin: bin.clone(),
                port: 0,
                as_postgres,
                started: false,
            };
            match cluster.init() {
                Ok(()) => {
                    cluster.run()?;
                    return Ok(cluster);
                }
                Err(err) => last_error = Some(err),
            }
            // `cluster` is dropped here, which removes its directory.
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("no usable directory for the cluster")))
    }

    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(program);
            cmd
        } else {
            Command::new(program)
        };
        cmd.stdin(Stdio::null());
        cmd
    }

    fn init(&mut self) -> Result<()> {
        if self.base.exists() {
            fs::remove_dir_all(&self.base)
                .with_context(|| format!("removing stale {}", self.base.display()))?;
        }
        fs::create_dir_all(&self.base)
            .with_context(|| format!("creating {}", self.base.display()))?;
        if self.as_postgres {
            let out = Command::new("chown")
                .args(["postgres:", "--"])
                .arg(&self.base)
                .output()
                .context("running chown")?;
            if !out.status.success() {
                bail!("chown postgres {}: {}", self.base.display(), describe(&out));
            }
            let reachable = Command::new("runuser")
                .args(["-u", "postgres", "--", "test", "-w"])
                .arg(&self.base)
                .status()
                .is_ok_and(|s| s.success());
            if !reachable {
                bail!(
                    "user postgres cannot write to {} (a parent directory is not accessible)",
                    self.base.display()
                );
            }
        }
        eprintln!(
            "xtask: creating a throwaway PostgreSQL cluster with {} in {}",
            self.bin.join("initdb").display(),
            self.base.display()
        );
        let out = self
            .command("initdb")
            .arg("-D")
            .arg(self.base.join("data"))
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .output()
            .context("running initdb")?;
        if !out.status.success() {
            bail!("initdb failed: {}", describe(&out));
        }
        Ok(())
    }

    fn run(&mut self) -> Result<()> {
        self.port = free_port()?;
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            self.port,
            self.base.display()
        );
        eprintln!("xtask: starting it on 127.0.0.1:{}", self.port);
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.base.join("data"))
            .arg("-l")
            .arg(self.base.join("server.log"))
            .args(["-o", &options, "-w", "-t", "30", "start"])
            .output()
            .context("running pg_ctl start")?;
        // Even a failed start may leave a server behind: try to stop it on drop.
        self.started = true;
        if !out.status.success() || !wait_for_port(self.port, Duration::from_secs(5)) {
            let log = fs::read_to_string(self.base.join("server.log")).unwrap_or_default();
            bail!(
                "pg_ctl start failed: {}\nserver log:\n{log}",
                describe(&out)
            );
        }
        Ok(())
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        if self.started {
            eprintln!(
                "xtask: stopping the PostgreSQL cluster in {}",
                self.base.display()
            );
            let stopped = self
                .command("pg_ctl")
                .arg("-D")
                .arg(self.base.join("data"))
                .args(["-m", "fast", "-w", "stop"])
                .stdout(Stdio::null())
                .status();
            if !stopped.is_ok_and(|s| s.success()) {
                eprintln!(
                    "xtask: warning: could not stop the cluster in {}",
                    self.base.display()
                );
                return; // keep the directory so it can be stopped by hand
            }
        }
        if let Err(err) = fs::remove_dir_all(&self.base) {
            eprintln!(
                "xtask: warning: could not remove {}: {err}",
                self.base.display()
            );
        }
    }
}

/// Stops and removes clusters left next to `base` by earlier runs that were killed
/// before they could clean up (their directory names end in the dead run's pid).
fn reap_stale_clusters(base: &Path, bin: &Path, as_postgres: bool) {
    let (Some(parent), Some(name)) = (base.parent(), base.file_name()) else {
        return;
    };
    let name = name.to_string_lossy();
    let Some(prefix) = name.strip_suffix(&std::process::id().to_string()) else {
        return;
    };
    for entry in fs::read_dir(parent).into_iter().flatten().flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = file_name.strip_prefix(prefix) else {
            continue;
        };
        if pid.is_empty()
            || !pid.bytes().all(|b| b.is_ascii_digit())
            || Path::new("/proc").join(pid).exists()
        {
            continue; // not ours, or its run is still alive
        }
        eprintln!(
            "xtask: removing a cluster left by an earlier run: {}",
            entry.path().display()
        );
        let stale = Throwaway {
            base: entry.path(),
            bin: bin.to_path_buf(),
            port: 0,
            as_postgres,
            started: entry.path().join("data/postmaster.pid").exists(),
        };
        drop(stale); // stops it if it still runs, then removes the directory
    }
}

/// A loopback port that was free a moment ago.
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).context("binding a loopback port")?;
    Ok(listener.local_addr()?.port())
}

/// Whether `url` accepts a login, checked with `psql` when it is installed (without it,
/// an open port is taken on trust and the tests report a failed login themselves).
fn can_log_in(url: &str) -> bool {
    match std::process::Command::new("psql")
        .args([url, "-XAtqc", "SELECT 1"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
    {
        Ok(status) => status.success(),
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
        assert_eq!(redact("not a url"), "not a url");
    }

    #[test]
    fn reads_port_from_postgresql_conf() {
        let conf = "# port = 1\nlisten_addresses = 'localhost'\nport = 5433\t\t# (change requires restart)\n";
        assert_eq!(conf_port(conf), Some(5433));
        assert_eq!(conf_port("#port = 5433\n"), None);
    }

    #[test]
    fn sorts_versions_newest_first() {
        let dir = env::temp_dir().join(format!("xtask-versions-{}", std::process::id()));
        for v in ["9.6", "15", "16", "main-not-a-version"] {
            fs::create_dir_all(dir.join(v)).unwrap();
        }
        let found = versions_in(&dir);
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(found, ["16", "15", "9.6"]);
    }
}
