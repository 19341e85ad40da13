//! When the wildcard budget runs out: exact paths that wait for wildcard room instead of being
//! billed one by one.
//!
//! A directory the budget could not make a wildcard is sent as all its exact paths: a section
//! of a few hundred changed files bills a few hundred paths. CloudFront frees wildcard room
//! within seconds now (an invalidation completes in under 25 s at P95), so those paths are
//! held back and deferred instead, and planned again with whatever arrives meanwhile, when a
//! wildcard may cover them for one billed path. Paths held [`MAX_HOLDS`] times go out exact,
//! so a distribution kept busy by others still gets its paths.

use super::{Coverage, is_wildcard};
use crate::config::CollapsePolicy;
use crate::event::Change;

/// Deferrals after which held paths are sent as they are. With the deferral delay growing
/// linearly (`DEFER_DELAY_SECONDS` times the deferral's number), ten holds of 5 s wait 275 s
/// in all: past CloudFront's legacy completion times, well within `MAX_DEFERRALS`.
pub const MAX_HOLDS: u32 = 10;

/// Splits `collapsed` (one destination's paths after collapsing within the budget) into what
/// to send now and what to hold back: the exact paths of each directory, at the shallowest
/// depth the policy lets a wildcard cover, that hold more than `COLLAPSE_MIN_CHANGES` of them
/// (so a wildcard would have replaced them had the budget allowed), unless one of their changes
/// was held [`MAX_HOLDS`] times already. Nothing is held while the budget has room left: the
/// collapse then already chose exact paths because they bill fewer.
pub(super) fn hold_back(
    collapsed: Coverage,
    policy: &CollapsePolicy,
    changes: &[Change],
) -> (Coverage, Coverage) {
    let wildcards = collapsed
        .iter()
        .filter(|(path, _)| is_wildcard(path))
        .count();
    if !policy.collapse || wildcards < policy.wildcard_budget {
        return (collapsed, Coverage::new());
    }
    let directory = |path: &str| -> Option<usize> {
        // The end of the first `min_depth` segments: `/blog/` for `/blog/2024/a.html`.
        let mut ends = path.match_indices('/').map(|(i, _)| i + 1).skip(1);
        let end = ends.nth(policy.min_depth.saturating_sub(1))?;
        // A path directly in that directory is not below it.
        (end < path.len()).then_some(end)
    };
    let held_enough = |covers: &[usize]| {
        covers.iter().any(|&i| {
            changes[i]
                .routed
                .as_ref()
                .is_some_and(|routed| routed.deferrals >= MAX_HOLDS)
        })
    };
    // Sorted by path, so each directory's paths are one run.
    let mut send = Coverage::new();
    let mut held = Coverage::new();
    let mut run: Coverage = Vec::new();
    let mut run_dir: Option<String> = None;
    let flush = |run: &mut Coverage, send: &mut Coverage, held: &mut Coverage| {
        let hold = run.len() > policy.min_changes && !run.iter().any(|(_, c)| held_enough(c));
        if hold { held } else { send }.append(run);
    };
    for (path, covers) in collapsed {
        let dir = (!is_wildcard(&path))
            .then(|| directory(&path).map(|end| path[..end].to_owned()))
            .flatten();
        if dir.is_none() {
            flush(&mut run, &mut send, &mut held);
            run_dir = None;
            send.push((path, covers));
            continue;
        }
        if dir != run_dir {
            flush(&mut run, &mut send, &mut held);
            run_dir = dir;
        }
        run.push((path, covers));
    }
    flush(&mut run, &mut send, &mut held);
    send.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    (send, held)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{ChangeKind, Routed};

    fn change(deferrals: Option<u32>) -> Change {
        Change {
            bucket: "site".into(),
            key: "k".into(),
            kind: ChangeKind::Created,
            identity: [0; 32],
            record: "Records[0]".into(),
            message_index: Some(0),
            second_reading: false,
            source: Default::default(),
            routed: deferrals.map(|deferrals| {
                Box::new(Routed {
                    distribution_id: "E1".into(),
                    tenant_id: None,
                    paths: Vec::new(),
                    deferrals,
                })
            }),
        }
    }

    fn policy(budget: usize) -> CollapsePolicy {
        CollapsePolicy {
            wildcard_budget: budget,
            ..CollapsePolicy::default()
        }
    }

    /// Two wildcards the budget allowed, twelve exact paths of `/c/` it did not, three of
    /// `/d/`, and a root file; every path stands for change `change`.
    fn collapsed(change: usize) -> Coverage {
        let mut coverage: Coverage = vec![
            ("/a/*".into(), vec![change]),
            ("/b/*".into(), vec![change]),
            ("/index.html".into(), vec![change]),
        ];
        coverage.extend((0..12).map(|i| (format!("/c/{i:02}.html"), vec![change])));
        coverage.extend((0..3).map(|i| (format!("/d/x/{i}.html"), vec![change])));
        coverage.sort();
        coverage
    }

    fn paths(coverage: &Coverage) -> Vec<&str> {
        coverage.iter().map(|(path, _)| path.as_str()).collect()
    }

    #[test]
    fn a_busy_directory_the_budget_left_exact_waits_for_wildcard_room() {
        let (send, held) = hold_back(collapsed(0), &policy(2), &[change(None)]);
        assert_eq!(held.len(), 12);
        assert!(held.iter().all(|(path, _)| path.starts_with("/c/")));
        assert_eq!(
            paths(&send),
            [
                "/a/*",
                "/b/*",
                "/d/x/0.html",
                "/d/x/1.html",
                "/d/x/2.html",
                "/index.html"
            ]
        );
    }

    #[test]
    fn nothing_waits_while_the_budget_has_room_or_collapsing_is_off() {
        let (send, held) = hold_back(collapsed(0), &policy(3), &[change(None)]);
        assert_eq!((send.len(), held.len()), (18, 0));
        let never = CollapsePolicy {
            collapse: false,
            ..policy(2)
        };
        let (send, held) = hold_back(collapsed(0), &never, &[change(None)]);
        assert_eq!((send.len(), held.len()), (18, 0));
    }

    #[test]
    fn paths_held_often_enough_go_out_exact() {
        let (_, held) = hold_back(collapsed(0), &policy(2), &[change(Some(MAX_HOLDS - 1))]);
        assert_eq!(held.len(), 12);
        let (send, held) = hold_back(collapsed(0), &policy(2), &[change(Some(MAX_HOLDS))]);
        assert_eq!((send.len(), held.len()), (18, 0));
    }

    #[test]
    fn deeper_minimum_depth_groups_by_deeper_directories() {
        let deep = CollapsePolicy {
            min_depth: 2,
            ..policy(2)
        };
        // `/c/NN.html` sit directly in a depth-1 directory: no depth-2 wildcard covers them.
        let (send, held) = hold_back(collapsed(0), &deep, &[change(None)]);
        assert_eq!((send.len(), held.len()), (18, 0));
    }
}
