//! The tier rule of CONVENTIONS §2: who may depend on whom.
//!
//! [`TIERS`] is the one table of the rule. [`check`] is a pure function over a small
//! [`Graph`], so it can be unit-tested on hand-made graphs; [`load_workspace_graph`]
//! builds that graph from `cargo metadata` for the real workspace. The `tier_rule_holds`
//! test runs the check on the real workspace, so `cargo test --workspace` enforces it;
//! `deny.toml` repeats the HTTP part of the rule as bans with `wrappers`, and
//! [`check_deny_wrappers`] keeps those wrappers in step with this table.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use cargo_metadata::{CargoOpt, DependencyKind, Metadata, MetadataCommand};

/// Every crate of the project, present or planned, with its tier (T0 lowest).
///
/// A crate may depend only on crates of its own tier or lower ones. Add a crate here
/// when it is created (the check fails for a workspace crate that is missing), and keep
/// `book/src/architecture.md` and the `wrappers` in `deny.toml` in step.
pub const TIERS: &[(&str, u8)] = &[
    // T0: model metadata, values, registry; the derive macros.
    ("rustango-core", 0),
    ("rustango-macros-core", 0),
    ("rustango-macros", 0),
    // T1: SQL as data, the ORM, migrations.
    ("rustango-query", 1),
    ("rustango-orm", 1),
    ("rustango-migrate", 1),
    // T2: services that need no HTTP stack.
    ("rustango-config", 2),
    ("rustango-crypto", 2),
    ("rustango-cache", 2),
    ("rustango-templates", 2),
    ("rustango-jobs", 2),
    ("rustango-email", 2),
    ("rustango-storage", 2),
    ("rustango-forms", 2),
    ("rustango-gen", 2),
    // T3: the first tier that may use axum, tower, http, hyper.
    ("rustango-middleware", 3),
    ("rustango-http", 3),
    // T4: applications built on the HTTP tier.
    ("rustango-auth", 4),
    ("rustango-api", 4),
    ("rustango-admin", 4),
    ("rustango-media", 4),
    ("rustango-tenancy", 4),
    // T5: the server and the `manage` commands.
    ("rustango-server", 5),
    ("rustango-cli", 5),
    // T6: the facade and the scaffolder.
    ("rustango", 6),
    ("cargo-rustango", 6),
];

/// The lowest tier allowed to depend on the HTTP stack ([`HTTP_STACK`]).
pub const HTTP_TIER: u8 = 3;

/// Crates that no crate below [`HTTP_TIER`] may have in its normal dependency closure.
pub const HTTP_STACK: &[&str] = &["axum", "axum-core", "tower", "tower-http", "hyper", "http"];

/// The lowest tier allowed to reach a `sqlx*` crate.
pub const SQLX_TIER: u8 = 1;

/// The tier of `name`, if it is in [`TIERS`].
fn tier_in(tiers: &[(&str, u8)], name: &str) -> Option<u8> {
    tiers.iter().find(|(n, _)| *n == name).map(|&(_, t)| t)
}

/// Whether a workspace member with this name must be listed in the tier table.
pub fn needs_tier(name: &str) -> bool {
    name.starts_with("rustango") || name == "cargo-rustango"
}

fn is_sqlx(name: &str) -> bool {
    name.starts_with("sqlx")
}

/// A dependency graph reduced to what the tier rule needs.
#[derive(Debug, Default, Clone)]
pub struct Graph {
    /// All packages of the resolved graph.
    pub nodes: Vec<Node>,
}

/// One package in a [`Graph`].
#[derive(Debug, Clone)]
pub struct Node {
    /// The package name.
    pub name: String,
    /// Whether the package is a member of the workspace.
    pub member: bool,
    /// Members the rule does not apply to (examples, xtask).
    pub exempt: bool,
    /// Indices of the normal (not dev, not build) dependencies.
    pub deps: Vec<usize>,
}

impl Graph {
    /// Adds a package and returns its index.
    pub fn add(&mut self, name: &str, member: bool, exempt: bool) -> usize {
        self.nodes.push(Node {
            name: name.to_owned(),
            member,
            exempt,
            deps: Vec::new(),
        });
        self.nodes.len() - 1
    }

    /// Records a normal dependency `from -> to`.
    pub fn depend(&mut self, from: usize, to: usize) {
        if !self.nodes[from].deps.contains(&to) {
            self.nodes[from].deps.push(to);
        }
    }
}

/// One breach of the tier rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// (a) A workspace crate that needs a tier is missing from [`TIERS`].
    Untiered {
        /// The crate.
        krate: String,
    },
    /// (b) A crate depends on a workspace crate of a higher tier.
    UpwardDependency {
        /// The crate.
        krate: String,
        /// Its tier.
        tier: u8,
        /// The dependency.
        dep: String,
        /// The dependency's tier.
        dep_tier: u8,
    },
    /// (b) A tiered crate depends on a workspace crate that has no tier.
    UntieredDependency {
        /// The crate.
        krate: String,
        /// Its tier.
        tier: u8,
        /// The dependency.
        dep: String,
    },
    /// (c) A crate below [`HTTP_TIER`] reaches the HTTP stack.
    HttpBelowTier3 {
        /// The crate.
        krate: String,
        /// Its tier.
        tier: u8,
        /// The dependency chain, from the crate to the forbidden one.
        path: Vec<String>,
    },
    /// (d) A crate below [`SQLX_TIER`] reaches a `sqlx*` crate.
    SqlxBelowTier1 {
        /// The crate.
        krate: String,
        /// Its tier.
        tier: u8,
        /// The dependency chain, from the crate to the forbidden one.
        path: Vec<String>,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Untiered { krate } => write!(
                f,
                "{krate}: workspace crate without a tier; add it to TIERS in xtask/src/tiers.rs"
            ),
            Self::UpwardDependency {
                krate,
                tier,
                dep,
                dep_tier,
            } => write!(
                f,
                "{krate} (T{tier}) -> {dep} (T{dep_tier}): a crate may depend only on its own or lower tiers"
            ),
            Self::UntieredDependency { krate, tier, dep } => write!(
                f,
                "{krate} (T{tier}) -> {dep}: depends on a workspace crate that has no tier"
            ),
            Self::HttpBelowTier3 { krate, tier, path } => write!(
                f,
                "{krate} (T{tier}): {}: nothing below T{HTTP_TIER} may depend on {}",
                path.join(" -> "),
                HTTP_STACK.join(", ")
            ),
            Self::SqlxBelowTier1 { krate, tier, path } => write!(
                f,
                "{krate} (T{tier}): {}: only T{SQLX_TIER} and above may depend on sqlx",
                path.join(" -> ")
            ),
        }
    }
}

/// Checks the tier rule on `graph` against `tiers`; returns every violation found.
///
/// (a) every workspace member that [`needs_tier`] (and is not exempt) is in `tiers`;
/// (b) its normal dependencies on workspace crates have a tier no higher than its own;
/// (c) below [`HTTP_TIER`], its normal dependency closure holds none of [`HTTP_STACK`];
/// (d) below [`SQLX_TIER`], that closure holds no `sqlx*` crate.
pub fn check(graph: &Graph, tiers: &[(&str, u8)]) -> Vec<Violation> {
    let mut violations = Vec::new();
    for (index, node) in graph.nodes.iter().enumerate() {
        if !node.member || node.exempt || !needs_tier(&node.name) {
            continue;
        }
        let Some(tier) = tier_in(tiers, &node.name) else {
            violations.push(Violation::Untiered {
                krate: node.name.clone(),
            });
            continue;
        };

        for &dep_index in &node.deps {
            let dep = &graph.nodes[dep_index];
            if !dep.member {
                continue;
            }
            match tier_in(tiers, &dep.name) {
                Some(dep_tier) if dep_tier > tier => {
                    violations.push(Violation::UpwardDependency {
                        krate: node.name.clone(),
                        tier,
                        dep: dep.name.clone(),
                        dep_tier,
                    });
                }
                Some(_) => {}
                None => violations.push(Violation::UntieredDependency {
                    krate: node.name.clone(),
                    tier,
                    dep: dep.name.clone(),
                }),
            }
        }

        if tier < HTTP_TIER {
            for path in forbidden_paths(graph, index, |n| HTTP_STACK.contains(&n)) {
                violations.push(Violation::HttpBelowTier3 {
                    krate: node.name.clone(),
                    tier,
                    path,
                });
            }
        }
        if tier < SQLX_TIER {
            for path in forbidden_paths(graph, index, is_sqlx) {
                violations.push(Violation::SqlxBelowTier1 {
                    krate: node.name.clone(),
                    tier,
                    path,
                });
            }
        }
    }
    violations
}

/// Shortest dependency chains from `start` to each reachable package that `forbidden`
/// matches. The search does not go past a forbidden package, so `axum` is reported
/// once rather than with every crate it pulls in.
fn forbidden_paths(
    graph: &Graph,
    start: usize,
    forbidden: impl Fn(&str) -> bool,
) -> Vec<Vec<String>> {
    let mut parent: Vec<Option<usize>> = vec![None; graph.nodes.len()];
    let mut seen = vec![false; graph.nodes.len()];
    let mut queue = VecDeque::from([start]);
    seen[start] = true;
    let mut found = Vec::new();
    while let Some(current) = queue.pop_front() {
        if current != start && forbidden(&graph.nodes[current].name) {
            found.push(current);
            continue;
        }
        for &next in &graph.nodes[current].deps {
            if !seen[next] {
                seen[next] = true;
                parent[next] = Some(current);
                queue.push_back(next);
            }
        }
    }
    found
        .into_iter()
        .map(|end| {
            let mut chain = vec![graph.nodes[end].name.clone()];
            let mut at = end;
            while let Some(up) = parent[at] {
                chain.push(graph.nodes[up].name.clone());
                at = up;
            }
            chain.reverse();
            chain
        })
        .collect()
}

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// Runs `cargo metadata` (all features, so optional dependencies obey the rule too).
pub fn workspace_metadata(root: &Path) -> Result<Metadata> {
    MetadataCommand::new()
        .manifest_path(root.join("Cargo.toml"))
        .features(CargoOpt::AllFeatures)
        .exec()
        .context("`cargo metadata` failed (is every workspace member's Cargo.toml complete?)")
}

/// Builds the [`Graph`] from the resolve graph of `metadata`, keeping normal edges only.
///
/// The resolve graph is workspace-wide, so features are unified across members: a
/// dependency that some higher-tier crate switches on is seen here too. That errs on the
/// strict side, which is what the rule wants.
pub fn graph_from_metadata(metadata: &Metadata) -> Result<Graph> {
    let resolve = metadata
        .resolve
        .as_ref()
        .context("`cargo metadata` returned no resolve graph")?;
    let packages: HashMap<_, _> = metadata.packages.iter().map(|p| (&p.id, p)).collect();
    let examples_dir = metadata.workspace_root.join("examples");

    let mut graph = Graph::default();
    let mut index = HashMap::new();
    for node in &resolve.nodes {
        let package = packages
            .get(&node.id)
            .with_context(|| format!("no package for resolve node {}", node.id))?;
        let member = metadata.workspace_members.contains(&node.id);
        let exempt = member
            && (package.name.as_str() == "xtask"
                || package.manifest_path.starts_with(&examples_dir));
        index.insert(&node.id, graph.add(package.name.as_str(), member, exempt));
    }
    for node in &resolve.nodes {
        let from = index[&node.id];
        for dep in &node.deps {
            if dep
                .dep_kinds
                .iter()
                .any(|k| k.kind == DependencyKind::Normal)
            {
                graph.depend(from, index[&dep.pkg]);
            }
        }
    }
    Ok(graph)
}

/// Loads the real workspace's graph.
pub fn load_workspace_graph() -> Result<Graph> {
    let metadata = workspace_metadata(&workspace_root())?;
    graph_from_metadata(&metadata)
}

/// Checks that every `deny.toml` ban of an [`HTTP_STACK`] crate that has `wrappers`
/// lists all tiered crates of tier [`HTTP_TIER`] and above and none below.
///
/// This is a deliberately small reader for the inline tables of `deny.toml`
/// (`{ crate = "axum", wrappers = ["..."] }`), not a TOML parser. Returns the problems.
pub fn check_deny_wrappers(deny_toml: &str) -> Vec<String> {
    let text: String = deny_toml
        .lines()
        .map(|line| line.split('#').next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let allowed: BTreeSet<&str> = TIERS
        .iter()
        .filter(|(_, t)| *t >= HTTP_TIER)
        .map(|&(n, _)| n)
        .collect();

    let mut problems = Vec::new();
    let mut checked = 0;
    let mut rest = text.as_str();
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let table = &rest[open + 1..open + close];
        rest = &rest[open + close + 1..];

        let Some(name) = value_after(table, "crate").or_else(|| value_after(table, "name")) else {
            continue;
        };
        let name = strip_version(&name);
        if !HTTP_STACK.contains(&name) {
            continue;
        }
        let Some(list_start) = table.find("wrappers") else {
            continue;
        };
        checked += 1;
        let list = &table[list_start..];
        let list = &list[..list.find(']').unwrap_or(list.len())];
        let wrappers: BTreeSet<&str> = quoted(list).into_iter().map(strip_version).collect();
        for missing in allowed.difference(&wrappers) {
            problems.push(format!(
                "deny.toml: the ban of `{name}` does not list T{HTTP_TIER}+ crate `{missing}` in wrappers"
            ));
        }
        for extra in &wrappers {
            if let Some(tier) = tier_in(TIERS, extra).filter(|&t| t < HTTP_TIER) {
                problems.push(format!(
                    "deny.toml: the ban of `{name}` lists `{extra}` (T{tier}) in wrappers, below T{HTTP_TIER}"
                ));
            }
        }
    }
    if checked == 0 {
        problems.push("deny.toml: no ban of an HTTP-stack crate with `wrappers` found".to_owned());
    }
    problems
}

/// The quoted string after `key =` in an inline table.
fn value_after(table: &str, key: &str) -> Option<String> {
    let mut search = table;
    while let Some(at) = search.find(key) {
        let after = search[at + key.len()..].trim_start();
        let preceded_ok = at == 0
            || !search[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_');
        if preceded_ok && let Some(value) = after.strip_prefix('=') {
            return quoted(value).into_iter().next().map(str::to_owned);
        }
        search = &search[at + key.len()..];
    }
    None
}

/// Every `"..."` string in `text`.
fn quoted(text: &str) -> Vec<&str> {
    text.split('"').skip(1).step_by(2).collect()
}

/// `name@version` or `name:req` -> `name`.
fn strip_version(spec: &str) -> &str {
    spec.split(['@', ':']).next().unwrap_or(spec)
}

/// Runs the whole check on the real workspace and `deny.toml`; returns the report lines.
pub fn check_workspace() -> Result<(usize, Vec<String>)> {
    let graph = load_workspace_graph()?;
    let checked = graph
        .nodes
        .iter()
        .filter(|n| n.member && !n.exempt && needs_tier(&n.name))
        .count();
    let mut problems: Vec<String> = check(&graph, TIERS)
        .iter()
        .map(ToString::to_string)
        .collect();
    let deny_path = workspace_root().join("deny.toml");
    let deny = std::fs::read_to_string(&deny_path)
        .with_context(|| format!("reading {}", deny_path.display()))?;
    problems.extend(check_deny_wrappers(&deny));
    Ok((checked, problems))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small well-formed workspace: core (T0) <- query (T1) <- orm (T1) -> sqlx,
    /// http (T3) -> axum -> hyper -> http, plus an example that may do anything.
    fn sample() -> (Graph, HashMap<&'static str, usize>) {
        let mut g = Graph::default();
        let mut ids = HashMap::new();
        for (name, member, exempt) in [
            ("rustango-core", true, false),
            ("rustango-query", true, false),
            ("rustango-orm", true, false),
            ("rustango-http", true, false),
            ("rustango-example-blog", true, true),
            ("xtask", true, true),
            ("serde", false, false),
            ("sqlx", false, false),
            ("sqlx-core", false, false),
            ("axum", false, false),
            ("hyper", false, false),
            ("http", false, false),
        ] {
            ids.insert(name, g.add(name, member, exempt));
        }
        for (from, to) in [
            ("rustango-core", "serde"),
            ("rustango-query", "rustango-core"),
            ("rustango-orm", "rustango-query"),
            ("rustango-orm", "sqlx"),
            ("sqlx", "sqlx-core"),
            ("rustango-http", "rustango-orm"),
            ("rustango-http", "axum"),
            ("axum", "hyper"),
            ("hyper", "http"),
            ("rustango-example-blog", "rustango-http"),
            ("xtask", "serde"),
        ] {
            g.depend(ids[from], ids[to]);
        }
        (g, ids)
    }

    #[test]
    fn well_formed_graph_passes() {
        let (g, _) = sample();
        assert_eq!(check(&g, TIERS), vec![]);
    }

    #[test]
    fn missing_tier_is_reported() {
        let (mut g, _) = sample();
        g.add("rustango-newthing", true, false);
        assert_eq!(
            check(&g, TIERS),
            vec![Violation::Untiered {
                krate: "rustango-newthing".into()
            }]
        );
    }

    #[test]
    fn upward_dependency_is_reported() {
        let (mut g, ids) = sample();
        g.depend(ids["rustango-query"], ids["rustango-http"]);
        let violations = check(&g, TIERS);
        assert!(violations.contains(&Violation::UpwardDependency {
            krate: "rustango-query".into(),
            tier: 1,
            dep: "rustango-http".into(),
            dep_tier: 3,
        }));
        let text = violations[0].to_string();
        assert!(
            text.contains("rustango-query (T1) -> rustango-http (T3)"),
            "{text}"
        );
    }

    #[test]
    fn http_stack_below_tier_three_is_reported_with_its_path() {
        let (mut g, ids) = sample();
        let tower = g.add("tower", false, false);
        let middle = g.add("some-helper", false, false);
        g.depend(ids["rustango-query"], middle);
        g.depend(middle, tower);
        let violations = check(&g, TIERS);
        // query and orm (which uses query) both reach tower.
        assert_eq!(
            violations,
            vec![
                Violation::HttpBelowTier3 {
                    krate: "rustango-query".into(),
                    tier: 1,
                    path: vec![
                        "rustango-query".into(),
                        "some-helper".into(),
                        "tower".into()
                    ],
                },
                Violation::HttpBelowTier3 {
                    krate: "rustango-orm".into(),
                    tier: 1,
                    path: vec![
                        "rustango-orm".into(),
                        "rustango-query".into(),
                        "some-helper".into(),
                        "tower".into()
                    ],
                },
            ]
        );
        assert!(
            violations[0]
                .to_string()
                .contains("rustango-query -> some-helper -> tower")
        );
    }

    #[test]
    fn sqlx_in_tier_zero_is_reported() {
        let (mut g, ids) = sample();
        g.depend(ids["rustango-core"], ids["sqlx"]);
        assert_eq!(
            check(&g, TIERS),
            vec![Violation::SqlxBelowTier1 {
                krate: "rustango-core".into(),
                tier: 0,
                path: vec!["rustango-core".into(), "sqlx".into()],
            }]
        );
    }

    #[test]
    fn untiered_workspace_dependency_is_reported() {
        let (mut g, ids) = sample();
        g.depend(ids["rustango-orm"], ids["xtask"]);
        assert_eq!(
            check(&g, TIERS),
            vec![Violation::UntieredDependency {
                krate: "rustango-orm".into(),
                tier: 1,
                dep: "xtask".into(),
            }]
        );
    }

    #[test]
    fn table_has_every_crate_once_and_sane_tiers() {
        let names: BTreeSet<_> = TIERS.iter().map(|(n, _)| n).collect();
        assert_eq!(names.len(), TIERS.len(), "duplicate crate in TIERS");
        assert!(TIERS.iter().all(|&(n, t)| needs_tier(n) && t <= 6));
        assert_eq!(tier_in(TIERS, "rustango-server"), Some(5));
        assert_eq!(tier_in(TIERS, "rustango"), Some(6));
        assert_eq!(tier_in(TIERS, "cargo-rustango"), Some(6));
    }

    #[test]
    fn deny_wrappers_must_match_the_table() {
        let t3_up: Vec<String> = TIERS
            .iter()
            .filter(|(_, t)| *t >= HTTP_TIER)
            .map(|(n, _)| format!("\"{n}\""))
            .collect();
        let good = format!(
            "[bans]\ndeny = [\n  # a comment with {{ braces }}\n  {{ crate = \"openssl\" }},\n  {{ crate = \"axum\", wrappers = [{}] }},\n]\n",
            t3_up.join(", ")
        );
        assert_eq!(check_deny_wrappers(&good), Vec::<String>::new());

        let bad = good.replace("\"rustango-admin\", ", "\"rustango-orm\", ");
        let problems = check_deny_wrappers(&bad);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("`rustango-admin`")));
        assert!(problems.iter().any(|p| p.contains("`rustango-orm` (T1)")));

        assert_eq!(check_deny_wrappers("[bans]\n").len(), 1);
    }

    /// The conversion from `cargo metadata`: membership, exemption and normal edges.
    #[test]
    fn real_graph_is_read_correctly() {
        let g = load_workspace_graph().expect("cargo metadata on the workspace");
        let xtask = g.nodes.iter().find(|n| n.name == "xtask").expect("xtask");
        assert!(xtask.member && xtask.exempt);
        let deps: BTreeSet<&str> = xtask
            .deps
            .iter()
            .map(|&i| g.nodes[i].name.as_str())
            .collect();
        assert_eq!(deps, BTreeSet::from(["anyhow", "cargo_metadata"]));
        let camino = g.nodes.iter().find(|n| n.name == "camino").expect("camino");
        assert!(!camino.member && !camino.exempt);
    }

    /// The rule on the real workspace: `cargo test --workspace` fails on a violation.
    #[test]
    fn tier_rule_holds() {
        let (checked, problems) = check_workspace().expect("cargo metadata on the workspace");
        assert!(
            problems.is_empty(),
            "tier rule violated ({checked} crates checked):\n  {}",
            problems.join("\n  ")
        );
    }
}
