//! Hand-written SQL for the few queries the query builder does not express (a
//! permission check in one round trip): identifiers quoted by the dialect's one
//! quoting function, values always bound.

use rustango_query::Dialect;

/// A statement being written for one dialect.
pub(crate) struct Sql {
    dialect: &'static dyn Dialect,
    out: String,
    params: usize,
}

impl Sql {
    pub(crate) fn new(dialect: &'static dyn Dialect) -> Sql {
        Sql {
            dialect,
            out: String::with_capacity(256),
            params: 0,
        }
    }

    /// SQL text written by us (keywords, aliases, punctuation).
    pub(crate) fn raw(&mut self, sql: &str) -> &mut Sql {
        self.out.push_str(sql);
        self
    }

    /// A quoted identifier.
    pub(crate) fn ident(&mut self, name: &str) -> &mut Sql {
        rustango_query::quote_ident(self.dialect, name, &mut self.out);
        self
    }

    /// The next placeholder (`$n` or `?`).
    pub(crate) fn param(&mut self) -> &mut Sql {
        self.params += 1;
        self.dialect.placeholder(self.params, &mut self.out);
        self
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.out
    }
}
