//! What to send instead of a request CloudFront refused for a path it dislikes: its halves,
//! until the refused paths are alone, then the nearest wildcard above each. Pure: the same
//! refusal always yields the same requests, so the same references.

use super::{Coverage, Invalidation, is_wildcard};
use crate::config::CollapsePolicy;
use crate::event::Change;

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
        Invalidation::new(refused.destination(), first, changes),
        Invalidation::new(refused.destination(), second, changes),
    ])
}

/// A request split into its exact paths and its wildcards, each a request of its own, when
/// it holds both: CloudFront counts them against different in-progress limits (3,000 paths,
/// 15 wildcards), so the exact paths may go while the wildcards wait.
pub fn by_kind(busy: &Invalidation, changes: &[Change]) -> Option<[Invalidation; 2]> {
    let (wildcards, exact): (Coverage, Coverage) =
        busy.coverage().partition(|(path, _)| is_wildcard(path));
    if wildcards.is_empty() || exact.is_empty() {
        return None;
    }
    Some([
        Invalidation::new(busy.destination(), exact, changes),
        Invalidation::new(busy.destination(), wildcards, changes),
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
        let coverage = vec![(
            format!("{directory}*"),
            refused.changes().into_iter().collect(),
        )];
        Invalidation::new(refused.destination(), coverage, changes)
    })
}
