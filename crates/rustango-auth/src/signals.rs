//! Auth signals (Django's `user_logged_in`, `user_login_failed`, `user_logged_out`):
//! functions called on every sign-in event, for audit logs, notifications or
//! metrics. Every event is also logged through `tracing` (`rustango::auth` target),
//! never with a password.
//!
//! ```
//! use rustango_auth::signals::{self, AuthEvent};
//!
//! let id = signals::connect(|event| {
//!     if let AuthEvent::LoginFailed { username, .. } = event {
//!         eprintln!("failed sign-in for {username}");
//!     }
//! });
//! signals::disconnect(id);
//! ```

use std::sync::{Arc, RwLock};

/// A sign-in event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthEvent {
    /// A user signed in.
    LoggedIn {
        /// Their key.
        user_id: i64,
        /// Their username.
        username: String,
        /// `"session"` or `"jwt"`.
        method: &'static str,
    },
    /// A sign-in failed (unknown user, wrong password or code, inactive account).
    LoginFailed {
        /// The username that was tried.
        username: String,
        /// The client address.
        address: String,
    },
    /// A user signed out.
    LoggedOut {
        /// Their key.
        user_id: i64,
        /// Their username.
        username: String,
    },
}

type Receiver = Arc<dyn Fn(&AuthEvent) + Send + Sync>;

static RECEIVERS: RwLock<Vec<(u64, Receiver)>> = RwLock::new(Vec::new());
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Identifies a connected receiver, for [`disconnect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverId(u64);

/// Calls `receiver` on every event from now on.
pub fn connect(receiver: impl Fn(&AuthEvent) + Send + Sync + 'static) -> ReceiverId {
    let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    RECEIVERS
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .push((id, Arc::new(receiver)));
    ReceiverId(id)
}

/// Stops calling a receiver; `false` if it was not connected.
pub fn disconnect(id: ReceiverId) -> bool {
    let mut receivers = RECEIVERS.write().unwrap_or_else(|e| e.into_inner());
    let before = receivers.len();
    receivers.retain(|(i, _)| *i != id.0);
    receivers.len() != before
}

/// Sends `event` to every receiver (and the log).
pub fn send(event: &AuthEvent) {
    match event {
        AuthEvent::LoggedIn {
            username, method, ..
        } => {
            tracing::info!(target: "rustango::auth", %username, method, "signed in");
        }
        AuthEvent::LoginFailed { username, address } => {
            // People type passwords into the username field: log a short, escaped
            // prefix only.
            let shown: String = username.chars().take(32).collect();
            tracing::warn!(target: "rustango::auth", username = ?shown, %address, "sign-in failed");
        }
        AuthEvent::LoggedOut { username, .. } => {
            tracing::info!(target: "rustango::auth", %username, "signed out");
        }
    }
    // Receivers run outside the lock, so one may connect or disconnect others.
    let receivers: Vec<Receiver> = RECEIVERS
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(_, r)| r.clone())
        .collect();
    for receiver in receivers {
        receiver(event);
    }
}
