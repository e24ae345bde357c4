use rustango_core::{ColRef, Expr, LikeKind, Operand, Value};

use crate::{Delete, Dialect, DialectKind, Insert, Select, SelectItem, Update, quote_ident};

/// Accumulates SQL text and its bound parameters for one statement.
#[derive(Debug)]
pub struct SqlWriter<'d> {
    dialect: &'d dyn Dialect,
    sql: String,
    params: Vec<Value>,
}

/// The escape character of `LIKE` patterns: not a backslash, whose meaning inside string
/// literals differs between backends and server modes.
const LIKE_ESCAPE: char = '!';

fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if matches!(c, '%' | '_' | LIKE_ESCAPE) {
            out.push(LIKE_ESCAPE);
        }
        out.push(c);
    }
    out
}

/// Escapes every character that means something in a regular expression.
fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        match c {
            '*' => out.push_str("[*]"),
            '?' => out.push_str("[?]"),
            '[' => out.push_str("[[]"),
            c => out.push(c),
        }
    }
    out
}

impl<'d> SqlWriter<'d> {
    /// An empty writer.
    pub fn new(dialect: &'d dyn Dialect) -> Self {
        SqlWriter {
            dialect,
            sql: String::with_capacity(128),
            params: Vec::new(),
        }
    }

    /// The SQL and its parameters.
    pub fn finish(self) -> (String, Vec<Value>) {
        (self.sql, self.params)
    }

    /// Appends raw SQL text (keywords; never user data).
    pub fn push(&mut self, s: &str) {
        self.sql.push_str(s);
    }

    /// Appends a quoted identifier.
    pub fn ident(&mut self, name: &str) {
        quote_ident(self.dialect, name, &mut self.sql);
    }

    /// Appends a placeholder and binds `v`.
    pub fn value(&mut self, v: Value) {
        self.params.push(v);
        self.dialect.placeholder(self.params.len(), &mut self.sql);
    }

    /// Appends a possibly qualified column.
    pub fn col(&mut self, c: &ColRef) {
        if let Some(t) = c.table {
            self.ident(t);
            self.sql.push('.');
        }
        self.ident(c.column);
    }

    fn list<T>(&mut self, items: impl IntoIterator<Item = T>, mut f: impl FnMut(&mut Self, T)) {
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.sql.push_str(", ");
            }
            f(self, item);
        }
    }

    /// Writes a condition.
    pub fn expr(&mut self, e: Expr) {
        match e {
            Expr::Compare { left, op, right } => {
                self.col(&left);
                self.push(" ");
                self.push(op.as_sql());
                self.push(" ");
                match right {
                    Operand::Value(v) => self.value(v),
                    Operand::Column(c) => self.col(&c),
                }
            }
            Expr::In {
                column,
                values,
                negated,
            } => {
                if values.is_empty() {
                    self.push(if negated { "1 = 1" } else { "1 = 0" });
                    return;
                }
                self.col(&column);
                self.push(if negated { " NOT IN (" } else { " IN (" });
                self.list(values, |w, v| w.value(v));
                self.push(")");
            }
            Expr::IsNull { column, negated } => {
                self.col(&column);
                self.push(if negated { " IS NOT NULL" } else { " IS NULL" });
            }
            Expr::Range { column, low, high } => {
                self.col(&column);
                self.push(" BETWEEN ");
                self.value(low);
                self.push(" AND ");
                self.value(high);
            }
            Expr::Like {
                column,
                kind,
                text,
                case_insensitive,
            } => self.like(column, kind, &text, case_insensitive),
            Expr::And(items) => self.junction(items, " AND ", "1 = 1"),
            Expr::Or(items) => self.junction(items, " OR ", "1 = 0"),
            Expr::Not(inner) => {
                self.push("NOT (");
                self.expr(*inner);
                self.push(")");
            }
            _ => self.push("1 = 0"),
        }
    }

    fn junction(&mut self, items: Vec<Expr>, op: &str, empty: &str) {
        match items.len() {
            0 => self.push(empty),
            1 => {
                let e = items.into_iter().next().expect("one item");
                self.expr(e);
            }
            _ => {
                self.push("(");
                for (i, e) in items.into_iter().enumerate() {
                    if i > 0 {
                        self.push(op);
                    }
                    self.expr(e);
                }
                self.push(")");
            }
        }
    }

    fn like(&mut self, column: ColRef, kind: LikeKind, text: &str, ci: bool) {
        let wrap = |body: String, any: &str| -> String {
            match kind {
                LikeKind::Contains => format!("{any}{body}{any}"),
                LikeKind::StartsWith => format!("{body}{any}"),
                LikeKind::EndsWith => format!("{any}{body}"),
                LikeKind::Exact => body,
            }
        };
        let escape = " ESCAPE '!'";
        match (self.dialect.kind(), ci) {
            (DialectKind::Sqlite, false) => {
                // SQLite's LIKE ignores ASCII case; GLOB is the case-sensitive matcher.
                self.col(&column);
                self.push(" GLOB ");
                self.value(Value::String(wrap(glob_escape(text), "*")));
            }
            (DialectKind::Sqlite, true) => {
                // SQLite's LIKE folds ASCII only; the REGEXP function that rustango-orm
                // registers folds all of Unicode, as PostgreSQL's ILIKE does.
                let body = regex_escape(text);
                let pattern = match kind {
                    LikeKind::Contains => format!("(?i){body}"),
                    LikeKind::StartsWith => format!("(?i)\\A{body}"),
                    LikeKind::EndsWith => format!("(?i){body}\\z"),
                    LikeKind::Exact => format!("(?i)\\A{body}\\z"),
                };
                self.col(&column);
                self.push(" REGEXP ");
                self.value(Value::String(pattern));
            }
            (DialectKind::Postgres, true) => {
                self.col(&column);
                self.push(" ILIKE ");
                self.value(Value::String(wrap(like_escape(text), "%")));
                self.push(escape);
            }
            (DialectKind::MySql, false) => {
                self.col(&column);
                self.push(" LIKE BINARY ");
                self.value(Value::String(wrap(like_escape(text), "%")));
                self.push(escape);
            }
            (DialectKind::MySql, true) => {
                self.push("LOWER(");
                self.col(&column);
                self.push(") LIKE LOWER(");
                self.value(Value::String(wrap(like_escape(text), "%")));
                self.push(")");
                self.push(escape);
            }
            _ => {
                // PostgreSQL LIKE is case-sensitive; SQLite LIKE ignores ASCII case.
                self.col(&column);
                self.push(" LIKE ");
                self.value(Value::String(wrap(like_escape(text), "%")));
                self.push(escape);
            }
        }
    }

    fn select_item(&mut self, item: SelectItem) {
        match item {
            SelectItem::Column(c) => self.col(&c),
            SelectItem::CountAll { alias } => {
                self.push("COUNT(*)");
                self.alias(alias);
            }
            SelectItem::Aggregate {
                func,
                column,
                distinct,
                cast,
                alias,
            } => {
                if cast.is_some() {
                    self.push("CAST(");
                }
                self.push(func.as_sql());
                self.push(if distinct { "(DISTINCT " } else { "(" });
                self.col(&column);
                self.push(")");
                if let Some(k) = cast {
                    self.push(" AS ");
                    self.push(self.dialect.cast_type(k));
                    self.push(")");
                }
                self.alias(alias);
            }
        }
    }

    fn alias(&mut self, alias: Option<&str>) {
        if let Some(a) = alias {
            self.push(" AS ");
            self.ident(a);
        }
    }

    /// Writes a `SELECT`.
    pub fn select(&mut self, s: Select) {
        self.push(if s.distinct {
            "SELECT DISTINCT "
        } else {
            "SELECT "
        });
        if s.items.is_empty() {
            self.push("*");
        } else {
            self.list(s.items, |w, i| w.select_item(i));
        }
        self.push(" FROM ");
        self.ident(s.table);
        if let Some(a) = s.alias {
            self.push(" AS ");
            self.ident(a);
        }
        for j in s.joins {
            self.push(" LEFT JOIN ");
            self.ident(j.table);
            self.push(" AS ");
            self.ident(j.alias);
            self.push(" ON ");
            self.ident(j.alias);
            self.push(".");
            self.ident(j.right);
            self.push(" = ");
            self.col(&j.left);
        }
        if let Some(f) = s.filter {
            self.push(" WHERE ");
            self.expr(f);
        }
        if !s.group_by.is_empty() {
            self.push(" GROUP BY ");
            self.list(s.group_by, |w, c| w.col(&c));
        }
        if !s.order_by.is_empty() {
            self.push(" ORDER BY ");
            self.list(s.order_by, |w, o| {
                w.col(&o.column);
                w.push(if o.desc { " DESC" } else { " ASC" });
            });
        }
        match (s.limit, s.offset) {
            (Some(l), o) => {
                self.push(&format!(" LIMIT {l}"));
                if let Some(o) = o {
                    self.push(&format!(" OFFSET {o}"));
                }
            }
            (None, Some(o)) => match self.dialect.kind() {
                // SQLite and MySQL need a LIMIT before OFFSET.
                DialectKind::Sqlite => self.push(&format!(" LIMIT -1 OFFSET {o}")),
                DialectKind::MySql => self.push(&format!(" LIMIT 18446744073709551615 OFFSET {o}")),
                _ => self.push(&format!(" OFFSET {o}")),
            },
            (None, None) => {}
        }
    }

    fn returning(&mut self, cols: Vec<&'static str>) {
        if !cols.is_empty() && self.dialect.supports_returning() {
            self.push(" RETURNING ");
            self.list(cols, |w, c| w.ident(c));
        }
    }

    /// Writes an `INSERT`.
    pub fn insert(&mut self, i: Insert) {
        self.push("INSERT INTO ");
        self.ident(i.table);
        if i.columns.is_empty() {
            match self.dialect.kind() {
                DialectKind::MySql => self.push(" () VALUES ()"),
                _ => self.push(" DEFAULT VALUES"),
            }
        } else {
            self.push(" (");
            self.list(i.columns.iter(), |w, c| w.ident(c));
            self.push(") VALUES ");
            let n = i.rows.len() * i.columns.len();
            self.params.reserve(n);
            self.sql.reserve(n * 3);
            self.list(i.rows, |w, row| {
                w.push("(");
                w.list(row, |w, v| w.value(v));
                w.push(")");
            });
        }
        if let Some(oc) = i.on_conflict {
            match self.dialect.kind() {
                DialectKind::MySql => {
                    // MySQL resolves conflicts on any unique key; the target is implicit.
                    self.push(" ON DUPLICATE KEY UPDATE ");
                    let cols = if oc.update.is_empty() {
                        oc.target.clone()
                    } else {
                        oc.update
                    };
                    self.list(cols, |w, c| {
                        w.ident(c);
                        w.push(" = VALUES(");
                        w.ident(c);
                        w.push(")");
                    });
                }
                _ => {
                    self.push(" ON CONFLICT (");
                    self.list(oc.target, |w, c| w.ident(c));
                    self.push(")");
                    if oc.update.is_empty() {
                        self.push(" DO NOTHING");
                    } else {
                        self.push(" DO UPDATE SET ");
                        self.list(oc.update, |w, c| {
                            w.ident(c);
                            w.push(" = EXCLUDED.");
                            w.ident(c);
                        });
                    }
                }
            }
        }
        self.returning(i.returning);
    }

    /// Writes an `UPDATE`.
    pub fn update(&mut self, u: Update) {
        self.push("UPDATE ");
        self.ident(u.table);
        self.push(" SET ");
        self.list(u.sets, |w, (c, v)| {
            w.ident(c);
            w.push(" = ");
            w.value(v);
        });
        if let Some(f) = u.filter {
            self.push(" WHERE ");
            self.expr(f);
        }
        self.returning(u.returning);
    }

    /// Writes a `DELETE`.
    pub fn delete(&mut self, d: Delete) {
        self.push("DELETE FROM ");
        self.ident(d.table);
        if let Some(f) = d.filter {
            self.push(" WHERE ");
            self.expr(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_and_glob_escape_their_wildcards() {
        assert_eq!(regex_escape("a.b*(c)$"), "a\\.b\\*\\(c\\)\\$");
        assert_eq!(like_escape("50%_off!"), "50!%!_off!!");
        assert_eq!(glob_escape("a*b?[c]"), "a[*]b[?][[]c]");
    }
}
