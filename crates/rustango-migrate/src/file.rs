//! The JSON migration file.

use serde::{Deserialize, Serialize};

use crate::{Error, Operation, SchemaSnapshot};

/// The version of the file format this crate writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// One migration file: its operations and the full schema after them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Migration {
    /// Format version ([`FORMAT_VERSION`]).
    pub format: u32,
    /// The name (the file name without `.json`, e.g. `0002_add_slug`).
    pub name: String,
    /// Operations applied going forward, in order.
    pub forward: Vec<Operation>,
    /// The schema after this migration.
    pub snapshot: SchemaSnapshot,
}

impl Migration {
    /// A migration of the current format.
    pub fn new(name: impl Into<String>, forward: Vec<Operation>, snapshot: SchemaSnapshot) -> Self {
        Migration {
            format: FORMAT_VERSION,
            name: name.into(),
            forward,
            snapshot,
        }
    }

    /// The file's JSON (pretty-printed, stable key order, ending in a newline).
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("migration serializes");
        s.push('\n');
        s
    }

    /// Reads a migration file, refusing unknown format versions.
    pub fn from_json(name: &str, text: &str) -> Result<Migration, Error> {
        #[derive(Deserialize)]
        struct Head {
            format: u32,
        }
        let head: Head = serde_json::from_str(text).map_err(|source| Error::BadFile {
            name: name.to_owned(),
            source,
        })?;
        if head.format != FORMAT_VERSION {
            return Err(Error::UnsupportedFormat {
                name: name.to_owned(),
                found: head.format,
                expected: FORMAT_VERSION,
            });
        }
        serde_json::from_str(text).map_err(|source| Error::BadFile {
            name: name.to_owned(),
            source,
        })
    }

    /// The operations that unapply this migration: each operation's reverse, last first.
    pub fn backward(&self) -> Result<Vec<Operation>, Error> {
        self.forward
            .iter()
            .enumerate()
            .rev()
            .map(|(i, op)| {
                op.reverse().ok_or_else(|| Error::Irreversible {
                    migration: self.name.clone(),
                    position: i + 1,
                    operation: op.describe(),
                })
            })
            .collect()
    }

    /// Whether every operation can be undone.
    pub fn is_reversible(&self) -> bool {
        self.forward.iter().all(Operation::is_reversible)
    }
}
