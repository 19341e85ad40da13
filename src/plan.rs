//! Turns changes into the invalidations to send: pure, no clock, no network.
//!
//! Per distribution: map keys to paths, deduplicate, collapse busy directories into
//! wildcards when that bills fewer paths (within the wildcard budget), split into
//! requests of at most 3,000 paths, and give each request a CallerReference derived
//! from the identities of the changes it covers and from its paths.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::{Config, ConfigError, parse_bool, parse_number};
use crate::event::{Change, Decoded, Skipped};
use crate::route::{RouteError, target};

/// CloudFront accepts at most this many paths in one request (and in progress).
pub const MAX_PATHS_PER_REQUEST: usize = 3000;
/// CloudFront allows at most this many wildcard paths in progress per distribution.
pub const MAX_WILDCARDS_IN_PROGRESS: usize = 15;

/// When busy directories are replaced by one wildcard path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollapsePolicy {
    /// `false`: always send exact paths.
    pub collapse: bool,
    /// A directory becomes `dir/*` only when it holds more than this many changed paths.
    pub min_changes: usize,
    /// Shallowest directory a wildcard may cover: 1 allows `/blog/*`, 2 only `/blog/2024/*`.
    pub min_depth: usize,
    /// Whether `/*` (the whole distribution) may be used.
    pub allow_root: bool,
    /// Wildcards one invocation may send, of the 15 CloudFront allows in progress.
    pub wildcard_budget: usize,
}

impl Default for CollapsePolicy {
    fn default() -> Self {
        CollapsePolicy {
            collapse: true,
            min_changes: 10,
            min_depth: 1,
            allow_root: false,
            wildcard_budget: 10,
        }
    }
}

impl CollapsePolicy {
    pub(crate) fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let default = CollapsePolicy::default();
        let collapse = match get("COLLAPSE")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("auto") => true,
            Some("never") => false,
            Some(other) => {
                return Err(ConfigError {
                    variable: "COLLAPSE",
                    problem: format!("{other:?} is neither auto nor never"),
                });
            }
        };
        Ok(CollapsePolicy {
            collapse,
            min_changes: parse_number(
                get("COLLAPSE_MIN_CHANGES"),
                "COLLAPSE_MIN_CHANGES",
                default.min_changes,
                1..=1_000_000,
            )?,
            min_depth: parse_number(
                get("WILDCARD_MIN_DEPTH"),
                "WILDCARD_MIN_DEPTH",
                default.min_depth,
                1..=64,
            )?,
            allow_root: parse_bool(
                get("WILDCARD_ALLOW_ROOT"),
                "WILDCARD_ALLOW_ROOT",
                default.allow_root,
            )?,
            wildcard_budget: parse_number(
                get("WILDCARD_BUDGET"),
                "WILDCARD_BUDGET",
                default.wildcard_budget,
                0..=MAX_WILDCARDS_IN_PROGRESS,
            )?,
        })
    }
}

/// One CreateInvalidation request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invalidation {
    pub distribution_id: String,
    pub caller_reference: String,
    pub paths: Vec<String>,
    /// For each of `paths`, the indices into `Decoded::changes` it stands for.
    #[serde(skip)]
    pub covers: Vec<BTreeSet<usize>>,
}

impl Invalidation {
    /// A request for `coverage`, its reference derived from the changes and the paths.
    fn new(distribution_id: &str, coverage: Coverage, changes: &[Change]) -> Invalidation {
        let identities: BTreeSet<&str> = coverage
            .values()
            .flatten()
            .map(|&i| changes[i].identity.as_str())
            .collect();
        let (paths, covers): (Vec<String>, Vec<BTreeSet<usize>>) = coverage.into_iter().unzip();
        Invalidation {
            caller_reference: caller_reference(distribution_id, &identities, &paths),
            distribution_id: distribution_id.to_owned(),
            paths,
            covers,
        }
    }

    /// Indices into `Decoded::changes` this request covers.
    pub fn changes(&self) -> BTreeSet<usize> {
        self.covers.iter().flatten().copied().collect()
    }

    fn coverage(&self) -> impl Iterator<Item = (String, BTreeSet<usize>)> + '_ {
        self.paths.iter().cloned().zip(self.covers.iter().cloned())
    }
}

/// The two halves of a request CloudFront refused for a path it dislikes, each a request
/// of its own with its own reference (the same halves, so the same references, on every
/// delivery of the event). `None` for a single path.
pub fn halves(refused: &Invalidation, changes: &[Change]) -> Option<[Invalidation; 2]> {
    if refused.paths.len() < 2 {
        return None;
    }
    let middle = refused.paths.len() / 2;
    let first: Coverage = refused.coverage().take(middle).collect();
    let second: Coverage = refused.coverage().skip(middle).collect();
    Some([
        Invalidation::new(&refused.distribution_id, first, changes),
        Invalidation::new(&refused.distribution_id, second, changes),
    ])
}

/// The nearest wildcard above a single refused path (`/a/b.html` -> `/a/*`, `/a/*` -> `/*`),
/// within the policy's depth and root rules, standing for the same changes.
pub fn wider(
    refused: &Invalidation,
    policy: &CollapsePolicy,
    changes: &[Change],
) -> Option<Invalidation> {
    let [path] = refused.paths.as_slice() else {
        return None;
    };
    let stem = match path.strip_suffix('*') {
        Some(stem) => stem.strip_suffix('/').unwrap_or(stem),
        None => path.as_str(),
    };
    let directory = &stem[..=stem.rfind('/')?];
    let depth = directory.matches('/').count() - 1;
    let allowed = if depth == 0 {
        policy.allow_root
    } else {
        depth >= policy.min_depth
    };
    allowed.then(|| {
        let coverage = Coverage::from([(format!("{directory}*"), refused.changes())]);
        Invalidation::new(&refused.distribution_id, coverage, changes)
    })
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Distinct paths the changes touch.
    pub changed_paths: usize,
    /// Paths CloudFront bills: what is sent.
    pub billed_paths: usize,
    pub wildcards: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub invalidations: Vec<Invalidation>,
    /// Records left out on purpose (test events, other event names, unrouted keys).
    pub skipped: Vec<Skipped>,
    /// Records that cannot be invalidated as given.
    pub rejected: Vec<Skipped>,
    pub summary: Summary,
}

/// Paths of one distribution, each with the changes it stands for.
type Coverage = BTreeMap<String, BTreeSet<usize>>;

pub fn plan(decoded: &Decoded, config: &Config) -> Plan {
    let mut plan = Plan {
        skipped: decoded.ignored.clone(),
        rejected: decoded.rejected.clone(),
        ..Plan::default()
    };
    let mut by_distribution: BTreeMap<&str, Coverage> = BTreeMap::new();
    for (index, change) in decoded.changes.iter().enumerate() {
        let skip = |reason: String| Skipped {
            record: change.record.clone(),
            reason,
            message: change.message,
        };
        match target(config, change) {
            Ok(target) => {
                let coverage = by_distribution.entry(target.distribution_id).or_default();
                for path in target.paths {
                    coverage.entry(path).or_default().insert(index);
                }
            }
            // The first reading of the key decides whether the record is skipped or fails.
            Err(_) if change.second_reading => {}
            Err(e @ RouteError::Unrouted { .. }) => plan.skipped.push(skip(e.to_string())),
            Err(RouteError::Key(e)) => plan.rejected.push(skip(e.to_string())),
        }
    }
    for (distribution_id, coverage) in by_distribution {
        plan.summary.changed_paths += coverage.len();
        let collapsed = collapse(coverage, &config.policy);
        plan.summary.billed_paths += collapsed.len();
        plan.summary.wildcards += collapsed.keys().filter(|path| is_wildcard(path)).count();
        for batch in split(collapsed, config.policy.wildcard_budget) {
            plan.invalidations
                .push(Invalidation::new(distribution_id, batch, &decoded.changes));
        }
    }
    plan
}

fn is_wildcard(path: &str) -> bool {
    path.ends_with('*')
}

/// Deterministic, and different for any other distribution, set of changes or paths, so a
/// redelivered event is deduplicated by CloudFront and no reference is reused for new paths.
pub fn caller_reference(
    distribution_id: &str,
    identities: &BTreeSet<&str>,
    paths: &[String],
) -> String {
    let mut hasher = Sha256::new();
    for part in [distribution_id]
        .into_iter()
        .chain(identities.iter().copied())
    {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hasher.update([1]);
    for path in paths {
        hasher.update(path.as_bytes());
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    let hex: String = digest[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("s3cfi-{hex}")
}

/// Requests of at most 3,000 paths, and at most `wildcard_budget` wildcards (one at least,
/// so a wildcard the keys require is always sent).
fn split(coverage: Coverage, wildcard_budget: usize) -> Vec<Coverage> {
    let wildcard_cap = wildcard_budget.clamp(1, MAX_WILDCARDS_IN_PROGRESS);
    let mut batches: Vec<Coverage> = Vec::new();
    let mut current = Coverage::new();
    let mut wildcards = 0;
    for (path, changes) in coverage {
        let wildcard = is_wildcard(&path);
        if current.len() == MAX_PATHS_PER_REQUEST || (wildcard && wildcards == wildcard_cap) {
            batches.push(std::mem::take(&mut current));
            wildcards = 0;
        }
        wildcards += usize::from(wildcard);
        current.insert(path, changes);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

/// Folds paths already covered by a wildcard into it, then, if the policy allows,
/// replaces directories with `dir/*` where that bills the fewest paths.
fn collapse(coverage: Coverage, policy: &CollapsePolicy) -> Coverage {
    let coverage = merge_covered(coverage);
    if !policy.collapse {
        return coverage;
    }
    let tree = DirTree::build(&coverage);
    let budget = policy.wildcard_budget;
    let solved = tree.solve(policy, budget);
    if solved.best[DirTree::ROOT][budget].is_none() {
        // The keys alone need more wildcards than the budget: send them as they are.
        return coverage;
    }
    let mut chosen = Vec::new();
    tree.choose(DirTree::ROOT, budget, &solved, &mut chosen);
    let wildcards: Vec<&str> = chosen
        .iter()
        .map(|&dir| tree.dirs[dir].prefix.as_str())
        .collect();
    let mut result = Coverage::new();
    for (path, changes) in coverage {
        let owner = wildcards
            .iter()
            .find(|prefix| path.starts_with(**prefix))
            .map(|prefix| format!("{prefix}*"))
            .unwrap_or(path);
        result.entry(owner).or_default().extend(changes);
    }
    result
}

/// Merges each path that another wildcard path already covers into that wildcard.
fn merge_covered(coverage: Coverage) -> Coverage {
    let wildcard_prefixes: HashSet<String> = coverage
        .keys()
        .filter_map(|path| path.strip_suffix('*'))
        .map(str::to_owned)
        .collect();
    if wildcard_prefixes.is_empty() {
        return coverage;
    }
    let mut merged = Coverage::new();
    for (path, changes) in coverage {
        let own_end = if is_wildcard(&path) {
            path.len() - 1
        } else {
            path.len() + 1
        };
        // The shortest covering prefix wins, so chains of wildcards fold into one.
        let owner = path
            .char_indices()
            .map(|(i, _)| i)
            .chain(std::iter::once(path.len()))
            .filter(|&end| end < own_end)
            .find(|&end| wildcard_prefixes.contains(&path[..end]))
            .map(|end| format!("{}*", &path[..end]))
            .unwrap_or(path);
        merged.entry(owner).or_default().extend(changes);
    }
    merged
}

/// Cost of a way to cover a subtree, compared in order: billed paths, then wildcards,
/// then how shallow the wildcards are (deeper ones invalidate fewer unchanged objects).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Cost {
    billed: usize,
    wildcards: usize,
    shallowness: usize,
}

impl std::ops::Add for Cost {
    type Output = Cost;
    fn add(self, other: Cost) -> Cost {
        Cost {
            billed: self.billed + other.billed,
            wildcards: self.wildcards + other.wildcards,
            shallowness: self.shallowness + other.shallowness,
        }
    }
}

/// `table[w]`: the cheapest cover of a subtree using at most `w` wildcards, if any.
type Table = Vec<Option<Cost>>;

const DEPTH_CEILING: usize = 4096;

struct Dir {
    /// Encoded directory path ending in `/`.
    prefix: String,
    depth: usize,
    exact: usize,
    /// Wildcards the keys themselves need (a `~` or `*` in the key), which sit in this directory.
    fixed_wildcards: usize,
    /// Paths at or below this directory.
    total: usize,
    children: BTreeMap<String, usize>,
}

struct DirTree {
    dirs: Vec<Dir>,
}

/// Per directory: the table after combining its own paths and its first `i` children.
struct Solved {
    partial: Vec<Vec<Table>>,
    best: Vec<Table>,
}

impl DirTree {
    const ROOT: usize = 0;

    fn build(coverage: &Coverage) -> DirTree {
        let mut dirs = vec![Dir {
            prefix: "/".into(),
            depth: 0,
            exact: 0,
            fixed_wildcards: 0,
            total: 0,
            children: BTreeMap::new(),
        }];
        for path in coverage.keys() {
            let stem = path.strip_suffix('*').unwrap_or(path);
            let mut dir = DirTree::ROOT;
            dirs[dir].total += 1;
            let mut start = 1;
            while let Some(slash) = stem[start..].find('/') {
                let end = start + slash + 1;
                let segment = &stem[start..end];
                let next = match dirs[dir].children.get(segment) {
                    Some(&child) => child,
                    None => {
                        let child = dirs.len();
                        dirs.push(Dir {
                            prefix: stem[..end].to_owned(),
                            depth: dirs[dir].depth + 1,
                            exact: 0,
                            fixed_wildcards: 0,
                            total: 0,
                            children: BTreeMap::new(),
                        });
                        dirs[dir].children.insert(segment.to_owned(), child);
                        child
                    }
                };
                dir = next;
                dirs[dir].total += 1;
                start = end;
            }
            if is_wildcard(path) {
                dirs[dir].fixed_wildcards += 1;
            } else {
                dirs[dir].exact += 1;
            }
        }
        DirTree { dirs }
    }

    fn eligible(&self, dir: usize, policy: &CollapsePolicy) -> bool {
        let dir = &self.dirs[dir];
        let deep_enough = if dir.depth == 0 {
            policy.allow_root
        } else {
            dir.depth >= policy.min_depth
        };
        deep_enough && dir.total > policy.min_changes
    }

    /// Bottom-up tree knapsack over the wildcard budget. Children always have larger
    /// indices than their parent, so a reverse sweep visits children first.
    fn solve(&self, policy: &CollapsePolicy, budget: usize) -> Solved {
        let mut partial = vec![Vec::new(); self.dirs.len()];
        let mut best = vec![Vec::new(); self.dirs.len()];
        for index in (0..self.dirs.len()).rev() {
            let dir = &self.dirs[index];
            let own = Cost {
                billed: dir.exact + dir.fixed_wildcards,
                wildcards: dir.fixed_wildcards,
                shallowness: 0,
            };
            let mut table: Table = (0..=budget)
                .map(|w| (w >= dir.fixed_wildcards).then_some(own))
                .collect();
            let mut steps = vec![table.clone()];
            for &child in dir.children.values() {
                table = combine(&table, &best[child]);
                steps.push(table.clone());
            }
            if self.eligible(index, policy) {
                let wildcard = Cost {
                    billed: 1,
                    wildcards: 1,
                    shallowness: DEPTH_CEILING.saturating_sub(dir.depth),
                };
                for cell in table.iter_mut().skip(1) {
                    *cell = Some(cell.map_or(wildcard, |cost| cost.min(wildcard)));
                }
            }
            partial[index] = steps;
            best[index] = table;
        }
        Solved { partial, best }
    }

    /// Walks back down the solved tables, recording the directories the best cover wildcards.
    fn choose(&self, dir: usize, budget: usize, solved: &Solved, out: &mut Vec<usize>) {
        let Some(best) = solved.best[dir][budget] else {
            return;
        };
        let steps = &solved.partial[dir];
        let without = steps.last().and_then(|table| table[budget]);
        if without != Some(best) {
            out.push(dir);
            return;
        }
        let children: Vec<usize> = self.dirs[dir].children.values().copied().collect();
        let mut remaining = budget;
        for (i, &child) in children.iter().enumerate().rev() {
            let target = steps[i + 1][remaining];
            let given = (0..=remaining)
                .find(
                    |&w| match (steps[i][remaining - w], solved.best[child][w]) {
                        (Some(before), Some(cost)) => Some(before + cost) == target,
                        _ => false,
                    },
                )
                .expect("a combined cost always splits back into its parts");
            self.choose(child, given, solved, out);
            remaining -= given;
        }
    }
}

/// Knapsack merge: the best split of `w` wildcards between what is covered so far and a child.
fn combine(left: &Table, right: &Table) -> Table {
    (0..left.len())
        .map(|w| {
            (0..=w)
                .filter_map(|given| Some(left[w - given]? + right[given]?))
                .min()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Route;
    use crate::event::{Change, ChangeKind};
    use proptest::prelude::*;

    fn config(policy: CollapsePolicy) -> Config {
        Config {
            routes: vec![Route {
                bucket: None,
                key_prefix: String::new(),
                path_prefix: String::new(),
                distribution_id: "EDIST".into(),
            }],
            index_document: None,
            plus_alias: false,
            policy,
            metrics_namespace: None,
        }
    }

    fn decoded(keys: &[String]) -> Decoded {
        Decoded {
            changes: keys
                .iter()
                .enumerate()
                .map(|(i, key)| Change {
                    bucket: "site".into(),
                    key: key.clone(),
                    kind: ChangeKind::Created,
                    identity: format!("id-{i}-{key}"),
                    record: format!("Records[{i}]"),
                    message: Some(i),
                    second_reading: false,
                })
                .collect(),
            ..Decoded::default()
        }
    }

    fn keys(list: &[&str]) -> Vec<String> {
        list.iter().map(|k| k.to_string()).collect()
    }

    fn all_paths(plan: &Plan) -> Vec<&str> {
        plan.invalidations
            .iter()
            .flat_map(|i| i.paths.iter().map(String::as_str))
            .collect()
    }

    fn never() -> CollapsePolicy {
        CollapsePolicy {
            collapse: false,
            ..CollapsePolicy::default()
        }
    }

    #[test]
    fn dedupes_and_sorts() {
        let plan = plan(
            &decoded(&keys(&["b.html", "a.html", "b.html"])),
            &config(never()),
        );
        assert_eq!(all_paths(&plan), ["/a.html", "/b.html"]);
        assert_eq!(plan.invalidations[0].changes(), BTreeSet::from([0, 1, 2]));
        assert_eq!(
            plan.summary,
            Summary {
                changed_paths: 2,
                billed_paths: 2,
                wildcards: 0
            }
        );
    }

    #[test]
    fn splits_at_3000_paths() {
        let keys: Vec<String> = (0..6001).map(|i| format!("f{i:05}.html")).collect();
        let plan = plan(&decoded(&keys), &config(never()));
        let sizes: Vec<usize> = plan.invalidations.iter().map(|i| i.paths.len()).collect();
        assert_eq!(sizes, [3000, 3000, 1]);
        let refs: BTreeSet<&str> = plan
            .invalidations
            .iter()
            .map(|i| i.caller_reference.as_str())
            .collect();
        assert_eq!(refs.len(), 3, "each request has its own reference");
    }

    #[test]
    fn caller_reference_is_deterministic_and_unique() {
        let ids = BTreeSet::from(["a", "b"]);
        let paths = vec!["/x".to_string()];
        let reference = caller_reference("E1", &ids, &paths);
        assert_eq!(reference, caller_reference("E1", &ids, &paths));
        assert!(reference.starts_with("s3cfi-") && reference.len() == 38);
        assert_ne!(reference, caller_reference("E2", &ids, &paths));
        assert_ne!(
            reference,
            caller_reference("E1", &BTreeSet::from(["a"]), &paths)
        );
        assert_ne!(reference, caller_reference("E1", &ids, &["/y".to_string()]));
        // Field boundaries matter: ("ab", "c") must not collide with ("a", "bc").
        assert_ne!(
            caller_reference("E1", &BTreeSet::from(["ab", "c"]), &paths),
            caller_reference("E1", &BTreeSet::from(["a", "bc"]), &paths)
        );
    }

    #[test]
    fn single_change_stays_exact() {
        let plan = plan(
            &decoded(&keys(&["blog/post/index.html"])),
            &config(CollapsePolicy::default()),
        );
        assert_eq!(all_paths(&plan), ["/blog/post/index.html"]);
    }

    #[test]
    fn busy_directory_becomes_one_wildcard() {
        let mut list: Vec<String> = (0..20).map(|i| format!("img/{i}.png")).collect();
        list.push("about.html".into());
        let plan = plan(&decoded(&list), &config(CollapsePolicy::default()));
        assert_eq!(all_paths(&plan), ["/about.html", "/img/*"]);
        assert_eq!(
            plan.summary,
            Summary {
                changed_paths: 21,
                billed_paths: 2,
                wildcards: 1
            }
        );
    }

    #[test]
    fn small_directories_stay_exact_below_threshold() {
        let list: Vec<String> = (0..5).map(|i| format!("img/{i}.png")).collect();
        let plan = plan(&decoded(&list), &config(CollapsePolicy::default()));
        assert_eq!(plan.summary.wildcards, 0);
        assert_eq!(plan.summary.billed_paths, 5);
    }

    #[test]
    fn root_wildcard_only_when_allowed() {
        let list: Vec<String> = (0..50).map(|i| format!("page-{i}.html")).collect();
        let denied = plan(&decoded(&list), &config(CollapsePolicy::default()));
        assert_eq!(denied.summary.billed_paths, 50);
        let allowed = plan(
            &decoded(&list),
            &config(CollapsePolicy {
                allow_root: true,
                ..CollapsePolicy::default()
            }),
        );
        assert_eq!(all_paths(&allowed), ["/*"]);
    }

    #[test]
    fn min_depth_keeps_wildcards_deep() {
        let list: Vec<String> = (0..40)
            .map(|i| format!("blog/{}/p{i}.html", i % 2))
            .collect();
        let shallow = plan(&decoded(&list), &config(CollapsePolicy::default()));
        assert_eq!(all_paths(&shallow), ["/blog/*"]);
        let deep = plan(
            &decoded(&list),
            &config(CollapsePolicy {
                min_depth: 2,
                ..CollapsePolicy::default()
            }),
        );
        assert_eq!(all_paths(&deep), ["/blog/0/*", "/blog/1/*"]);
    }

    #[test]
    fn wildcard_budget_is_respected() {
        // 30 directories of 12 files: one wildcard each would need 30.
        let list: Vec<String> = (0..360).map(|i| format!("d{}/f{i}.html", i % 30)).collect();
        let policy = CollapsePolicy {
            wildcard_budget: 4,
            ..CollapsePolicy::default()
        };
        let plan = plan(&decoded(&list), &config(policy));
        assert_eq!(plan.summary.wildcards, 4);
        assert_eq!(plan.summary.billed_paths, 4 + 26 * 12);
    }

    #[test]
    fn three_thousand_messages_over_150_folders_bill_at_most_15_paths() {
        // A static-site deploy: posts, docs and assets in 150 folders, 20 files each.
        let sections = ["blog", "docs", "assets"];
        let list: Vec<String> = (0..3000)
            .map(|i| {
                let folder = i % 150;
                format!("{}/f{folder:03}/file-{i}.html", sections[folder % 3])
            })
            .collect();
        let plan = plan(&decoded(&list), &config(CollapsePolicy::default()));
        assert!(plan.summary.billed_paths <= 15, "{:?}", plan.summary);
        assert_eq!(all_paths(&plan), ["/assets/*", "/blog/*", "/docs/*"]);
        assert_eq!(plan.summary.changed_paths, 3000);
    }

    #[test]
    fn key_wildcards_absorb_what_they_cover() {
        let plan = plan(
            &decoded(&keys(&["docs/~me/a.html", "docs/b.html", "other.html"])),
            &config(never()),
        );
        assert_eq!(all_paths(&plan), ["/docs/*", "/other.html"]);
        assert_eq!(plan.invalidations[0].changes(), BTreeSet::from([0, 1, 2]));
    }

    #[test]
    fn refused_requests_split_into_halves_with_their_own_references() {
        let list: Vec<String> = (0..5).map(|i| format!("d/{i}.html")).collect();
        let decoded = decoded(&list);
        let plan = plan(&decoded, &config(never()));
        let whole = &plan.invalidations[0];
        let [first, second] = halves(whole, &decoded.changes).unwrap();
        assert_eq!(first.paths, ["/d/0.html", "/d/1.html"]);
        assert_eq!(second.paths, ["/d/2.html", "/d/3.html", "/d/4.html"]);
        assert_eq!(first.changes(), BTreeSet::from([0, 1]));
        assert_eq!(second.covers[2], BTreeSet::from([4]));
        let references = BTreeSet::from([
            &whole.caller_reference,
            &first.caller_reference,
            &second.caller_reference,
        ]);
        assert_eq!(references.len(), 3);
        assert_eq!(
            halves(whole, &decoded.changes).unwrap(),
            [first.clone(), second]
        );
        assert_eq!(
            halves(
                &halves(&first, &decoded.changes).unwrap()[0],
                &decoded.changes
            ),
            None
        );
    }

    #[test]
    fn a_refused_path_widens_to_its_directory_within_the_policy() {
        let decoded = decoded(&keys(&["a/b/c.html"]));
        let single = plan(&decoded, &config(never())).invalidations.remove(0);
        let policy = CollapsePolicy::default();
        let up = |invalidation: &Invalidation| wider(invalidation, &policy, &decoded.changes);
        let first = up(&single).unwrap();
        assert_eq!(first.paths, ["/a/b/*"]);
        assert_eq!(first.changes(), BTreeSet::from([0]));
        let second = up(&first).unwrap();
        assert_eq!(second.paths, ["/a/*"]);
        assert_eq!(
            up(&second),
            None,
            "the root wildcard is not allowed by default"
        );
        let root = CollapsePolicy {
            allow_root: true,
            ..CollapsePolicy::default()
        };
        assert_eq!(
            wider(&second, &root, &decoded.changes).unwrap().paths,
            ["/*"]
        );
        let deep = CollapsePolicy {
            min_depth: 2,
            ..CollapsePolicy::default()
        };
        assert_eq!(wider(&first, &deep, &decoded.changes), None);
    }

    /// Every changed path is covered by some sent path.
    fn covered(changed: &str, sent: &[&str]) -> bool {
        sent.iter().any(|s| match s.strip_suffix('*') {
            Some(prefix) => changed.starts_with(prefix),
            None => *s == changed,
        })
    }

    fn arbitrary_policy() -> impl Strategy<Value = CollapsePolicy> {
        (
            any::<bool>(),
            1usize..20,
            1usize..4,
            any::<bool>(),
            0usize..=15,
        )
            .prop_map(
                |(collapse, min_changes, min_depth, allow_root, wildcard_budget)| CollapsePolicy {
                    collapse,
                    min_changes,
                    min_depth,
                    allow_root,
                    wildcard_budget,
                },
            )
    }

    proptest! {
        #[test]
        fn plans_cover_everything_within_limits_deterministically(
            list in prop::collection::vec("([a-c]{1,2}/){0,3}[a-d~ ]{1,3}", 1..300),
            policy in arbitrary_policy(),
        ) {
            let config = config(policy.clone());
            let decoded = decoded(&list);
            let first = plan(&decoded, &config);
            let sent = all_paths(&first);
            for change in &decoded.changes {
                for path in target(&config, change).unwrap().paths {
                    prop_assert!(covered(&path, &sent), "{path} not covered by {sent:?}");
                }
            }
            for invalidation in &first.invalidations {
                prop_assert!(invalidation.paths.len() <= MAX_PATHS_PER_REQUEST);
                prop_assert!(invalidation.paths.iter().all(|p| crate::path::is_valid_cloudfront_path(p)));
            }
            let key_wildcards = list.iter().filter(|k| k.contains('~')).count();
            if key_wildcards <= policy.wildcard_budget {
                prop_assert!(first.summary.wildcards <= policy.wildcard_budget.max(key_wildcards));
            }
            prop_assert!(first.summary.billed_paths <= first.summary.changed_paths);
            let mut reversed = list.clone();
            reversed.reverse();
            let again = plan(&self::decoded(&list), &config);
            prop_assert_eq!(&first, &again);
            let reordered = plan(&self::decoded(&reversed), &config);
            prop_assert_eq!(all_paths(&first), all_paths(&reordered));
        }
    }
}
