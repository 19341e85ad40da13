//! Turns changes into the invalidations to send: pure, no clock, no network.
//!
//! Per distribution: map keys to paths, deduplicate, collapse busy directories into
//! wildcards when that bills fewer paths (within the wildcard budget), split into
//! requests of at most 3,000 paths, and give each request a CallerReference derived
//! from the identities of the changes it covers and from its paths. Work read back from the
//! queue for a distribution the configuration no longer names is dropped here, completion
//! checks included; the checks kept are passed on untouched.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use sha2::{Digest, Sha256};

mod collapse;
mod isolate;

pub use isolate::{halves, wider};

use collapse::collapse;

use crate::config::{Config, MAX_PATHS_PER_REQUEST, MAX_WILDCARDS_IN_PROGRESS};
use crate::event::{Change, Decoded, Reason, Skipped};
use crate::route::target;

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
    pub(crate) fn new(
        distribution_id: &str,
        coverage: Coverage,
        changes: &[Change],
    ) -> Invalidation {
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

    pub(crate) fn coverage(&self) -> impl Iterator<Item = (String, BTreeSet<usize>)> + '_ {
        self.paths.iter().cloned().zip(self.covers.iter().cloned())
    }
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
    /// Completion checks to make, as indices into `Decoded::watches`: those of configured
    /// distributions, while completion events are on. They change no paths.
    pub watches: Vec<usize>,
}

/// Paths of one distribution, each with the changes it stands for.
type Coverage = BTreeMap<String, BTreeSet<usize>>;

pub fn plan(decoded: &Decoded, config: &Config) -> Plan {
    let mut plan = Plan {
        skipped: decoded.skipped.clone(),
        rejected: decoded.rejected.clone(),
        ..Plan::default()
    };
    let mut by_distribution: BTreeMap<&str, Coverage> = BTreeMap::new();
    for (index, change) in decoded.changes.iter().enumerate() {
        let left_out = |reason: Reason| Skipped {
            record: change.record.clone(),
            reason,
            message_index: change.message_index,
        };
        if let Some(routed) = &change.routed {
            if config
                .routes
                .iter()
                .any(|route| route.distribution_id == routed.distribution_id)
            {
                let coverage = by_distribution
                    .entry(routed.distribution_id.as_str())
                    .or_default();
                for path in &routed.paths {
                    coverage.entry(path.clone()).or_default().insert(index);
                }
            } else {
                let id = routed.distribution_id.clone();
                tracing::warn!(distribution_id = %id, "dropping deferred work for a distribution no longer configured");
                plan.skipped.push(left_out(Reason::UnknownDistribution(id)));
            }
            continue;
        }
        match target(config, change) {
            Ok(target) => {
                let coverage = by_distribution.entry(target.distribution_id).or_default();
                for path in target.paths {
                    coverage.entry(path).or_default().insert(index);
                }
            }
            // The first reading of the key decides whether the record is skipped or fails.
            Err(_) if change.second_reading => {}
            Err(reason @ Reason::Unrouted { .. }) => plan.skipped.push(left_out(reason)),
            Err(reason) => plan.rejected.push(left_out(reason)),
        }
    }
    for (index, watched) in decoded.watches.iter().enumerate() {
        let id = &watched.watch.distribution_id;
        let dropped = if config.completion.is_none() {
            Reason::CompletionEventsOff
        } else if config
            .routes
            .iter()
            .any(|route| &route.distribution_id == id)
        {
            plan.watches.push(index);
            continue;
        } else {
            Reason::UnknownDistribution(id.clone())
        };
        tracing::warn!(distribution_id = %id, invalidation_id = %watched.watch.invalidation_id, reason = %dropped, "dropping a completion check");
        plan.skipped.push(Skipped {
            record: watched.record.clone(),
            reason: dropped,
            message_index: watched.message_index,
        });
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CollapsePolicy;
    use crate::event::{Change, ChangeKind};
    use proptest::prelude::*;

    fn config(policy: CollapsePolicy) -> Config {
        Config {
            policy,
            ..Config::from_vars(&[
                ("DISTRIBUTION_ID", "EDIST"),
                ("INVALIDATE_PLUS_ALIAS", "false"),
            ])
            .unwrap()
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
                    message_index: Some(i),
                    second_reading: false,
                    routed: None,
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
