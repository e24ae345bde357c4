//! JSON log lines, cheap and batched: the `tracing` layer that
//! [`init_tracing`](crate::init_tracing) installs when the log format is JSON.
//!
//! Every event is one line, one JSON object:
//!
//! ```text
//! {"timestamp":"2026-11-27T14:45:48.921327Z","level":"INFO","target":"rustango::access","message":"GET /notes/7 200","method":"GET","path":"/notes/7","query":"page=2","status":200,"latency_ms":0.112,"bytes":6,"request_id":"a9fb7042-0ff9-4958-ae41-17044bc8adbd","user_agent":"curl/8.5.0","spans":[{"name":"request","request_id":"a9fb7042-0ff9-4958-ae41-17044bc8adbd","method":"GET","path":"/notes/7","http.route":"/notes/{id}"}]}
//! ```
//!
//! - `timestamp` is UTC, RFC 3339 with microseconds; `level`, `target` and `message`
//!   (when the event has one) follow, then the event's other fields as members of
//!   their own. A field named like a fixed key (`timestamp`, `level`, `target`,
//!   `spans`) is written as `fields.timestamp` and so on, never as a second member of
//!   the same name.
//! - `spans` lists the spans the event sits in, root first, innermost last; each is
//!   `{"name": …, <its fields>}` (a span field called `name` becomes `fields.name`).
//!   An event outside any span has no `spans`.
//! - Strings, `%display` and `?debug` values and errors (their `Display`) are JSON
//!   strings; integers, floats and bools are JSON numbers and bools (a NaN or infinite
//!   float is `null`). Field names are kept as written, dots included
//!   (`http.route`). A field recorded as `None` or left `Empty` is absent; a span field
//!   recorded later (`span.record(..)`) replaces the earlier value.
//!
//! It is built to cost little per request: a span's fields are rendered to JSON once,
//! when the span opens (and again only for the field a `span.record` changes), and
//! events copy that text; an event is formatted into a reused per-thread buffer; the
//! `YYYY-MM-DDTHH:MM:SS` part of the timestamp is formatted once per second.
//!
//! **Output is batched.** Lines go to an in-memory buffer, and from there to the
//! destination (stdout, or any [`Write`]) in one `write` per batch:
//!
//! - every [`flush_interval`](JsonLayerBuilder::flush_interval) (default 100 ms),
//!   from a background thread;
//! - at once, by the thread that logs it, for an event at `ERROR`, so an error is out
//!   before the process can die after it (not for `WARN`: the access log writes every
//!   4xx at `WARN`, and a flood of 404s must not turn into a write per request);
//! - at once when the buffer passes [`flush_threshold`](JsonLayerBuilder::flush_threshold)
//!   (64 KiB);
//! - when [`FlushHandle::flush`] is called, and when the [`FlushGuard`] (held by the
//!   [`TracingGuard`](crate::TracingGuard)) or the layer is dropped.
//!
//! Lines are written whole and in order, never interleaved. A failed write (a closed
//! pipe) drops that batch; a destination that does not keep up makes the buffer stop at
//! [`max_buffered`](JsonLayerBuilder::max_buffered) (8 MiB) and drop new lines rather
//! than grow or make requests wait. Dropped lines are counted, and the count is reported
//! by a `WARN` line of target `rustango::json_log` at the next write that succeeds. The
//! price of batching: an `INFO` line can stay in memory for up to the flush interval, so
//! a process killed with `SIGKILL` (or ending with `std::process::exit`) loses the lines
//! of its last moments; `ERROR` lines are already out.
//!
//! Outside `init_tracing` (tests, benches, a subscriber of your own):
//!
//! ```
//! use std::time::Duration;
//! use rustango_server::json_log::JsonLayer;
//! use tracing_subscriber::layer::SubscriberExt as _;
//!
//! let layer = JsonLayer::builder()
//!     .flush_interval(Duration::from_millis(250))
//!     .writer(std::io::sink());
//! let flush = layer.flush_handle();
//! let subscriber = tracing_subscriber::registry().with(layer);
//! tracing::subscriber::with_default(subscriber, || {
//!     tracing::info!(answer = 42, "hello");
//! });
//! flush.flush();
//! ```

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// How often buffered lines are written out unless the builder says otherwise.
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// How full the buffer may get (bytes) before the thread that fills it writes it out.
pub const DEFAULT_FLUSH_THRESHOLD: usize = 64 * 1024;

/// The most the buffer holds (bytes) while the destination does not take it; further
/// lines are dropped and counted.
pub const DEFAULT_MAX_BUFFERED: usize = 8 * 1024 * 1024;

/// The target of the line that reports dropped lines.
pub const TARGET: &str = "rustango::json_log";

/// How long [`FlushHandle::flush`] waits for a write already in progress (by another
/// thread) before giving up.
const FLUSH_WAIT: Duration = Duration::from_secs(5);

/// How many batches a thread that logs writes before leaving the rest to the
/// background thread, so no request keeps writing for others under a flood.
const INLINE_ROUNDS: usize = 2;

/// Buffers (per thread, between events) larger than this are not kept.
const SCRATCH_KEEP: usize = 64 * 1024;

/// Configures a [`JsonLayer`]; from [`JsonLayer::builder`].
#[derive(Debug, Clone)]
pub struct JsonLayerBuilder {
    flush_interval: Duration,
    flush_threshold: usize,
    max_buffered: usize,
}

impl Default for JsonLayerBuilder {
    fn default() -> Self {
        JsonLayerBuilder {
            flush_interval: DEFAULT_FLUSH_INTERVAL,
            flush_threshold: DEFAULT_FLUSH_THRESHOLD,
            max_buffered: DEFAULT_MAX_BUFFERED,
        }
    }
}

impl JsonLayerBuilder {
    /// How long a line may wait in the buffer (default [`DEFAULT_FLUSH_INTERVAL`]).
    /// `Duration::ZERO` writes every line at once, as it is logged.
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval;
        self
    }

    /// The buffer size (bytes) at which the thread that logs writes the buffer out at
    /// once (default [`DEFAULT_FLUSH_THRESHOLD`]; at most `max_buffered`).
    pub fn flush_threshold(mut self, bytes: usize) -> Self {
        self.flush_threshold = bytes;
        self
    }

    /// The most the buffer holds (bytes) while the destination is slow or stuck
    /// (default [`DEFAULT_MAX_BUFFERED`]); lines beyond it are dropped and counted.
    pub fn max_buffered(mut self, bytes: usize) -> Self {
        self.max_buffered = bytes;
        self
    }

    /// The layer, writing to the process's standard output.
    pub fn stdout(self) -> JsonLayer {
        self.writer(Stdout)
    }

    /// The layer, writing to `writer` (a file, a test's buffer, [`io::sink`]). Each
    /// batch is one `write_all` followed by a `flush`.
    pub fn writer(self, writer: impl Write + Send + 'static) -> JsonLayer {
        let unbuffered = self.flush_interval.is_zero();
        let inner = Arc::new(Inner {
            state: Mutex::new(State {
                buf: Vec::new(),
                pending_dropped: 0,
                urgent: false,
                flushing: false,
                wake: false,
                closed: false,
            }),
            out: Mutex::new(Out {
                dest: Box::new(writer),
                spare: Vec::new(),
                mid_line: false,
            }),
            wake: Condvar::new(),
            idle: Condvar::new(),
            threshold: self.flush_threshold.min(self.max_buffered),
            max_buffered: self.max_buffered,
            dropped_total: std::sync::atomic::AtomicU64::new(0),
        });
        // The background thread also takes over when a thread that logs leaves lines
        // behind (see `INLINE_ROUNDS`), so it runs even when every line is written at
        // once. Without it (none could be started), lines still go out at the
        // threshold, at ERROR, on `flush` and on drop.
        let worker = inner.clone();
        let interval = if unbuffered {
            DEFAULT_FLUSH_INTERVAL
        } else {
            self.flush_interval
        };
        let _ = std::thread::Builder::new()
            .name("rustango-log-flush".to_owned())
            .spawn(move || worker.run(interval));
        JsonLayer {
            shared: Arc::new(Shared { inner }),
            unbuffered,
        }
    }
}

/// The JSON-lines `tracing` layer; see the [module docs](self).
#[derive(Debug)]
pub struct JsonLayer {
    shared: Arc<Shared>,
    unbuffered: bool,
}

impl JsonLayer {
    /// A builder with the defaults (100 ms, 64 KiB, 8 MiB).
    pub fn builder() -> JsonLayerBuilder {
        JsonLayerBuilder::default()
    }

    /// The layer with the defaults, writing to standard output.
    pub fn stdout() -> JsonLayer {
        JsonLayer::builder().stdout()
    }

    /// A handle to write the buffered lines out on demand.
    pub fn flush_handle(&self) -> FlushHandle {
        FlushHandle {
            shared: self.shared.clone(),
        }
    }
}

/// Writes a [`JsonLayer`]'s buffered lines out; cheap to clone.
#[derive(Debug, Clone)]
pub struct FlushHandle {
    shared: Arc<Shared>,
}

impl FlushHandle {
    /// Writes out every line logged before the call (waiting, for at most a few
    /// seconds, for a write another thread has started).
    pub fn flush(&self) {
        self.shared.inner.flush_all();
    }

    /// How many lines were dropped since the layer was built (failed writes, full
    /// buffer).
    pub fn dropped_lines(&self) -> u64 {
        self.shared
            .inner
            .dropped_total
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A guard that flushes when dropped (at the end of `main`).
    pub fn guard(self) -> FlushGuard {
        FlushGuard(self)
    }
}

/// Flushes a [`JsonLayer`]'s buffered lines when dropped; from [`FlushHandle::guard`].
#[derive(Debug)]
#[must_use = "dropping the guard flushes at once"]
pub struct FlushGuard(FlushHandle);

impl Drop for FlushGuard {
    fn drop(&mut self) {
        self.0.flush();
    }
}

/// Owned by the layer and its handles: when the last goes, the background thread stops
/// and the buffer is written out.
#[derive(Debug)]
struct Shared {
    inner: Arc<Inner>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        {
            let mut st = lock(&self.inner.state);
            st.closed = true;
            self.inner.wake.notify_all();
        }
        self.inner.flush_all();
    }
}

/// The buffer and the destination, shared with the background thread.
struct Inner {
    state: Mutex<State>,
    /// Only touched by the thread that holds `State::flushing`.
    out: Mutex<Out>,
    /// Wakes the background thread (`State::wake`, `State::closed`).
    wake: Condvar,
    /// Signalled when `State::flushing` goes back to false.
    idle: Condvar,
    threshold: usize,
    max_buffered: usize,
    dropped_total: std::sync::atomic::AtomicU64,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inner")
            .field("threshold", &self.threshold)
            .field("max_buffered", &self.max_buffered)
            .finish_non_exhaustive()
    }
}

struct State {
    /// Complete lines, each ending in `\n`.
    buf: Vec<u8>,
    /// Lines dropped and not yet reported.
    pending_dropped: u64,
    /// A line that must go out at once is in `buf`.
    urgent: bool,
    /// A thread is writing a batch (only one at a time).
    flushing: bool,
    /// The background thread is asked to flush now.
    wake: bool,
    /// The layer is gone: the background thread ends.
    closed: bool,
}

struct Out {
    dest: Box<dyn Write + Send>,
    /// The batch being written (swapped with `State::buf`, so both keep capacity).
    spare: Vec<u8>,
    /// A failed write left a partial line at the destination.
    mid_line: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Inner {
    /// Adds one complete line; writes the buffer out when the line is `urgent` or the
    /// buffer is full enough, unless another thread is writing (it takes the line).
    fn append(&self, line: &[u8], urgent: bool) {
        let mut st = lock(&self.state);
        if st.buf.len() + line.len() > self.max_buffered {
            st.pending_dropped += 1;
            drop(st);
            self.count_dropped(1);
            return;
        }
        st.buf.extend_from_slice(line);
        let now = urgent || st.buf.len() >= self.threshold;
        if !now {
            return;
        }
        if st.flushing {
            // The thread writing takes it in its next batch.
            st.urgent = true;
            return;
        }
        st.flushing = true;
        drop(st);
        self.flush_rounds(INLINE_ROUNDS);
    }

    fn count_dropped(&self, n: u64) {
        self.dropped_total
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }

    /// Writes batches; the caller has set `flushing`. After `max_rounds` batches, what
    /// must still go out at once is left to the background thread.
    fn flush_rounds(&self, max_rounds: usize) {
        let mut out = lock(&self.out);
        let out = &mut *out;
        let mut rounds = 0;
        loop {
            let dropped = {
                let mut st = lock(&self.state);
                let more = !st.buf.is_empty() || st.pending_dropped > 0;
                let wanted = rounds == 0 || st.urgent || st.buf.len() >= self.threshold;
                if !more || !wanted || rounds == max_rounds {
                    if more && wanted {
                        st.wake = true;
                        self.wake.notify_all();
                    }
                    st.flushing = false;
                    self.idle.notify_all();
                    return;
                }
                std::mem::swap(&mut st.buf, &mut out.spare);
                st.urgent = false;
                std::mem::take(&mut st.pending_dropped)
            };
            rounds += 1;
            let failed = write_batch(out, 0);
            let mut unreported = dropped;
            if failed == 0 && dropped > 0 {
                let start = out.spare.len();
                dropped_line(&mut out.spare, dropped);
                if write_batch(out, start) == 0 {
                    unreported = 0;
                }
            }
            if failed > 0 {
                self.count_dropped(failed);
            }
            if failed + unreported > 0 {
                lock(&self.state).pending_dropped += failed + unreported;
            }
            out.spare.clear();
            if out.spare.capacity() > self.threshold.max(SCRATCH_KEEP).saturating_mul(4) {
                out.spare = Vec::new();
            }
        }
    }

    /// Writes out everything logged so far: waits for a write in progress, then writes
    /// one batch.
    fn flush_all(&self) {
        let deadline = Instant::now() + FLUSH_WAIT;
        let mut st = lock(&self.state);
        while st.flushing {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            st = self
                .idle
                .wait_timeout(st, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        if st.buf.is_empty() && st.pending_dropped == 0 {
            return;
        }
        st.flushing = true;
        drop(st);
        self.flush_rounds(1);
    }

    /// The background thread: a batch every `interval`, or at once when woken.
    fn run(&self, interval: Duration) {
        let mut st = lock(&self.state);
        loop {
            st = self
                .wake
                .wait_timeout_while(st, interval, |st| !st.wake && !st.closed)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            if st.closed {
                return;
            }
            st.wake = false;
            if st.flushing || (st.buf.is_empty() && st.pending_dropped == 0) {
                continue;
            }
            st.flushing = true;
            drop(st);
            self.flush_rounds(usize::MAX);
            st = lock(&self.state);
        }
    }
}

/// Writes `out.spare[start..]`; returns how many lines were lost (0 when all went
/// out). A failure part-way through a line leaves `mid_line` set, and the next write
/// starts with a newline, so the broken line never joins a good one.
fn write_batch(out: &mut Out, start: usize) -> u64 {
    let batch = &out.spare[start..];
    if batch.is_empty() {
        return 0;
    }
    if out.mid_line {
        match out.dest.write(b"\n") {
            Ok(1) => out.mid_line = false,
            _ => return count_lines(batch),
        }
    }
    let mut written = 0;
    let result = loop {
        if written == batch.len() {
            break out.dest.flush();
        }
        match out.dest.write(&batch[written..]) {
            Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    match result {
        Ok(()) => 0,
        Err(_) => {
            // Written bytes that end mid-line leave a fragment out there.
            out.mid_line = written > 0 && batch[written - 1] != b'\n';
            // A line partly written counts as lost.
            let lost_from = batch[..written]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            count_lines(&batch[lost_from..])
        }
    }
}

fn count_lines(batch: &[u8]) -> u64 {
    batch.iter().filter(|&&b| b == b'\n').count() as u64
}

/// The line that reports `dropped` lost lines.
fn dropped_line(line: &mut Vec<u8>, dropped: u64) {
    line.extend_from_slice(b"{\"timestamp\":\"");
    write_timestamp(line, SystemTime::now());
    line.extend_from_slice(b"\",\"level\":\"WARN\",\"target\":\"");
    line.extend_from_slice(TARGET.as_bytes());
    line.extend_from_slice(
        b"\",\"message\":\"log lines were dropped: the log output failed or did not keep up\",\"dropped\":",
    );
    write_int(line, dropped);
    line.extend_from_slice(b"}\n");
}

/// Standard output, a batch per `write`: locked once, so lines printed elsewhere in
/// the process never land inside a batch. `LineWriter` hands a write that ends in a
/// newline straight to the file descriptor when it holds nothing, so a batch is one
/// `write(2)`, not one per line.
struct Stdout;

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut stdout = io::stdout().lock();
        let mut written = 0;
        while written < buf.len() {
            match stdout.write(&buf[written..]) {
                Ok(0) => break,
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // What went out is reported; the error comes again on the next write.
                Err(_) if written > 0 => break,
                Err(e) => return Err(e),
            }
        }
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stdout().lock().flush()
    }
}

// ---------------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------------

/// A span's fields as JSON members, rendered once: `"name":"request","k":v,…`.
/// Every member after the first starts with `,"`, a sequence that cannot occur inside
/// a JSON string (a quote in a string is escaped), so a member is found again by its
/// key when `span.record` replaces it.
struct SpanFields {
    json: Vec<u8>,
    /// Bit `i`: field `i` of the span's field set is in `json` (fields past 63 are
    /// always looked for).
    present: u64,
}

impl<S> tracing_subscriber::Layer<S> for JsonLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut fields = SpanFields {
            json: Vec::with_capacity(192),
            present: 0,
        };
        fields.json.extend_from_slice(b"\"name\":");
        write_str(&mut fields.json, attrs.metadata().name());
        attrs.record(&mut SpanVisitor {
            fields: &mut fields,
            replace: false,
        });
        span.extensions_mut().insert(fields);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        if let Some(fields) = extensions.get_mut::<SpanFields>() {
            values.record(&mut SpanVisitor {
                fields,
                replace: true,
            });
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        // Errors go out at once. Warnings wait for the batch like the rest: the access
        // log writes every 4xx at WARN, and a flood of 404s must not become a write per
        // request.
        let urgent = self.unbuffered || *event.metadata().level() == Level::ERROR;
        let _ = SCRATCH.try_with(|scratch| match scratch.try_borrow_mut() {
            Ok(mut scratch) => self.format_and_append(&mut scratch, event, &ctx, urgent),
            // An event logged while formatting another (from a `Debug` impl).
            Err(_) => self.format_and_append(&mut Scratch::default(), event, &ctx, urgent),
        });
    }
}

impl JsonLayer {
    fn format_and_append<S>(
        &self,
        scratch: &mut Scratch,
        event: &Event<'_>,
        ctx: &Context<'_, S>,
        urgent: bool,
    ) where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let Scratch { line, fields } = scratch;
        line.clear();
        fields.clear();
        format_event(line, fields, event, ctx);
        self.shared.inner.append(line, urgent);
        if line.capacity() > SCRATCH_KEEP {
            *line = Vec::new();
        }
        if fields.capacity() > SCRATCH_KEEP {
            *fields = Vec::new();
        }
    }
}

#[derive(Default)]
struct Scratch {
    line: Vec<u8>,
    fields: Vec<u8>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch {
        line: Vec::with_capacity(1024),
        fields: Vec::with_capacity(512),
    });
}

fn format_event<S>(
    line: &mut Vec<u8>,
    fields: &mut Vec<u8>,
    event: &Event<'_>,
    ctx: &Context<'_, S>,
) where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let meta = event.metadata();
    line.extend_from_slice(b"{\"timestamp\":\"");
    write_timestamp(line, SystemTime::now());
    line.extend_from_slice(b"\",\"level\":\"");
    line.extend_from_slice(level_str(meta.level()).as_bytes());
    line.extend_from_slice(b"\",\"target\":");
    write_str(line, meta.target());
    // The message goes straight after the target, the other fields after it.
    event.record(&mut EventVisitor {
        message: line,
        fields,
    });
    line.extend_from_slice(fields);
    if let Some(scope) = ctx.event_scope(event) {
        line.extend_from_slice(b",\"spans\":[");
        let mut first = true;
        for span in scope.from_root() {
            if !first {
                line.push(b',');
            }
            first = false;
            line.push(b'{');
            match span.extensions().get::<SpanFields>() {
                Some(fields) => line.extend_from_slice(&fields.json),
                None => {
                    line.extend_from_slice(b"\"name\":");
                    write_str(line, span.name());
                }
            }
            line.push(b'}');
        }
        line.push(b']');
    }
    line.extend_from_slice(b"}\n");
}

fn level_str(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "TRACE",
        Level::DEBUG => "DEBUG",
        Level::INFO => "INFO",
        Level::WARN => "WARN",
        _ => "ERROR",
    }
}

/// Writes an event's fields: the message into `message` (the line), the rest as
/// `,"key":value` into `fields`.
struct EventVisitor<'a> {
    message: &'a mut Vec<u8>,
    fields: &'a mut Vec<u8>,
}

impl EventVisitor<'_> {
    /// The buffer to write `field`'s value to, its key written.
    fn key(&mut self, field: &Field) -> &mut Vec<u8> {
        let name = field.name();
        if name == "message" {
            self.message.extend_from_slice(b",\"message\":");
            return self.message;
        }
        write_key(
            self.fields,
            name,
            matches!(name, "timestamp" | "level" | "target" | "spans"),
        );
        self.fields
    }
}

/// `Visit` for a visitor whose `key(field)` writes the member's key and returns the
/// buffer its value goes to: every kind of value, written the same way.
macro_rules! visit_into_buffer {
    ($visitor:ident) => {
        impl Visit for $visitor<'_> {
            fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
                write_debug(self.key(field), value);
            }
            fn record_str(&mut self, field: &Field, value: &str) {
                write_str(self.key(field), value);
            }
            fn record_i64(&mut self, field: &Field, value: i64) {
                write_int(self.key(field), value);
            }
            fn record_u64(&mut self, field: &Field, value: u64) {
                write_int(self.key(field), value);
            }
            fn record_i128(&mut self, field: &Field, value: i128) {
                write_int(self.key(field), value);
            }
            fn record_u128(&mut self, field: &Field, value: u128) {
                write_int(self.key(field), value);
            }
            fn record_f64(&mut self, field: &Field, value: f64) {
                write_f64(self.key(field), value);
            }
            fn record_bool(&mut self, field: &Field, value: bool) {
                write_bool(self.key(field), value);
            }
            fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
                write_display(self.key(field), value);
            }
        }
    };
}

visit_into_buffer!(EventVisitor);

/// Writes a span's fields as `,"key":value` members; with `replace`, first removes the
/// member of the same key.
struct SpanVisitor<'a> {
    fields: &'a mut SpanFields,
    replace: bool,
}

impl SpanVisitor<'_> {
    fn key(&mut self, field: &Field) -> &mut Vec<u8> {
        let name = field.name();
        let bit = u32::try_from(field.index())
            .ok()
            .and_then(|i| 1u64.checked_shl(i))
            .unwrap_or(0);
        let seen = bit == 0 || self.fields.present & bit != 0;
        self.fields.present |= bit;
        let json = &mut self.fields.json;
        let start = json.len();
        write_key(json, name, name == "name");
        if self.replace && seen {
            remove_member(json, start);
        }
        json
    }
}

/// Removes the earlier member whose key is the one written at `json[key_at..]`
/// (`,"key":`), if there is one.
fn remove_member(json: &mut Vec<u8>, key_at: usize) {
    let (old, key) = json.split_at(key_at);
    let mut from = 0;
    let start = loop {
        let Some(comma) = old[from..].iter().position(|&b| b == b',') else {
            return;
        };
        let at = from + comma;
        if old[at..].starts_with(key) {
            break at;
        }
        from = at + 1;
    };
    let after = start + key.len();
    let end = old[after..]
        .windows(2)
        .position(|w| w == b",\"")
        .map_or(old.len(), |i| after + i);
    json.drain(start..end);
}

visit_into_buffer!(SpanVisitor);

/// `,"key":` (`,"fields.key":` when `renamed`).
fn write_key(buf: &mut Vec<u8>, name: &str, renamed: bool) {
    buf.reserve(name.len() + 12);
    buf.extend_from_slice(b",\"");
    if renamed {
        buf.extend_from_slice(b"fields.");
    }
    escape_into(buf, name);
    buf.extend_from_slice(b"\":");
}

fn write_str(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'"');
    escape_into(buf, s);
    buf.push(b'"');
}

fn write_debug(buf: &mut Vec<u8>, value: &dyn fmt::Debug) {
    buf.push(b'"');
    let _ = write!(Escaper(buf), "{value:?}");
    buf.push(b'"');
}

fn write_display(buf: &mut Vec<u8>, value: &dyn fmt::Display) {
    buf.push(b'"');
    let _ = write!(Escaper(buf), "{value}");
    buf.push(b'"');
}

/// An integer in decimal, without the `fmt` machinery.
fn write_int(buf: &mut Vec<u8>, value: impl itoa::Integer) {
    buf.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

fn write_f64(buf: &mut Vec<u8>, value: f64) {
    // serde_json writes NaN and infinities as `null`.
    let _ = serde_json::to_writer(&mut *buf, &value);
}

fn write_bool(buf: &mut Vec<u8>, value: bool) {
    buf.extend_from_slice(if value { b"true" } else { b"false" });
}

/// `fmt::Write` into a buffer, JSON-escaping as it goes (for `Debug`/`Display` values,
/// without an intermediate `String`).
struct Escaper<'a>(&'a mut Vec<u8>);

impl fmt::Write for Escaper<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        escape_into(self.0, s);
        Ok(())
    }
}

/// For each byte: 0 when it is written as is, else the letter after the backslash
/// (`u` for `\u00XX`).
static ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b'u';
        b += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

/// Appends `s` JSON-escaped (without the quotes): `"`, `\` and control characters
/// escaped, everything else (UTF-8 included) as is.
fn escape_into(buf: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    let Some(from) = first_special(bytes) else {
        buf.extend_from_slice(bytes);
        return;
    };
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate().skip(from) {
        let escape = ESCAPE[usize::from(b)];
        if escape == 0 {
            continue;
        }
        buf.extend_from_slice(&bytes[start..i]);
        if escape == b'u' {
            buf.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]);
        } else {
            buf.extend_from_slice(&[b'\\', escape]);
        }
        start = i + 1;
    }
    buf.extend_from_slice(&bytes[start..]);
}

/// Where the first `"`, `\` or control character of `bytes` may be (at or after the
/// returned index; `None` when there is none), checked eight bytes at a time: text
/// with nothing to escape, the usual case, is then one copy.
fn first_special(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // Whether any byte of `w` is below 0x20, `"` or `\` (exact for "any").
    let special = |w: u64| {
        let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
        (w.wrapping_sub(ONES * 0x20) & !w & HIGHS)
            | zero(w ^ (ONES * u64::from(b'"')))
            | zero(w ^ (ONES * u64::from(b'\\')))
            != 0
    };
    let mut at = 0;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        if special(u64::from_le_bytes(word)) {
            return Some(at);
        }
        at += 8;
    }
    let tail = &bytes[at..];
    if tail.is_empty() {
        return None;
    }
    // The last 1 to 7 bytes: the last eight again when there are eight, else padded
    // with spaces (which need no escaping).
    let word = match bytes.len().checked_sub(8) {
        Some(last) => {
            let mut word = [0u8; 8];
            word.copy_from_slice(&bytes[last..]);
            u64::from_le_bytes(word)
        }
        None => tail.iter().enumerate().fold(ONES * 0x20, |word, (i, &b)| {
            let shift = 8 * i;
            (word & !(0xff << shift)) | (u64::from(b) << shift)
        }),
    };
    special(word).then_some(at)
}

// ---------------------------------------------------------------------------------
// Timestamps
// ---------------------------------------------------------------------------------

thread_local! {
    /// The second last formatted on this thread and its `YYYY-MM-DDTHH:MM:SS`.
    static SECOND: std::cell::Cell<(u64, [u8; 19])> = const { std::cell::Cell::new((u64::MAX, [0; 19])) };
}

/// `2026-11-27T14:20:19.123456Z` without the quotes (UTC; times before 1970 as the
/// epoch).
fn write_timestamp(buf: &mut Vec<u8>, now: SystemTime) {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let prefix = SECOND
        .try_with(|cell| {
            let (cached, prefix) = cell.get();
            if cached == secs {
                prefix
            } else {
                let prefix = second_prefix(secs);
                cell.set((secs, prefix));
                prefix
            }
        })
        .unwrap_or_else(|_| second_prefix(secs));
    buf.extend_from_slice(&prefix);
    let micros = since.subsec_micros();
    let mut frac = [b'.', 0, 0, 0, 0, 0, 0, b'Z'];
    let mut n = micros;
    for digit in frac[1..7].iter_mut().rev() {
        *digit = b'0' + (n % 10) as u8;
        n /= 10;
    }
    buf.extend_from_slice(&frac);
}

/// `YYYY-MM-DDTHH:MM:SS` of `secs` after the epoch (years past 9999 wrap their
/// thousands digit: not before the year 10000).
fn second_prefix(secs: u64) -> [u8; 19] {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let (h, m, s) = (rem / 3600, rem / 60 % 60, rem % 60);
    let mut out = *b"0000-00-00T00:00:00";
    let two = |out: &mut [u8; 19], at: usize, v: u64| {
        out[at] = b'0' + (v / 10 % 10) as u8;
        out[at + 1] = b'0' + (v % 10) as u8;
    };
    two(&mut out, 0, year / 100);
    two(&mut out, 2, year % 100);
    two(&mut out, 5, month);
    two(&mut out, 8, day);
    two(&mut out, 11, h);
    two(&mut out, 14, m);
    two(&mut out, 17, s);
    out
}

/// The proleptic Gregorian date of a day count from 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for days on or after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(secs: u64, micros: u32) -> String {
        let mut buf = Vec::new();
        write_timestamp(
            &mut buf,
            UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros.into()),
        );
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn timestamps() {
        assert_eq!(ts(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(ts(951_782_400, 7), "2000-02-29T00:00:00.000007Z");
        assert_eq!(ts(951_868_799, 999_999), "2000-02-29T23:59:59.999999Z");
        assert_eq!(ts(1_795_789_219, 123_456), "2026-11-27T14:20:19.123456Z");
        assert_eq!(ts(4_107_542_400, 0), "2100-03-01T00:00:00.000000Z");
        assert_eq!(ts(253_402_300_799, 1), "9999-12-31T23:59:59.000001Z");
        // The cache: the same second twice, then the next one.
        assert_eq!(ts(86_399, 5), "1970-01-01T23:59:59.000005Z");
        assert_eq!(ts(86_399, 6), "1970-01-01T23:59:59.000006Z");
        assert_eq!(ts(86_400, 0), "1970-01-02T00:00:00.000000Z");
    }

    #[test]
    fn every_day_against_a_naive_calendar() {
        // 1970-01-01 to 2400-12-31, day by day.
        let (mut y, mut m, mut d) = (1970u64, 1u64, 1u64);
        let leap =
            |y: u64| (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
        for days in 0..157_067u64 {
            assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
            let len = match m {
                2 if leap(y) => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            d += 1;
            if d > len {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
    }

    #[test]
    fn first_special_finds_every_byte_anywhere() {
        for b in 0u8..=255 {
            let expected = b < 0x20 || b == b'"' || b == b'\\';
            for len in 1..=17 {
                for at in 0..len {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = b;
                    assert_eq!(
                        first_special(&bytes).is_some(),
                        expected,
                        "{b:#x} at {at} of {len}"
                    );
                }
            }
        }
        // Neighbours of the special bytes, and UTF-8 continuation bytes, are plain.
        assert_eq!(
            first_special("!#[]^_ \u{7f}caf\u{e9}\u{1F600} text".as_bytes()),
            None
        );
    }

    #[test]
    fn integers() {
        for v in [0, 1, 9, 10, 99, 100, 12_345, i64::MAX, i64::MIN, -1, -10] {
            let mut buf = Vec::new();
            write_int(&mut buf, v);
            assert_eq!(String::from_utf8(buf).unwrap(), v.to_string());
        }
        for v in [0, 7, 1_000_000, u64::MAX] {
            let mut buf = Vec::new();
            write_int(&mut buf, v);
            assert_eq!(String::from_utf8(buf).unwrap(), v.to_string());
        }
    }

    #[test]
    fn escaping_matches_serde_json() {
        let mut all = String::new();
        for c in 0u32..0x80 {
            all.push(char::from_u32(c).unwrap());
        }
        for s in [
            all.as_str(),
            "plain",
            "",
            "\"quoted\" \\ back",
            "line\nbreak\r\t\u{7f}\u{1b}[31m",
            "caf\u{e9} \u{2028} \u{1F600} \u{ffff}",
        ] {
            let mut ours = Vec::new();
            write_str(&mut ours, s);
            let ours = String::from_utf8(ours).unwrap();
            assert_eq!(serde_json::from_str::<String>(&ours).unwrap(), s);
            assert_eq!(ours, serde_json::to_string(s).unwrap());
        }
    }

    fn remove(json: &str, key: &str) -> String {
        let mut json = json.as_bytes().to_vec();
        let at = json.len();
        json.extend_from_slice(key.as_bytes());
        remove_member(&mut json, at);
        json.truncate(json.len() - key.len());
        String::from_utf8(json).unwrap()
    }

    #[test]
    fn replacing_a_member() {
        let json = r#""name":"request","a":"x,\"b\":1","b":2,"c":null"#;
        let json = remove(json, r#","b":"#);
        assert_eq!(json, r#""name":"request","a":"x,\"b\":1","c":null"#);
        let json = remove(&json, r#","c":"#);
        assert_eq!(json, r#""name":"request","a":"x,\"b\":1""#);
        assert_eq!(remove(&json, r#","zz":"#), json);
        assert_eq!(remove(&json, r#","a":"#), r#""name":"request""#);
    }

    /// A writer that fails the first `fail` writes after writing `partial` bytes.
    struct Flaky {
        out: Arc<Mutex<Vec<u8>>>,
        fail: usize,
        partial: usize,
    }

    impl Write for Flaky {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.fail > 0 {
                self.fail -= 1;
                if self.partial > 0 {
                    let n = self.partial.min(buf.len());
                    self.partial = 0;
                    lock(&self.out).extend_from_slice(&buf[..n]);
                    return Ok(n);
                }
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            lock(&self.out).extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_write_failing_mid_line_never_glues_lines() {
        let out = Arc::new(Mutex::new(Vec::new()));
        let layer = JsonLayer::builder()
            .flush_interval(Duration::from_secs(3600))
            .writer(Flaky {
                out: out.clone(),
                // The partial write, then its continuation fails.
                fail: 2,
                partial: 10,
            });
        let inner = &layer.shared.inner;
        inner.append(b"{\"a\":1}\n{\"b\":2}\n", false);
        inner.flush_all();
        // `{"a":1}` went out whole, `{"b":2}` in part.
        assert_eq!(layer.flush_handle().dropped_lines(), 1);
        inner.append(b"{\"c\":3}\n", false);
        inner.flush_all();
        let text = String::from_utf8(lock(&out).clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        // The fragment on a line of its own, the next line whole, then the report.
        assert_eq!(lines[0], "{\"a\":1}");
        assert_eq!(lines[1], "{\"");
        assert_eq!(lines[2], "{\"c\":3}");
        let report: serde_json::Value = serde_json::from_str(lines[3]).unwrap();
        assert_eq!(report["dropped"], 1);
        assert_eq!(report["level"], "WARN");
        assert_eq!(lines.len(), 4);
    }
}
