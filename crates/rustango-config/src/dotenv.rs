//! `.env` files: `NAME=value` lines that stand in for environment variables during
//! development (`cp .env.example .env`, then edit `DATABASE_URL`).
//!
//! The format is the one `docker compose`, python-dotenv and `dotenvy` share:
//!
//! - blank lines and lines starting with `#` are skipped; `export NAME=value` is
//!   accepted;
//! - an unquoted value is trimmed, and ` #` starts a comment in it;
//! - `'single quotes'` keep everything literally; `"double quotes"` understand `\n`,
//!   `\t`, `\"`, `\\` and `\$`; after the closing quote only a comment may follow.
//!
//! Variables are not expanded (`$OTHER` stays as written), and nothing is written
//! into the process environment: the values only feed [`Sources`](crate::Sources).

use std::collections::BTreeMap;
use std::path::Path;

use crate::ConfigError;

/// The name of the file [`Sources::from_process`](crate::Sources::from_process)
/// reads from the current directory.
pub const DOTENV_FILE: &str = ".env";

/// Reads `path` if it exists: its variables, the last one winning for a repeated
/// name. `Ok(None)` when there is no such file.
pub(crate) fn read(path: &Path) -> Result<Option<BTreeMap<String, String>>, ConfigError> {
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
    parse(&text)
        .map(Some)
        .map_err(|(line, column, message)| ConfigError::File {
            path: path.to_owned(),
            line,
            column,
            message: message.to_owned(),
        })
}

/// Parses a `.env` text. An error is `(line, column, what)`, both 1-based; it never
/// repeats the file's text, which holds secrets.
fn parse(text: &str) -> Result<BTreeMap<String, String>, (usize, usize, &'static str)> {
    let mut vars = BTreeMap::new();
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        let line = raw.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let indent = raw.len() - line.len();
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let column = |rest: &str| raw.len() - rest.len() + 1;
        let Some((name, value)) = line.split_once('=') else {
            return Err((number, indent + 1, "expected `NAME=value`"));
        };
        let name = name.trim_end();
        let valid_name = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if !valid_name {
            return Err((
                number,
                indent + 1,
                "a variable name is letters, digits and `_`, not starting with a digit",
            ));
        }
        let value = value.trim_start();
        let parsed = match value.chars().next() {
            Some('\'') => quoted(&value[1..], '\'').map_err(|(rest, what)| (column(rest), what)),
            Some('"') => quoted(&value[1..], '"').map_err(|(rest, what)| (column(rest), what)),
            _ => Ok(unquoted(value)),
        };
        let value = parsed.map_err(|(col, what)| (number, col, what))?;
        vars.insert(name.to_owned(), value);
    }
    Ok(vars)
}

/// An unquoted value: up to a ` #` comment, trimmed.
fn unquoted(value: &str) -> String {
    let end = value
        .char_indices()
        .find(|&(i, c)| c == '#' && value[..i].ends_with([' ', '\t']))
        .map_or(value.len(), |(i, _)| i);
    value[..end].trim().to_owned()
}

/// A value after its opening `quote`: its text, or where and why it is malformed
/// (the rest of the line from that point, and a message).
fn quoted(rest: &str, quote: char) -> Result<String, (&str, &'static str)> {
    let mut out = String::new();
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            c if c == quote => {
                let after = rest[i + 1..].trim_start();
                if after.is_empty() || after.starts_with('#') {
                    return Ok(out);
                }
                return Err((after, "only a `#` comment may follow a quoted value"));
            }
            '\\' if quote == '"' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, 'r')) => out.push('\r'),
                Some((_, e @ ('"' | '\\' | '$'))) => out.push(e),
                Some((j, _)) => return Err((&rest[j..], "unknown escape in a quoted value")),
                None => return Err(("", "the quoted value is not closed on its line")),
            },
            c => out.push(c),
        }
    }
    Err(("", "the quoted value is not closed on its line"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(text: &str) -> Vec<(String, String)> {
        parse(text).unwrap().into_iter().collect()
    }

    fn one(text: &str) -> String {
        let v = vars(text);
        assert_eq!(v.len(), 1, "{v:?}");
        v[0].1.clone()
    }

    #[test]
    fn lines_comments_and_export() {
        let text = "# settings\n\nDATABASE_URL=postgres://app@db/app\n  export SECRET_KEY = abc \nRUSTANGO_ENV=dev # the default\nEMPTY=\n";
        assert_eq!(
            vars(text),
            [
                ("DATABASE_URL", "postgres://app@db/app"),
                ("EMPTY", ""),
                ("RUSTANGO_ENV", "dev"),
                ("SECRET_KEY", "abc"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
    }

    #[test]
    fn values() {
        // `#` without a space before it is part of the value (a URL fragment, a password).
        assert_eq!(one("K=a#b"), "a#b");
        assert_eq!(one("K=a=b=c"), "a=b=c");
        assert_eq!(one("K='a \"b\" #c \\n'"), "a \"b\" #c \\n");
        assert_eq!(
            one("K=\"a\\nb \\\"c\\\" \\$HOME\" # note"),
            "a\nb \"c\" $HOME"
        );
        assert_eq!(one("K=$OTHER"), "$OTHER");
        assert_eq!(one("K=\"\""), "");
        // The last one wins.
        assert_eq!(one("K=1\nK=2"), "2");
    }

    #[test]
    fn malformed_lines_say_where_without_the_text() {
        let err = |text: &str| parse(text).unwrap_err();
        assert_eq!(err("A=1\nnot a setting\n"), (2, 1, "expected `NAME=value`"));
        assert_eq!(err("  1X=2").0, 1);
        assert_eq!(err("  1X=2").1, 3);
        assert_eq!(err("=2").0, 1);
        assert_eq!(
            err("K=\"open secret"),
            (1, 15, "the quoted value is not closed on its line")
        );
        assert_eq!(
            err("K='a' b"),
            (1, 7, "only a `#` comment may follow a quoted value")
        );
        assert_eq!(err("K=\"\\q\"").2, "unknown escape in a quoted value");
    }

    #[test]
    fn a_missing_file_is_no_variables() {
        let path = std::env::temp_dir().join("rustango-no-such-dir/.env");
        assert!(read(&path).unwrap().is_none());
    }

    #[test]
    fn an_error_names_the_file_and_line_but_not_the_value() {
        let dir = std::env::temp_dir().join(format!("rustango-dotenv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(".env");
        std::fs::write(&path, "SECRET_KEY=\"hunter2-never-printed\n").unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains(".env") && err.contains('1'), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
