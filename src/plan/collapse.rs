//! Collapsing: which busy directories become one `dir/*` wildcard. An exact tree knapsack
//! over the wildcard budget that bills the fewest paths, then uses the fewest and deepest
//! wildcards. When the keys alone need more wildcards than the budget (`QUERY_STRINGS`, or
//! keys with `~` or `*`), any directory the depth rules allow may become one, however few
//! changes it holds, so the budget still holds where a cover within it exists.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use super::{Coverage, Unordered, is_wildcard};
use crate::config::CollapsePolicy;

/// Folds paths already covered by a wildcard into it, then, if the policy allows,
/// replaces directories with `dir/*` where that bills the fewest paths.
pub(super) fn collapse(coverage: Unordered, policy: &CollapsePolicy) -> Coverage {
    let coverage = merge_covered(coverage);
    if !policy.collapse {
        return coverage.into_iter().collect();
    }
    let tree = DirTree::build(&coverage);
    let budget = policy.wildcard_budget;
    let mut solved = tree.solve(policy, budget, Threshold::Busy);
    if solved.best[DirTree::ROOT][budget].is_none() {
        solved = tree.solve(policy, budget, Threshold::Any);
    }
    if solved.best[DirTree::ROOT][budget].is_none() {
        // No cover within the budget (top-level wildcards without `/*`, say): send the
        // wildcards the keys need as they are, split into requests within the budget.
        return coverage.into_iter().collect();
    }
    let mut chosen = Vec::new();
    tree.choose(DirTree::ROOT, budget, &solved, &mut chosen);
    let wildcards: Vec<&str> = chosen
        .iter()
        .map(|&dir| tree.dirs[dir].prefix.as_str())
        .collect();
    let mut covered: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); wildcards.len()];
    let mut result: Vec<(String, BTreeSet<usize>)> = Vec::new();
    for (path, changes) in coverage {
        match wildcards.iter().position(|prefix| path.starts_with(prefix)) {
            Some(owner) => covered[owner].extend(changes),
            None => result.push((path, changes)),
        }
    }
    let wildcard_paths = wildcards.iter().map(|prefix| format!("{prefix}*"));
    result.extend(wildcard_paths.zip(covered));
    result.into_iter().collect()
}

/// Merges each path that another wildcard path already covers into that wildcard.
fn merge_covered(coverage: Unordered) -> Unordered {
    let wildcard_prefixes: HashSet<String> = coverage
        .keys()
        .filter_map(|path| path.strip_suffix('*'))
        .map(str::to_owned)
        .collect();
    if wildcard_prefixes.is_empty() {
        return coverage;
    }
    let mut merged = Unordered::new();
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

/// Which directories may become a wildcard, besides the depth rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Threshold {
    /// Those holding more than `COLLAPSE_MIN_CHANGES` changed paths.
    Busy,
    /// Any: the keys need more wildcards than the budget otherwise.
    Any,
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

    fn build(coverage: &Unordered) -> DirTree {
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

    fn eligible(&self, dir: usize, policy: &CollapsePolicy, threshold: Threshold) -> bool {
        let dir = &self.dirs[dir];
        let deep_enough = if dir.depth == 0 {
            policy.allow_root
        } else {
            dir.depth >= policy.min_depth
        };
        deep_enough && (threshold == Threshold::Any || dir.total > policy.min_changes)
    }

    /// Bottom-up tree knapsack over the wildcard budget. Children always have larger
    /// indices than their parent, so a reverse sweep visits children first.
    fn solve(&self, policy: &CollapsePolicy, budget: usize, threshold: Threshold) -> Solved {
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
            if self.eligible(index, policy, threshold) {
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
