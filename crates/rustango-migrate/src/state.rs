//! How each operation changes a [`SchemaSnapshot`]: the runner replays a migration's
//! operations on the state before it, so hand-written operations (a `RenameColumn` in an
//! `--empty` migration) count even when the file's stored snapshot was not edited.

use crate::{Error, Operation, SchemaSnapshot, TableState};

fn bad(op: &Operation, reason: impl Into<String>) -> Error {
    Error::BadOperation {
        operation: op.describe(),
        reason: reason.into(),
    }
}

/// `expr` (a CHECK expression) with the column `from` renamed `to`, as SQLite and
/// PostgreSQL rewrite a constraint when a column it uses is renamed: whole identifiers
/// only, bare (any case) or double-quoted, never in string literals or as a function
/// name.
fn rename_in_expr(expr: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(expr.len());
    let mut rest = expr;
    while let Some(c) = rest.chars().next() {
        let len = match c {
            '\'' | '"' => {
                // Up to the closing quote; a doubled quote is an escaped one.
                let mut end = 1;
                loop {
                    match rest[end..].find(c) {
                        Some(i) if rest[end + i + 1..].starts_with(c) => end += i + 2,
                        Some(i) => break end + i + 1,
                        None => break rest.len(),
                    }
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' => rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))
                .unwrap_or(rest.len()),
            c => c.len_utf8(),
        };
        let (token, tail) = rest.split_at(len);
        let is_call = tail.trim_start().starts_with('(');
        if token.starts_with('"') && token == format!("\"{}\"", from.replace('"', "\"\"")) {
            out.push('"');
            out.push_str(&to.replace('"', "\"\""));
            out.push('"');
        } else if !token.starts_with(['"', '\'']) && !is_call && token.eq_ignore_ascii_case(from) {
            out.push_str(to);
        } else {
            out.push_str(token);
        }
        rest = tail;
    }
    out
}

impl SchemaSnapshot {
    fn table_mut(&mut self, op: &Operation, name: &str) -> Result<&mut TableState, Error> {
        self.tables
            .get_mut(name)
            .ok_or_else(|| bad(op, format!("table `{name}` does not exist at this point")))
    }

    /// Applies one operation to the snapshot, refusing operations that do not fit it
    /// (a column added twice, a table that is not there).
    pub fn apply(&mut self, op: &Operation) -> Result<(), Error> {
        use Operation as O;
        match op {
            O::CreateTable { table } => {
                if self.tables.contains_key(&table.name) {
                    return Err(bad(op, format!("table `{}` already exists", table.name)));
                }
                self.tables.insert(table.name.clone(), table.clone());
            }
            O::DropTable { table } => {
                if self.tables.remove(&table.name).is_none() {
                    return Err(bad(op, format!("table `{}` does not exist", table.name)));
                }
            }
            O::RenameTable { from, to } => {
                if self.tables.contains_key(to) {
                    return Err(bad(op, format!("table `{to}` already exists")));
                }
                let mut t = self
                    .tables
                    .remove(from)
                    .ok_or_else(|| bad(op, format!("table `{from}` does not exist")))?;
                t.name = to.clone();
                self.tables.insert(to.clone(), t);
                for t in self.tables.values_mut() {
                    for c in &mut t.columns {
                        if let Some(r) = &mut c.references
                            && &r.table == from
                        {
                            r.table = to.clone();
                        }
                    }
                    for m in &mut t.m2m {
                        if &m.to == from {
                            m.to = to.clone();
                        }
                    }
                }
            }
            O::AddColumn { table, column } => {
                let t = self.table_mut(op, table)?;
                if t.column(&column.name).is_some() {
                    return Err(bad(op, format!("column `{}` already exists", column.name)));
                }
                t.columns.push(column.clone());
            }
            O::DropColumn { table, column } => {
                let t = self.table_mut(op, table)?;
                let before = t.columns.len();
                t.columns.retain(|c| c.name != column.name);
                if t.columns.len() == before {
                    return Err(bad(op, format!("column `{}` does not exist", column.name)));
                }
                // Every backend drops the indexes that include a dropped column.
                t.indexes.retain(|i| !i.columns.contains(&column.name));
            }
            O::RenameColumn { table, from, to } => {
                let t = self.table_mut(op, table)?;
                if t.column(to).is_some() {
                    return Err(bad(op, format!("column `{to}` already exists")));
                }
                let c = t
                    .columns
                    .iter_mut()
                    .find(|c| &c.name == from)
                    .ok_or_else(|| bad(op, format!("column `{from}` does not exist")))?;
                c.name = to.clone();
                for i in &mut t.indexes {
                    for c in &mut i.columns {
                        if c == from {
                            *c = to.clone();
                        }
                    }
                }
                // Both backends rewrite the CHECK constraints that use the column.
                for check in &mut t.checks {
                    check.expr = rename_in_expr(&check.expr, from, to);
                }
                let table = table.clone();
                for t in self.tables.values_mut() {
                    for c in &mut t.columns {
                        if let Some(r) = &mut c.references
                            && r.table == table
                            && &r.column == from
                        {
                            r.column = to.clone();
                        }
                    }
                }
            }
            O::AlterColumnType { table, from, to }
            | O::AlterColumnNullable { table, from, to }
            | O::AlterColumnDefault { table, from, to }
            | O::AlterColumnMaxLength { table, from, to }
            | O::AlterColumnUnique { table, from, to } => {
                if from.name != to.name {
                    return Err(bad(op, "`from` and `to` name different columns"));
                }
                let t = self.table_mut(op, table)?;
                let c = t
                    .columns
                    .iter_mut()
                    .find(|c| c.name == to.name)
                    .ok_or_else(|| bad(op, format!("column `{}` does not exist", to.name)))?;
                // Keep the live foreign key: alter operations do not carry it.
                let references = c.references.take();
                *c = to.clone();
                c.references = references;
            }
            O::AddForeignKey {
                table,
                column,
                references,
            } => {
                let t = self.table_mut(op, table)?;
                let c = t
                    .columns
                    .iter_mut()
                    .find(|c| &c.name == column)
                    .ok_or_else(|| bad(op, format!("column `{column}` does not exist")))?;
                c.references = Some(references.clone());
            }
            O::DropForeignKey { table, column, .. } => {
                let t = self.table_mut(op, table)?;
                let c = t
                    .columns
                    .iter_mut()
                    .find(|c| &c.name == column)
                    .ok_or_else(|| bad(op, format!("column `{column}` does not exist")))?;
                c.references = None;
            }
            O::CreateIndex { table, index } => {
                let t = self.table_mut(op, table)?;
                if t.indexes.iter().any(|i| i.name == index.name) {
                    return Err(bad(op, format!("index `{}` already exists", index.name)));
                }
                if let Some(missing) = index.columns.iter().find(|c| t.column(c).is_none()) {
                    return Err(bad(op, format!("column `{missing}` does not exist")));
                }
                t.indexes.push(index.clone());
            }
            O::DropIndex { table, index } => {
                let t = self.table_mut(op, table)?;
                t.indexes.retain(|i| i.name != index.name);
            }
            O::AddCheckConstraint { table, check } => {
                let t = self.table_mut(op, table)?;
                if t.checks.iter().any(|c| c.name == check.name) {
                    return Err(bad(op, format!("check `{}` already exists", check.name)));
                }
                t.checks.push(check.clone());
            }
            O::DropCheckConstraint { table, check } => {
                let t = self.table_mut(op, table)?;
                t.checks.retain(|c| c.name != check.name);
            }
            O::CreateM2MTable { table, m2m } => {
                let t = self.table_mut(op, table)?;
                if t.m2m.iter().any(|m| m.through == m2m.through) {
                    return Err(bad(op, format!("table `{}` already exists", m2m.through)));
                }
                t.m2m.push(m2m.clone());
            }
            O::DropM2MTable { table, m2m } => {
                let t = self.table_mut(op, table)?;
                t.m2m.retain(|m| m.through != m2m.through);
            }
            O::RunSql { .. } => {}
        }
        Ok(())
    }

    /// The snapshot after applying `ops` in order.
    pub fn replay<'a>(
        mut self,
        ops: impl IntoIterator<Item = &'a Operation>,
    ) -> Result<SchemaSnapshot, Error> {
        for op in ops {
            self.apply(op)?;
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::rename_in_expr;

    #[test]
    fn renames_whole_identifiers_only() {
        assert_eq!(
            rename_in_expr("points >= 0", "points", "total"),
            "total >= 0"
        );
        assert_eq!(
            rename_in_expr(
                "\"points\" > 0 AND POINTS < max_points AND kind <> 'points'",
                "points",
                "total"
            ),
            "\"total\" > 0 AND total < max_points AND kind <> 'points'"
        );
        assert_eq!(
            rename_in_expr(
                "length(length) < 5 AND x = 'it''s length'",
                "length",
                "size"
            ),
            "length(size) < 5 AND x = 'it''s length'"
        );
        assert_eq!(rename_in_expr("a_b>0", "a", "c"), "a_b>0");
    }
}
