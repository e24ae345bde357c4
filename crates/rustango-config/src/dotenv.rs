//! `.env` files: `NAME=value` lines that stand in for environment variables during
//! development (`cp .env.example .env`, then edit `DATABASE_URL`).
//!
//! The format is the common ground of `docker compose`, python-dotenv and `dotenvy`:
//!
//! - blank lines and lines starting with `#` are skipped; `export NAME=value` is
//!   accepted; a bare `NAME` (no `=`) sets nothing;
//! - an unquoted value runs to the end of its line, is trimmed, and ` #` starts a
//!   comment in it;
//! - `'single quotes'` keep everything literally, line breaks included;
//!   `"double quotes"` may span lines too and understand `\n`, `\r`, `\t`, `\"`, `\\`
//!   and `\$` (any other backslash stays as written); after the closing quote only a
//!   comment may follow;
//! - `${NAME}` and `${NAME:-default}` in unquoted and double-quoted values are
//!   replaced by the process environment's `NAME`, else one set earlier in the file,
//!   else the default (or nothing). A bare `$NAME` stays as written, as in
//!   python-dotenv (compose would expand it: write `${NAME}`).
//!
//! A line that cannot be read is an error when it sets a variable rustango reads
//! (`DATABASE_URL`, `RUSTANGO_*`, …), naming the file, line and column but never the
//! value; other lines that cannot be read are skipped, since the file may be shared
//! with other tools. Nothing is written into the process environment: the values
//! only feed [`Sources`](crate::Sources).

use std::collections::BTreeMap;
use std::path::Path;

use crate::ConfigError;

/// The name of the file [`Sources::from_process`](crate::Sources::from_process)
/// reads from the current directory.
pub const DOTENV_FILE: &str = ".env";

/// Reads `path` if it exists: the variables for which `relevant` is true, the last
/// one winning for a repeated name. `env` looks up the process environment for
/// `${NAME}`. `Ok(None)` when there is no such file.
pub(crate) fn read(
    path: &Path,
    relevant: &dyn Fn(&str) -> bool,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<BTreeMap<String, String>>, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ConfigError::Io {
                path: path.to_owned(),
                source,
            });
        }
    };
    let mut vars = parse(&text, relevant, env).map_err(|e| ConfigError::File {
        path: path.to_owned(),
        line: e.line,
        column: e.column,
        message: e.message.to_owned(),
    })?;
    vars.retain(|name, _| relevant(name));
    Ok(Some(vars))
}

/// Where and why a `.env` text is malformed; never its text, which holds secrets.
#[derive(Debug, PartialEq, Eq)]
struct ParseError {
    /// 1-based line.
    line: usize,
    /// 1-based column, in characters.
    column: usize,
    message: &'static str,
}

/// A cursor over the text.
struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.at..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += c.len_utf8();
        Some(c)
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.at += 1;
        }
    }

    /// Moves past the end of the current line.
    fn skip_line(&mut self) {
        match self.text[self.at..].find('\n') {
            Some(end) => self.at += end + 1,
            None => self.at = self.text.len(),
        }
    }

    /// Whether only blanks and maybe a `#` comment are left on this line.
    fn rest_of_line_is_empty(&self) -> bool {
        let rest = &self.text[self.at..];
        let line = rest.split('\n').next().unwrap_or("");
        let line = line.trim_matches([' ', '\t', '\r']);
        line.is_empty() || line.starts_with('#')
    }

    fn error(&self, at: usize, message: &'static str) -> ParseError {
        let before = &self.text[..at];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        ParseError {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
            message,
        }
    }
}

/// Parses a `.env` text into every variable it sets (relevant or not: later values
/// may refer to any of them).
fn parse(
    text: &str,
    relevant: &dyn Fn(&str) -> bool,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, String>, ParseError> {
    // Editors on Windows may start the file with a byte-order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut cursor = Cursor { text, at: 0 };
    let mut vars = BTreeMap::new();
    loop {
        while matches!(cursor.peek(), Some(' ' | '\t' | '\r' | '\n')) {
            cursor.at += 1;
        }
        match cursor.peek() {
            None => return Ok(vars),
            Some('#') => {
                cursor.skip_line();
                continue;
            }
            Some(_) => {}
        }
        let start = cursor.at;
        match statement(&mut cursor, &vars, env) {
            Ok(Some((name, value))) => {
                vars.insert(name, value);
            }
            Ok(None) => {}
            Err((at, message)) => {
                // Only a line setting a variable rustango reads stops the start.
                let line = &text[start..];
                let line = line.strip_prefix("export").map_or(line, |rest| {
                    if rest.starts_with([' ', '\t']) {
                        rest.trim_start_matches([' ', '\t'])
                    } else {
                        line
                    }
                });
                let name = line
                    .split(['=', ' ', '\t', '\r', '\n'])
                    .next()
                    .unwrap_or("");
                if relevant(name) {
                    return Err(cursor.error(at, message));
                }
                // Start again on the line after the one the statement began on.
                cursor.at = start;
                cursor.skip_line();
            }
        }
    }
}

/// One `[export] NAME=value` statement from the cursor (at a non-blank character),
/// leaving the cursor after its line. `Ok(None)` for a bare `NAME`. An error is the
/// byte offset and the reason.
fn statement(
    cursor: &mut Cursor<'_>,
    vars: &BTreeMap<String, String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<(String, String)>, (usize, &'static str)> {
    if cursor.text[cursor.at..].starts_with("export")
        && cursor.text[cursor.at + "export".len()..].starts_with([' ', '\t'])
    {
        cursor.at += "export".len();
        cursor.skip_blanks();
    }
    let name_start = cursor.at;
    while cursor
        .peek()
        .is_some_and(|c| !matches!(c, '=' | ' ' | '\t' | '\r' | '\n'))
    {
        cursor.bump();
    }
    let name = &cursor.text[name_start..cursor.at];
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.'));
    if !valid {
        return Err((
            name_start,
            "a variable name is letters, digits, `_` and `.`, not starting with a digit",
        ));
    }
    cursor.skip_blanks();
    match cursor.peek() {
        Some('=') => {
            cursor.bump();
        }
        _ if cursor.rest_of_line_is_empty() => {
            cursor.skip_line();
            return Ok(None);
        }
        _ => return Err((cursor.at, "expected `=` after the variable name")),
    }
    let value_start = cursor.at;
    cursor.skip_blanks();
    let lookup = |key: &str| env(key).or_else(|| vars.get(key).cloned());
    let value = match cursor.peek() {
        Some(quote @ ('\'' | '"')) => {
            let open = cursor.at;
            cursor.bump();
            let value =
                quoted(cursor, quote, &lookup).ok_or((open, "the quoted value is not closed"))?;
            cursor.skip_blanks();
            if !cursor.rest_of_line_is_empty() {
                return Err((cursor.at, "only a `#` comment may follow a quoted value"));
            }
            value
        }
        _ => {
            // From just after `=`: a `#` is a comment only after a blank.
            let rest = &cursor.text[value_start..];
            let line = rest.split('\n').next().unwrap_or("");
            let end = line
                .char_indices()
                .find(|&(i, c)| c == '#' && line[..i].ends_with([' ', '\t']))
                .map_or(line.len(), |(i, _)| i);
            expand(line[..end].trim(), &lookup)
        }
    };
    cursor.skip_line();
    Ok(Some((name.to_owned(), value)))
}

/// A quoted value after its opening `quote`, up to the closing one (which is
/// consumed); `None` if the text ends first.
fn quoted(
    cursor: &mut Cursor<'_>,
    quote: char,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Option<String> {
    let mut raw = String::new();
    loop {
        let c = cursor.bump()?;
        match c {
            c if c == quote => break,
            '\\' if quote == '"' => match cursor.bump()? {
                'n' => raw.push('\n'),
                'r' => raw.push('\r'),
                't' => raw.push('\t'),
                '"' => raw.push('"'),
                '\\' => raw.push('\\'),
                // Kept away from the expansion below.
                '$' => raw.push('\u{0}'),
                other => {
                    raw.push('\\');
                    raw.push(other);
                }
            },
            c => raw.push(c),
        }
    }
    if quote == '\'' {
        return Some(raw);
    }
    Some(expand(&raw, lookup).replace('\u{0}', "$"))
}

/// Replaces `${NAME}` and `${NAME:-default}`; anything else stays as written.
fn expand(value: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let inner = &after[..end];
        let (name, default) = match inner.split_once(":-") {
            Some((name, default)) => (name, default),
            None => (inner, ""),
        };
        match lookup(name).filter(|v| !v.is_empty()) {
            Some(v) => out.push_str(&v),
            None => out.push_str(default),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(_: &str) -> bool {
        true
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn vars(text: &str) -> Vec<(String, String)> {
        parse(text, &all, &no_env).unwrap().into_iter().collect()
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn one(text: &str) -> String {
        let v = vars(text);
        assert_eq!(v.len(), 1, "{v:?}");
        v[0].1.clone()
    }

    #[test]
    fn lines_comments_and_export() {
        let text = "# settings\n\nDATABASE_URL=postgres://app@db/app\n  export SECRET_KEY = abc \nexport\tRUSTANGO_ENV=dev # the default\nEMPTY=\nBARE\n";
        assert_eq!(
            vars(text),
            pairs(&[
                ("DATABASE_URL", "postgres://app@db/app"),
                ("EMPTY", ""),
                ("RUSTANGO_ENV", "dev"),
                ("SECRET_KEY", "abc"),
            ])
        );
        // `export` alone is a name.
        assert_eq!(vars("export=1"), pairs(&[("export", "1")]));
    }

    #[test]
    fn values() {
        // `#` without a space before it is part of the value (a URL fragment, a password).
        assert_eq!(one("K=a#b"), "a#b");
        assert_eq!(one("K=#not a comment"), "#not a comment");
        assert_eq!(one("K= #a comment"), "");
        assert_eq!(one("K=a=b=c"), "a=b=c");
        assert_eq!(one("K='a \"b\" #c \\n ${X}'"), "a \"b\" #c \\n ${X}");
        assert_eq!(
            one("K=\"a\\nb \\\"c\\\" \\$HOME \\d\" # note"),
            "a\nb \"c\" $HOME \\d"
        );
        assert_eq!(one("K=$OTHER"), "$OTHER");
        assert_eq!(one("K=\"\""), "");
        // The last one wins.
        assert_eq!(one("K=1\nK=2"), "2");
        // Windows line ends and a byte-order mark.
        assert_eq!(
            vars("\u{feff}A=1\r\nB='2'\r\n"),
            pairs(&[("A", "1"), ("B", "2")])
        );
    }

    #[test]
    fn quoted_values_may_span_lines() {
        let text = "KEY=\"-----BEGIN KEY-----\nabc\n-----END KEY-----\"\nNEXT='x\ny' # c\nLAST=z";
        assert_eq!(
            vars(text),
            pairs(&[
                ("KEY", "-----BEGIN KEY-----\nabc\n-----END KEY-----"),
                ("LAST", "z"),
                ("NEXT", "x\ny"),
            ])
        );
    }

    #[test]
    fn expansion() {
        let env = |name: &str| (name == "USER_FROM_ENV").then(|| "env".to_owned());
        let parsed = parse(
            "HOST=db\nURL=postgres://${USER_FROM_ENV}@${HOST}/${DB:-app}\nQ=\"${HOST}:${MISSING}\\${HOST}\"\nS='${HOST}'\nOPEN=${HOST",
            &all,
            &env,
        )
        .unwrap();
        assert_eq!(parsed["URL"], "postgres://env@db/app");
        assert_eq!(parsed["Q"], "db:${HOST}");
        assert_eq!(parsed["S"], "${HOST}");
        assert_eq!(parsed["OPEN"], "${HOST");
    }

    #[test]
    fn malformed_lines_stop_only_the_variables_rustango_reads() {
        let relevant = |name: &str| name.starts_with("RUSTANGO_");
        let err = |text: &str| parse(text, &relevant, &no_env).unwrap_err();
        assert_eq!(
            err("A=1\nRUSTANGO_X value\n"),
            ParseError {
                line: 2,
                column: 12,
                message: "expected `=` after the variable name"
            }
        );
        assert_eq!(
            err("RUSTANGO_K=\"open secret\nmore"),
            ParseError {
                line: 1,
                column: 12,
                message: "the quoted value is not closed"
            }
        );
        assert_eq!(
            err("  RUSTANGO_K='a' b").message,
            "only a `#` comment may follow a quoted value"
        );
        // Columns count characters, not bytes.
        assert_eq!(err("RUSTANGO_É=1").column, 1);
        assert_eq!(err("RUSTANGO_K='é' x").column, 16);
        // Another tool's lines are skipped, whatever they hold.
        let parsed = parse(
            "not a setting\n1X=2\nOTHER='open\nRUSTANGO_ENV=dev",
            &relevant,
            &no_env,
        );
        // reading starts again on the line after the one that could not be read.
        assert_eq!(parsed.unwrap()["RUSTANGO_ENV"], "dev");
    }

    #[test]
    fn a_missing_file_is_no_variables() {
        let path = std::env::temp_dir().join("rustango-no-such-dir/.env");
        assert!(read(&path, &all, &no_env).unwrap().is_none());
    }

    #[test]
    fn an_error_names_the_file_and_line_but_not_the_value() {
        let dir = std::env::temp_dir().join(format!("rustango-dotenv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(".env");
        std::fs::write(&path, "A=1\nSECRET_KEY=\"hunter2-never-printed\n").unwrap();
        let err = read(&path, &all, &no_env).unwrap_err().to_string();
        assert!(err.contains(".env") && err.contains('2'), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
