//! `cargo xtask bench-http`: the HTTP stack over loopback with `wrk`, the full default
//! stack against bare axum, in one run.
//!
//! Builds the `stack_server` example of `rustango-server` in release, then for each
//! round starts, one after another (never two at once: on a small machine the server
//! and `wrk` share the cores), four servers on free loopback ports:
//!
//! - `bare`: the handlers on a plain axum router;
//! - `bare + headers`: the same, answering with the nine headers the full stack adds
//!   to these responses (fixed values, no logic): the floor the bytes alone set, not a
//!   target row;
//! - `full`: the same handlers through the Builder's default stack (production
//!   settings), with the subscriber `#[rustango::main]` installs in production (JSON
//!   lines, filter `info`) writing the access log to stdout, sent to `/dev/null`;
//! - `full, no subscriber`: the same without any subscriber (log events cost only
//!   their level check).
//!
//! Each one gets `wrk -t2 -c32 -d<duration>` on `/plaintext` and `/json` after a short
//! warm-up. The order of the servers alternates between rounds. The table reports,
//! per path, the median requests/s of each server, the median over the rounds of the
//! per-round ratio full/bare (steadier than the ratio of the medians on a shared
//! machine), and the CPU time (user + system, from `/proc`) per request of the server
//! and of wrk. Their sums give a second ratio, bare/full CPU per request: what the
//! throughput ratio comes to when server and wrk alone saturate the cores. Other
//! processes on the machine shift req/s a lot and CPU per request much less.

use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

const EXAMPLE: &str = "stack_server";
const PATHS: [&str; 2] = ["/plaintext", "/json"];
/// The ratio full/bare the issue asks for.
const TARGET_RATIO: f64 = 0.85;
const READY_TIMEOUT: Duration = Duration::from_secs(30);

const USAGE: &str = "\
  bench-http [--duration SECS] [--rounds N] [--connections N] [--threads N]
                                 build the stack_server example (release) and load it with
                                 wrk on loopback: /plaintext and /json through the full
                                 default stack (JSON access log to /dev/null, and without a
                                 subscriber) versus bare axum; prints req/s and full/bare
                                 (defaults: 10 s per run, 3 rounds, -c32 -t2). Needs wrk";

/// The command-line options.
#[derive(Debug, Clone)]
struct Options {
    duration: u64,
    rounds: usize,
    connections: u32,
    threads: u32,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options> {
        let mut options = Options {
            duration: 10,
            rounds: 3,
            connections: 32,
            threads: 2,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((name, value)) => (name, Some(value.to_owned())),
                None => (arg.as_str(), None),
            };
            let mut value = || -> Result<String> {
                match &inline {
                    Some(v) => Ok(v.clone()),
                    None => args
                        .next()
                        .cloned()
                        .with_context(|| format!("{name} needs a value")),
                }
            };
            match name {
                "--duration" | "-d" => {
                    let v = value()?;
                    options.duration = v
                        .trim_end_matches('s')
                        .parse()
                        .with_context(|| format!("--duration `{v}`: seconds expected"))?;
                }
                "--rounds" => options.rounds = parse_number(name, &value()?)?,
                "--connections" | "-c" => options.connections = parse_number(name, &value()?)?,
                "--threads" | "-t" => options.threads = parse_number(name, &value()?)?,
                other => bail!("bench-http: unknown argument `{other}`\n\nusage:\n{USAGE}"),
            }
        }
        if options.duration == 0
            || options.rounds == 0
            || options.connections == 0
            || options.threads == 0
        {
            bail!(
                "bench-http: --duration, --rounds, --connections and --threads must be at least 1"
            );
        }
        Ok(options)
    }
}

fn parse_number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T> {
    value
        .parse()
        .map_err(|_| anyhow::anyhow!("{name} `{value}`: a positive number expected"))
}

/// One server configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Server {
    Bare,
    BareHeaders,
    Full,
    FullNoSubscriber,
}

impl Server {
    const ALL: [Server; 4] = [
        Server::Bare,
        Server::BareHeaders,
        Server::Full,
        Server::FullNoSubscriber,
    ];

    /// Whether the row is one the target applies to (the full stack).
    fn is_target(self) -> bool {
        matches!(self, Server::Full | Server::FullNoSubscriber)
    }

    /// The example's mode and its options after the port.
    fn args(self) -> (&'static str, &'static [&'static str]) {
        match self {
            Server::Bare => ("bare", &[]),
            Server::BareHeaders => ("bare-headers", &[]),
            Server::Full => ("full", &[]),
            Server::FullNoSubscriber => ("full", &["--no-subscriber"]),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Server::Bare => "bare axum",
            Server::BareHeaders => "bare axum + the stack's 9 headers (floor)",
            Server::Full => "full stack (JSON log to /dev/null)",
            Server::FullNoSubscriber => "full stack (no subscriber)",
        }
    }
}

/// What one `wrk` run measured.
#[derive(Debug, Clone, Copy)]
struct Run {
    requests_per_sec: f64,
    /// Server CPU time (user + system) per request, if `/proc` could tell.
    cpu_us_per_request: Option<f64>,
    /// wrk's CPU time per request, likewise.
    wrk_us_per_request: Option<f64>,
}

/// `cargo xtask bench-http [ARGS]`.
pub fn http(args: &[String]) -> Result<ExitCode> {
    let options = Options::parse(args)?;
    if Command::new("wrk")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        eprintln!(
            "xtask: bench-http needs `wrk` on the PATH (Debian/Ubuntu: `apt-get install -y wrk`)"
        );
        return Ok(ExitCode::FAILURE);
    }

    let root = crate::tiers::workspace_root();
    let binary = build(&root)?;
    let cores = thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "bench-http: wrk -t{} -c{} -d{}s, {} round(s), {cores} core(s) shared by wrk and the server",
        options.threads, options.connections, options.duration, options.rounds
    );

    // runs[server][path] = one Run per round.
    let mut runs: Vec<Vec<Vec<Run>>> = vec![vec![Vec::new(); PATHS.len()]; Server::ALL.len()];
    for round in 0..options.rounds {
        let mut order = Server::ALL.to_vec();
        if round % 2 == 1 {
            order.reverse();
        }
        for server in order {
            let measured = measure(&binary, server, &options)
                .with_context(|| format!("round {}, {}", round + 1, server.label()))?;
            for (p, run) in measured.into_iter().enumerate() {
                println!(
                    "  round {} {:<35} {:<10} {:>8.0} req/s{}",
                    round + 1,
                    server.label(),
                    PATHS[p],
                    run.requests_per_sec,
                    run.cpu_us_per_request
                        .map(|us| format!("  server CPU {us:.1} µs/req"))
                        .unwrap_or_default()
                        + &run
                            .wrk_us_per_request
                            .map(|us| format!(", wrk {us:.1}"))
                            .unwrap_or_default()
                );
                runs[server as usize][p].push(run);
            }
        }
    }

    print!("{}", report(&runs, options.rounds));
    Ok(ExitCode::SUCCESS)
}

/// Builds the example in release and returns its path.
fn build(root: &Path) -> Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    println!("bench-http: cargo build --release -p rustango-server --example {EXAMPLE}");
    let status = Command::new(cargo)
        .current_dir(root)
        .args([
            "build",
            "--release",
            "-p",
            "rustango-server",
            "--example",
            EXAMPLE,
        ])
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("building the {EXAMPLE} example failed ({status})");
    }
    let binary = crate::target_dir(root)
        .join("release")
        .join("examples")
        .join(EXAMPLE);
    if !binary.is_file() {
        bail!(
            "the {EXAMPLE} example was built but {} is missing",
            binary.display()
        );
    }
    Ok(binary)
}

/// Starts `server`, loads each path with wrk, stops the server.
fn measure(binary: &Path, server: Server, options: &Options) -> Result<Vec<Run>> {
    let port = free_port()?;
    let (mode, flags) = server.args();
    let child = Command::new(binary)
        .arg(mode)
        .arg(port.to_string())
        .args(flags)
        // The log setup of production, whatever the caller's shell or directory says.
        .current_dir(std::env::temp_dir())
        .env("RUSTANGO_LOG", "info")
        .env("RUSTANGO_LOG_FORMAT", "json")
        .env_remove("RUSTANGO_ENV")
        // The access log (the default subscriber writes to stdout) goes nowhere.
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let mut child = Running(child);
    wait_ready(&mut child.0, port)?;
    let pid = child.0.id();
    let hz = clock_ticks_per_sec();
    let per_request = |ticks: Option<u64>, requests: u64| match (ticks, hz) {
        (Some(t), Some(hz)) if requests > 0 => Some(t as f64 / hz as f64 * 1e6 / requests as f64),
        _ => None,
    };
    let mut out = Vec::new();
    for path in PATHS {
        let url = format!("http://127.0.0.1:{port}{path}");
        // Warm-up: connections, allocator, caches.
        wrk(&url, options, 1.min(options.duration))?;
        let (server_before, wrk_before) = (cpu_ticks(pid), children_ticks());
        let (requests_per_sec, requests) = wrk(&url, options, options.duration)?;
        let (server_after, wrk_after) = (cpu_ticks(pid), children_ticks());
        let delta = |b: Option<u64>, a: Option<u64>| Some(a?.saturating_sub(b?));
        out.push(Run {
            requests_per_sec,
            cpu_us_per_request: per_request(delta(server_before, server_after), requests),
            wrk_us_per_request: per_request(delta(wrk_before, wrk_after), requests),
        });
    }
    child.stop()?;
    Ok(out)
}

/// A started server, stopped (SIGTERM, then SIGKILL) when dropped.
struct Running(Child);

impl Running {
    fn stop(&mut self) -> Result<()> {
        if self.0.try_wait()?.is_some() {
            bail!("the server exited during the run");
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.0.try_wait()?.is_some() {
                return Ok(());
            }
            thread::sleep(Duration::from_millis(20));
        }
        self.0.kill()?;
        self.0.wait()?;
        Ok(())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// A port nothing listens on now (the server binds it right after).
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// Waits until `GET /plaintext` answers 200.
fn wait_ready(child: &mut Child, port: u16) -> Result<()> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait()? {
            bail!("the server exited before answering ({status})");
        }
        if probe(addr).unwrap_or(false) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the server did not answer on {addr} within {READY_TIMEOUT:?}");
        }
        thread::sleep(Duration::from_millis(50));
    }
}

fn probe(addr: SocketAddr) -> std::io::Result<bool> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.write_all(b"GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head)?;
    Ok(&head == b"HTTP/1.1 200")
}

/// Runs wrk; returns requests/s and the number of requests.
fn wrk(url: &str, options: &Options, seconds: u64) -> Result<(f64, u64)> {
    let output = Command::new("wrk")
        .arg(format!("-t{}", options.threads))
        .arg(format!("-c{}", options.connections))
        .arg(format!("-d{seconds}s"))
        .arg(url)
        .output()
        .context("running wrk")?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "wrk failed ({}): {}{}",
            output.status,
            text,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    parse_wrk(&text).with_context(|| format!("wrk output for {url}:\n{text}"))
}

/// Requests/s and request count from wrk's report; refuses runs with errors.
fn parse_wrk(text: &str) -> Result<(f64, u64)> {
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("Non-2xx or 3xx responses") || line.starts_with("Socket errors") {
            bail!("the run had errors: {line}");
        }
    }
    let requests_per_sec = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .context("no `Requests/sec:` line")?
        .trim()
        .parse::<f64>()
        .context("Requests/sec is not a number")?;
    // "  399040 requests in 10.00s, 48.71MB read"
    let requests = text
        .lines()
        .find_map(|l| {
            let (n, rest) = l.trim().split_once(' ')?;
            rest.starts_with("requests in")
                .then(|| n.parse::<u64>().ok())?
        })
        .unwrap_or(0);
    Ok((requests_per_sec, requests))
}

/// User + system CPU time of `pid`, in clock ticks (Linux `/proc`).
fn cpu_ticks(pid: u32) -> Option<u64> {
    // Fields 14 (utime) and 15 (stime).
    stat_sum(&format!("/proc/{pid}/stat"), 14)
}

/// User + system CPU time of this process's finished, waited-for children (each wrk
/// run, once `output()` returns), in clock ticks.
fn children_ticks() -> Option<u64> {
    // Fields 16 (cutime) and 17 (cstime).
    stat_sum("/proc/self/stat", 16)
}

/// The sum of fields `field` and `field + 1` (1-based, as in proc(5)) of a stat file.
fn stat_sum(path: &str, field: usize) -> Option<u64> {
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3.
    let a: u64 = fields.get(field - 3)?.parse().ok()?;
    let b: u64 = fields.get(field - 2)?.parse().ok()?;
    Some(a + b)
}

fn clock_ticks_per_sec() -> Option<u64> {
    let out = Command::new("getconf").arg("CLK_TCK").output().ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// The median of `f` over the runs where it is known.
fn median_of(runs: &[Run], f: impl Fn(&Run) -> Option<f64>) -> Option<f64> {
    let values: Vec<f64> = runs.iter().filter_map(f).collect();
    (!values.is_empty()).then(|| median(values))
}

/// The summary table.
fn report(runs: &[Vec<Vec<Run>>], rounds: usize) -> String {
    let mut out = String::new();
    let bare = Server::Bare as usize;
    let _ = writeln!(
        out,
        "\nMedians of {rounds} round(s). full/bare: the median of the per-round ratios of \
         req/s (target ≥ {TARGET_RATIO}).\nCPU ratio: (server + wrk CPU per request, bare) / \
         (the same, full): what full/bare comes to when server and wrk saturate the cores \
         and nothing else runs.\n"
    );
    let _ = writeln!(
        out,
        "| path | server | req/s | full/bare | server CPU µs/req | wrk CPU µs/req | CPU ratio |\n\
         |---|---|---:|---:|---:|---:|---:|"
    );
    let fmt = |v: Option<f64>, digits: usize| {
        v.map_or_else(|| "?".to_owned(), |v| format!("{v:.digits$}"))
    };
    let mut below = Vec::new();
    for (p, path) in PATHS.iter().enumerate() {
        let total = |s: usize| {
            Some(
                median_of(&runs[s][p], |r| r.cpu_us_per_request)?
                    + median_of(&runs[s][p], |r| r.wrk_us_per_request)?,
            )
        };
        for server in Server::ALL {
            let s = server as usize;
            let rps = median(runs[s][p].iter().map(|r| r.requests_per_sec).collect());
            let ratio = median(
                runs[s][p]
                    .iter()
                    .zip(&runs[bare][p])
                    .map(|(f, b)| f.requests_per_sec / b.requests_per_sec)
                    .collect(),
            );
            let cpu_ratio = total(bare).zip(total(s)).map(|(b, f)| b / f);
            if server.is_target() && ratio < TARGET_RATIO {
                below.push(format!("{path} {} ({ratio:.2})", server.label()));
            }
            let _ = writeln!(
                out,
                "| {path} | {} | {rps:.0} | {ratio:.2} | {} | {} | {} |",
                server.label(),
                fmt(median_of(&runs[s][p], |r| r.cpu_us_per_request), 1),
                fmt(median_of(&runs[s][p], |r| r.wrk_us_per_request), 1),
                fmt(cpu_ratio, 2),
            );
        }
    }
    if below.is_empty() {
        let _ = writeln!(
            out,
            "\nEvery full/bare ratio meets the {TARGET_RATIO} target."
        );
    } else {
        let _ = writeln!(
            out,
            "\nBelow the {TARGET_RATIO} target: {}",
            below.join(", ")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wrk_output() {
        let text = "Running 10s test @ http://127.0.0.1:1/plaintext
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   602.88us    1.58ms  71.23ms   95.53%
    Req/Sec    40.05k     3.11k   47.12k    71.00%
  797120 requests in 10.00s, 97.30MB read
Requests/sec:  79683.24
Transfer/sec:      9.73MB
";
        let (rps, n) = parse_wrk(text).unwrap();
        assert!((rps - 79683.24).abs() < 1e-6);
        assert_eq!(n, 797_120);
        assert!(parse_wrk(&format!("{text}  Non-2xx or 3xx responses: 12\n")).is_err());
    }

    #[test]
    fn parses_options() {
        let o = Options::parse(&["--duration".into(), "5s".into(), "--rounds=2".into()]).unwrap();
        assert_eq!(
            (o.duration, o.rounds, o.connections, o.threads),
            (5, 2, 32, 2)
        );
        assert!(Options::parse(&["--bogus".into()]).is_err());
    }
}
