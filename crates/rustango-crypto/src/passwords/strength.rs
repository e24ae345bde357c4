//! Password strength rules, after Django's four default validators.

use std::collections::HashSet;
use std::fmt;
use std::sync::LazyLock;

/// The embedded list: one lowercase password per line.
const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    COMMON_PASSWORDS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
});

/// Longest password or attribute (in characters) the similarity rule looks at; longer
/// ones are skipped, which bounds the quadratic comparison.
const MAX_SIMILARITY_INPUT: usize = 256;

/// Whether `password` is on the embedded list of common passwords (compared after
/// trimming and lowercasing, as Django does).
#[must_use]
pub fn is_common_password(password: &str) -> bool {
    COMMON.contains(password.trim().to_lowercase().as_str())
}

/// One reason a password is too weak. Its `Display` is a sentence for the user.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum StrengthProblem {
    /// Fewer characters than [`PasswordPolicy::min_length`].
    TooShort {
        /// The minimum.
        min_length: usize,
    },
    /// More characters than [`PasswordPolicy::max_length`].
    TooLong {
        /// The maximum.
        max_length: usize,
    },
    /// On the list of common passwords.
    Common,
    /// Only digits.
    AllNumeric,
    /// Too close to one of the user's attributes.
    TooSimilar {
        /// Index of the attribute in the slice given to the check.
        attribute: usize,
    },
}

impl fmt::Display for StrengthProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { min_length } => write!(
                f,
                "This password is too short. It must contain at least {min_length} characters."
            ),
            Self::TooLong { max_length } => write!(
                f,
                "This password is too long. It must contain at most {max_length} characters."
            ),
            Self::Common => f.write_str("This password is too common."),
            Self::AllNumeric => f.write_str("This password is entirely numeric."),
            Self::TooSimilar { .. } => {
                f.write_str("The password is too similar to your personal information.")
            }
        }
    }
}

/// The rules of [`check_strength`]. Start from [`Default`] and change fields.
///
/// ```
/// use rustango_crypto::passwords::{PasswordPolicy, StrengthProblem};
///
/// let mut policy = PasswordPolicy::default();
/// policy.min_length = 12;
/// let problems = policy.check("tulip-river", &[]).unwrap_err();
/// assert_eq!(problems, [StrengthProblem::TooShort { min_length: 12 }]);
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct PasswordPolicy {
    /// Minimum number of characters (Unicode scalar values). Default 8.
    pub min_length: usize,
    /// Maximum number of characters, so nobody submits megabytes. Default 4096.
    pub max_length: usize,
    /// Refuse passwords on the embedded common-password list. Default true.
    pub reject_common: bool,
    /// Refuse passwords made only of digits. Default true.
    pub reject_numeric: bool,
    /// Refuse passwords whose similarity ratio (0.0 to 1.0, as Python's
    /// `difflib.SequenceMatcher.ratio`) to a user attribute, or to a word of it, is at
    /// least this. Default `Some(0.7)`, Django's; `None` turns the rule off.
    ///
    /// Django compares with `quick_ratio`, an upper bound that only counts shared
    /// characters and so flags anagrams ("htimsbob" vs "bobsmith"); the full ratio
    /// used here counts matching runs, with fewer false alarms.
    pub max_similarity: Option<f64>,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 8,
            max_length: 4096,
            reject_common: true,
            reject_numeric: true,
            max_similarity: Some(0.7),
        }
    }
}

impl PasswordPolicy {
    /// Checks `password` against every rule and returns all problems found.
    ///
    /// `user_attributes` are the user's own values (username, email, first and last
    /// name...); empty ones are ignored.
    ///
    /// # Errors
    /// The list of problems, in rule order, when there is at least one.
    pub fn check(
        &self,
        password: &str,
        user_attributes: &[&str],
    ) -> Result<(), Vec<StrengthProblem>> {
        let mut problems = Vec::new();
        let len = password.chars().count();
        if len < self.min_length {
            problems.push(StrengthProblem::TooShort {
                min_length: self.min_length,
            });
        }
        if len > self.max_length {
            problems.push(StrengthProblem::TooLong {
                max_length: self.max_length,
            });
        }
        if let Some(max) = self.max_similarity
            && let Some(attribute) = similar_attribute(password, user_attributes, max)
        {
            problems.push(StrengthProblem::TooSimilar { attribute });
        }
        if self.reject_common && is_common_password(password) {
            problems.push(StrengthProblem::Common);
        }
        if self.reject_numeric && !password.is_empty() && password.chars().all(char::is_numeric) {
            problems.push(StrengthProblem::AllNumeric);
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// Checks `password` with the default [`PasswordPolicy`]: at least 8 characters, not
/// a common password, not all digits, not too similar to `user_attributes`.
///
/// # Errors
/// Every [`StrengthProblem`] found.
pub fn check_strength(
    password: &str,
    user_attributes: &[&str],
) -> Result<(), Vec<StrengthProblem>> {
    PasswordPolicy::default().check(password, user_attributes)
}

/// Index of the first attribute too similar to `password`, Django's
/// `UserAttributeSimilarityValidator`: the password is compared, lowercased, with each
/// lowercased attribute and with each of its words (split on non-word characters).
fn similar_attribute(password: &str, attributes: &[&str], max_similarity: f64) -> Option<usize> {
    let password: Vec<char> = password.to_lowercase().chars().collect();
    if password.len() > MAX_SIMILARITY_INPUT {
        return None;
    }
    attributes.iter().position(|attribute| {
        let value = attribute.to_lowercase();
        if value.is_empty() || value.chars().count() > MAX_SIMILARITY_INPUT {
            return false;
        }
        value
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .chain(std::iter::once(value.as_str()))
            .filter(|part| !part.is_empty())
            .any(|part| {
                let part: Vec<char> = part.chars().collect();
                !exceeds_length_ratio(password.len(), part.len(), max_similarity)
                    && ratio(&password, &part) >= max_similarity
            })
    })
}

/// Django's shortcut: a password ten times longer than a short attribute word cannot
/// be "similar" to it in any useful sense, whatever the ratio says.
fn exceeds_length_ratio(password_len: usize, value_len: usize, max_similarity: f64) -> bool {
    #[allow(clippy::cast_precision_loss)] // lengths are at most 256
    let bound = max_similarity / 2.0 * password_len as f64;
    #[allow(clippy::cast_precision_loss)]
    let value = value_len as f64;
    password_len >= 10 * value_len && value < bound
}

/// `2 * M / (len(a) + len(b))` where M is the number of characters in the matching
/// blocks found by the Ratcliff/Obershelp algorithm (as `SequenceMatcher.ratio()`
/// without its junk heuristics, which only apply to inputs of 200+ items).
fn ratio(a: &[char], b: &[char]) -> f64 {
    let total = a.len() + b.len();
    if total == 0 {
        return 1.0;
    }
    #[allow(clippy::cast_precision_loss)] // lengths are at most 256
    let r = 2.0 * matching_characters(a, b) as f64 / total as f64;
    r
}

fn matching_characters(a: &[char], b: &[char]) -> usize {
    let mut matched = 0;
    // An explicit stack instead of recursion: depth is bounded by the input anyway,
    // but this keeps stack use flat.
    let mut pending = vec![(a, b)];
    while let Some((a, b)) = pending.pop() {
        let (i, j, k) = longest_match(a, b);
        if k == 0 {
            continue;
        }
        matched += k;
        pending.push((&a[..i], &b[..j]));
        pending.push((&a[i + k..], &b[j + k..]));
    }
    matched
}

/// Longest common run `(start in a, start in b, length)`, earliest in `a` on ties.
fn longest_match(a: &[char], b: &[char]) -> (usize, usize, usize) {
    let mut best = (0, 0, 0);
    let mut prev = vec![0usize; b.len() + 1];
    let mut cur = vec![0usize; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        for (j, cb) in b.iter().enumerate() {
            let k = if ca == cb { prev[j] + 1 } else { 0 };
            cur[j + 1] = k;
            if k > best.2 {
                best = (i + 1 - k, j + 1 - k, k);
            }
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    #[test]
    fn ratio_matches_difflib() {
        // Values from Python's difflib.SequenceMatcher(None, a, b).ratio().
        let cases = [
            ("abcd", "bcde", 0.75),
            ("alice2024", "alice", 10.0 / 14.0),
            ("qwerty", "qwerty", 1.0),
            ("abc", "xyz", 0.0),
            ("private", "pirate", 10.0 / 13.0),
        ];
        for (a, b, expected) in cases {
            let r = ratio(&chars(a), &chars(b));
            assert!((r - expected).abs() < 1e-9, "{a} vs {b}: {r} != {expected}");
        }
    }

    #[test]
    fn embedded_list_is_clean() {
        let mut seen = HashSet::new();
        let mut count = 0;
        for line in COMMON_PASSWORDS.lines() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            assert_eq!(line, line.trim(), "stray whitespace: {line:?}");
            assert_eq!(line, line.to_lowercase(), "not lowercase: {line:?}");
            assert!(seen.insert(line), "duplicate: {line:?}");
            count += 1;
        }
        assert!(count >= 500, "only {count} common passwords");
    }
}
