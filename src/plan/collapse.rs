//! Collapsing: which busy directories become one `dir/*` wildcard. An exact tree knapsack
//! over the wildcard budget that bills the fewest paths, then uses the fewest and deepest
//! wildcards. When the keys alone need more wildcards than the budget (`QUERY_STRINGS`, or
//! keys with `~` or `*`), any directory the depth rules allow may become one, however few
//! changes it holds, so the budget still holds where a cover within it exists.

use std::collections::HashSet;

use rustc_hash::FxHashMap;

use super::{Coverage, Gathered, Paths, is_wildcard};
use crate::config::CollapsePolicy;

/// Folds paths already covered by a wildcard into it, then, if the policy allows,
/// replaces directories with `dir/*` where that bills the fewest paths. Billing more than
/// `room` (the cost guard, `MAX_BILLED_PATHS`), any directory the depth rules allow may
/// become a wildcard, however few changes it holds: the widest the settings allow.
pub(super) fn collapse(paths: Paths, policy: &CollapsePolicy, room: usize) -> Coverage {
    let mut paths = merge_covered(paths);
    if !policy.collapse {
        return paths.into_coverage();
    }
    let tree = DirTree::build(&paths);
    let budget = policy.wildcard_budget;
    let mut solved = tree.solve(policy, budget, Threshold::Busy);
    let billed = |solved: &Solved| solved.best[DirTree::ROOT][budget].map(|cost| cost.billed);
    if billed(&solved).is_none_or(|billed| billed > room) {
        let widest = tree.solve(policy, budget, Threshold::Any);
        if billed(&widest).is_some_and(|wide| billed(&solved).is_none_or(|busy| wide < busy)) {
            solved = widest;
        }
    }
    if solved.best[DirTree::ROOT][budget].is_none() {
        // No cover within the budget (top-level wildcards without `/*`, say): send the
        // wildcards the keys need as they are, split into requests within the budget.
        return paths.into_coverage();
    }
    let mut chosen = Vec::new();
    tree.choose(DirTree::ROOT, budget, &solved, &mut chosen);
    // The wildcard (an index into `chosen`) each directory is under, if any: chosen
    // directories head disjoint subtrees, and parents come before their children.
    let mut under: Vec<Option<usize>> = vec![None; tree.dirs.len()];
    for (wildcard, &dir) in chosen.iter().enumerate() {
        under[dir] = Some(wildcard);
    }
    for dir in 1..tree.dirs.len() {
        if under[dir].is_none() {
            under[dir] = under[tree.dirs[dir].parent];
        }
    }
    let mut covered: Vec<Vec<usize>> = vec![Vec::new(); chosen.len()];
    let mut result: Coverage = Vec::new();
    for (number, path) in std::mem::take(&mut paths.paths).into_iter().enumerate() {
        match under[tree.path_dirs[number]] {
            Some(wildcard) => covered[wildcard].extend_from_slice(paths.changes_of(number)),
            None => result.push((path, paths.changes_of(number).to_vec())),
        }
    }
    for (&dir, mut changes) in chosen.iter().zip(covered) {
        changes.sort_unstable();
        changes.dedup();
        result.push((format!("{}*", tree.dirs[dir].prefix), changes));
    }
    result.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    result
}

/// Merges each path that another wildcard path already covers into that wildcard.
fn merge_covered(paths: Paths) -> Paths {
    let wildcard_prefixes: HashSet<&str> = paths
        .paths
        .iter()
        .filter_map(|path| path.strip_suffix('*'))
        .collect();
    if wildcard_prefixes.is_empty() {
        return paths;
    }
    let mut merged = Gathered::default();
    for (number, path) in paths.paths.iter().enumerate() {
        let own_end = if is_wildcard(path) {
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
            .map_or_else(|| path.clone(), |end| format!("{}*", &path[..end]));
        for &change in paths.changes_of(number) {
            merged.add(owner.clone(), change);
        }
    }
    merged.into_paths()
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
    parent: usize,
    /// In the order of their names.
    children: Vec<usize>,
}

struct DirTree {
    dirs: Vec<Dir>,
    /// The directory of each path, by its number.
    path_dirs: Vec<usize>,
}

/// Per directory: the table after combining its own paths and its first `i` children.
struct Solved {
    partial: Vec<Vec<Table>>,
    best: Vec<Table>,
}

impl DirTree {
    const ROOT: usize = 0;

    fn build(paths: &Paths) -> DirTree {
        let mut dirs = vec![Dir {
            prefix: "/".into(),
            depth: 0,
            exact: 0,
            fixed_wildcards: 0,
            total: 0,
            parent: DirTree::ROOT,
            children: Vec::new(),
        }];
        // Directories by their prefix: a path's own directory is found with one lookup (most
        // paths share theirs with others), and only a new one walks down from the root.
        let mut by_prefix: FxHashMap<&str, usize> = FxHashMap::default();
        by_prefix.insert("/", DirTree::ROOT);
        let mut path_dirs = Vec::with_capacity(paths.paths.len());
        for path in &paths.paths {
            let stem = path.strip_suffix('*').unwrap_or(path);
            let own_end = stem.rfind('/').map_or(1, |slash| slash + 1);
            let dir = match by_prefix.get(&stem[..own_end]) {
                Some(&dir) => dir,
                None => {
                    let mut dir = DirTree::ROOT;
                    let mut start = 1;
                    while let Some(slash) = stem[start..own_end].find('/') {
                        let end = start + slash + 1;
                        dir = *by_prefix.entry(&stem[..end]).or_insert_with(|| {
                            let child = dirs.len();
                            dirs.push(Dir {
                                prefix: stem[..end].to_owned(),
                                depth: dirs[dir].depth + 1,
                                exact: 0,
                                fixed_wildcards: 0,
                                total: 0,
                                parent: dir,
                                children: Vec::new(),
                            });
                            dirs[dir].children.push(child);
                            child
                        });
                        start = end;
                    }
                    dir
                }
            };
            let mut above = dir;
            loop {
                dirs[above].total += 1;
                if above == DirTree::ROOT {
                    break;
                }
                above = dirs[above].parent;
            }
            if is_wildcard(path) {
                dirs[dir].fixed_wildcards += 1;
            } else {
                dirs[dir].exact += 1;
            }
            path_dirs.push(dir);
        }
        // Children in the order of their names, so ties between equal covers are broken
        // the same way whatever order the paths came in.
        for index in 0..dirs.len() {
            let mut children = std::mem::take(&mut dirs[index].children);
            children.sort_unstable_by(|&a, &b| dirs[a].prefix.cmp(&dirs[b].prefix));
            dirs[index].children = children;
        }
        DirTree { dirs, path_dirs }
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
            for &child in &dir.children {
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
        let children = &self.dirs[dir].children;
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
