//! Turns changes into the invalidations to send: pure, no clock, no network.
//!
//! Per distribution: map keys to paths, deduplicate, collapse busy directories into
//! wildcards when that bills fewer paths (within the wildcard budget), split into
//! requests of at most 3,000 paths, and give each request a CallerReference derived
//! from the identities of the changes it covers and from its paths. Work read back from the
//! queue for a distribution the configuration no longer names is dropped here, completion
//! checks included; the checks kept are passed on untouched.

use std::collections::BTreeSet;

use rustc_hash::FxHashMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

mod collapse;
mod hold;
mod isolate;

pub use hold::MAX_HOLDS;
pub use isolate::{by_kind, halves, wider};

use collapse::collapse;

use crate::config::{Config, MAX_PATHS_PER_REQUEST, MAX_WILDCARDS_IN_PROGRESS, Role, Route};
use crate::event::{Change, Decoded, Identity, Reason, Routed, Skipped};
use crate::path::abbreviate;
use crate::route::targets;

/// One CreateInvalidation (or CreateInvalidationForDistributionTenant) request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invalidation {
    pub distribution_id: String,
    /// The tenant of a multi-tenant distribution the request is for; the unit of
    /// invalidation is the distribution and tenant pair.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// The role assumed to reach the distribution, shown by its ARN.
    #[serde(
        rename = "role_arn",
        skip_serializing_if = "Option::is_none",
        serialize_with = "role_arn"
    )]
    pub role: Option<Role>,
    pub caller_reference: String,
    pub paths: Vec<String>,
    /// For each of `paths`, the indices into `Decoded::changes` it stands for, ascending.
    #[serde(skip)]
    pub covers: Vec<Vec<usize>>,
}

/// The external id is left out of output: it guards the role against confused deputies.
fn role_arn<S: serde::Serializer>(role: &Option<Role>, serializer: S) -> Result<S::Ok, S::Error> {
    match role {
        Some(role) => serializer.serialize_str(&role.arn),
        None => serializer.serialize_none(),
    }
}

/// Where a request goes: a distribution, or one tenant of it, and the role that reaches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Destination<'a> {
    pub distribution_id: &'a str,
    pub tenant_id: Option<&'a str>,
    pub role: Option<&'a Role>,
}

impl<'a> Destination<'a> {
    /// What tells destinations apart: the role follows from the distribution.
    fn key(&self) -> (&'a str, Option<&'a str>) {
        (self.distribution_id, self.tenant_id)
    }
}

impl Invalidation {
    /// A request for `coverage`, its reference derived from the destination, the changes and
    /// the paths.
    pub(crate) fn new(
        destination: Destination,
        coverage: Coverage,
        changes: &[Change],
    ) -> Invalidation {
        let identities = identities(
            coverage
                .iter()
                .flat_map(|(_, covers)| covers)
                .map(|&i| &changes[i]),
        );
        let (paths, covers): (Vec<String>, Vec<Vec<usize>>) = coverage.into_iter().unzip();
        Invalidation {
            caller_reference: caller_reference(
                destination.distribution_id,
                destination.tenant_id,
                &identities,
                &paths,
            ),
            distribution_id: destination.distribution_id.to_owned(),
            tenant_id: destination.tenant_id.map(str::to_owned),
            role: destination.role.cloned(),
            paths,
            covers,
        }
    }

    /// Where this request goes.
    pub fn destination(&self) -> Destination<'_> {
        Destination {
            distribution_id: &self.distribution_id,
            tenant_id: self.tenant_id.as_deref(),
            role: self.role.as_ref(),
        }
    }

    /// Indices into `Decoded::changes` this request covers.
    pub fn changes(&self) -> BTreeSet<usize> {
        self.covers.iter().flatten().copied().collect()
    }

    pub(crate) fn coverage(&self) -> impl Iterator<Item = (String, Vec<usize>)> + '_ {
        self.paths.iter().cloned().zip(self.covers.iter().cloned())
    }
}

/// What the plan costs, for the answer and the `plan` command.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Distinct paths the changes touch.
    pub changed_paths: usize,
    /// Paths CloudFront bills: what is sent.
    pub billed_paths: usize,
    pub wildcards: usize,
}

/// The requests to send for one payload, and the records left out.
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
    /// Requests held back to be deferred unsent, with deferral on: exact paths of busy
    /// directories the wildcard budget could not cover (`plan/hold.rs`).
    pub held: Vec<Invalidation>,
}

/// Paths of one distribution in order, each with the changes it stands for (ascending).
type Coverage = Vec<(String, Vec<usize>)>;

/// Paths as they are gathered for one destination: each distinct path stored once, under a
/// number, and a list of (path, change) pairs. No set per path and no order until the end:
/// collapsing needs none, and usually makes the set small before it is sorted.
#[derive(Default)]
struct Gathered {
    numbers: FxHashMap<String, u32>,
    pairs: Vec<(u32, u32)>,
}

impl Gathered {
    fn with_capacity(paths: usize) -> Gathered {
        Gathered {
            numbers: FxHashMap::with_capacity_and_hasher(paths, Default::default()),
            pairs: Vec::with_capacity(paths),
        }
    }

    fn add(&mut self, path: String, change: usize) {
        let next = self.numbers.len() as u32;
        let number = *self.numbers.entry(path).or_insert(next);
        self.pairs.push((number, change as u32));
    }

    fn into_paths(self) -> Paths {
        let mut paths = vec![String::new(); self.numbers.len()];
        for (path, number) in self.numbers {
            paths[number as usize] = path;
        }
        let mut pairs = self.pairs;
        // Nearly sorted already: changes arrive in order, and most paths are new.
        pairs.sort_unstable();
        pairs.dedup();
        let mut starts = Vec::with_capacity(paths.len() + 1);
        let mut changes = Vec::with_capacity(pairs.len());
        for (number, change) in pairs {
            while starts.len() <= number as usize {
                starts.push(changes.len());
            }
            changes.push(change as usize);
        }
        starts.resize(paths.len() + 1, changes.len());
        Paths {
            paths,
            starts,
            changes,
        }
    }
}

/// Distinct paths in no order, and the changes each stands for: those of path `i` are
/// `changes[starts[i]..starts[i + 1]]`, ascending.
struct Paths {
    paths: Vec<String>,
    starts: Vec<usize>,
    changes: Vec<usize>,
}

impl Paths {
    fn changes_of(&self, path: usize) -> &[usize] {
        &self.changes[self.starts[path]..self.starts[path + 1]]
    }

    /// Every path with its changes, in path order.
    fn into_coverage(mut self) -> Coverage {
        let mut coverage: Coverage = std::mem::take(&mut self.paths)
            .into_iter()
            .enumerate()
            .map(|(number, path)| (path, self.changes_of(number).to_vec()))
            .collect();
        coverage.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        coverage
    }
}

/// The invalidations `decoded` needs under `config`, and the records left out.
pub fn plan(decoded: &Decoded, config: &Config) -> Plan {
    let mut plan = Plan {
        skipped: decoded.skipped.clone(),
        rejected: decoded.rejected.clone(),
        ..Plan::default()
    };
    // Keyed by distribution and tenant (the role follows from the distribution), so each
    // pair is planned and referenced on its own. Paths are gathered unordered and sorted
    // once: inserting 100,000 paths with long common prefixes into an ordered map one by
    // one costs several times more.
    let mut by_destination: Vec<(Destination, Gathered)> = Vec::new();
    // Most changes have one or two paths on one destination: room for them all is made for
    // the first destination only, so many tenants do not each reserve it.
    let expected = decoded.changes.len() * 2;
    for (index, change) in decoded.changes.iter().enumerate() {
        let left_out = |reason: Reason| Skipped {
            record: change.record.clone(),
            reason,
            message_index: change.message_index,
        };
        if let Some(routed) = &change.routed {
            // Deferred work: its paths were planned before, by this function if it came from
            // its work queue, and are checked again as if planned now; its destination is
            // whichever configured route still names its distribution and tenant.
            let provenance = decoded.provenance(change.source, config.guards.work_queue.as_ref());
            if !provenance.carries_work() {
                plan.rejected.push(left_out(untrusted(provenance)));
                continue;
            }
            let routes: Vec<&Route> = config
                .routes_to(&routed.distribution_id, routed.tenant_id.as_deref())
                .collect();
            let checked = routes
                .first()
                .map(|&route| recheck(&routes, config.policy.allow_root, routed).map(|()| route));
            match checked {
                Some(Err(reason)) => plan.rejected.push(left_out(reason)),
                Some(Ok(route)) => {
                    let destination = Destination {
                        distribution_id: &route.distribution_id,
                        tenant_id: route.tenant_id.as_deref(),
                        role: route.role.as_ref(),
                    };
                    add(
                        &mut by_destination,
                        destination,
                        routed.paths.iter().cloned(),
                        index,
                        expected,
                    );
                }
                None => {
                    let id = routed.distribution_id.clone();
                    tracing::warn!(distribution_id = %id, "dropping deferred work for a distribution no longer configured");
                    plan.skipped.push(left_out(Reason::UnknownDistribution(id)));
                }
            }
            continue;
        }
        match targets(config, change) {
            Ok(targets) => {
                for target in targets {
                    let destination = Destination {
                        distribution_id: target.distribution_id,
                        tenant_id: target.tenant_id,
                        role: target.role,
                    };
                    add(
                        &mut by_destination,
                        destination,
                        target.paths,
                        index,
                        expected,
                    );
                }
            }
            // The first reading of the key decides whether the record is skipped or fails.
            Err(_) if change.second_reading => {}
            Err(reason @ (Reason::Unrouted { .. } | Reason::SkippedByPattern { .. })) => {
                plan.skipped.push(left_out(reason))
            }
            Err(reason) => plan.rejected.push(left_out(reason)),
        }
    }
    for (index, watched) in decoded.watches.iter().enumerate() {
        let provenance = decoded.provenance(watched.source, config.guards.work_queue.as_ref());
        if !provenance.carries_work() {
            plan.rejected.push(Skipped {
                record: watched.record.clone(),
                reason: untrusted(provenance),
                message_index: watched.message_index,
            });
            continue;
        }
        let id = &watched.watch.distribution_id;
        let configured = config
            .routes_to(id, watched.watch.tenant_id.as_deref())
            .next()
            .is_some();
        let dropped = if config.completion.is_none() {
            Reason::CompletionEventsOff
        } else if configured {
            plan.watches.push(index);
            continue;
        } else {
            Reason::UnknownDistribution(match &watched.watch.tenant_id {
                Some(tenant) => format!("{id} (tenant {tenant})"),
                None => id.clone(),
            })
        };
        tracing::warn!(distribution_id = %id, invalidation_id = %watched.watch.invalidation_id, reason = %dropped, "dropping a completion check");
        plan.skipped.push(Skipped {
            record: watched.record.clone(),
            reason: dropped,
            message_index: watched.message_index,
        });
    }
    by_destination.sort_unstable_by_key(|(destination, _)| destination.key());
    let max_billed = config.guards.max_billed_paths;
    for (destination, gathered) in by_destination {
        let paths = gathered.into_paths();
        plan.summary.changed_paths += paths.paths.len();
        // The invocation's ceiling, less what the destinations before this one bill.
        let room = max_billed.saturating_sub(plan.summary.billed_paths);
        let collapsed = collapse(paths, &config.policy, room);
        let (collapsed, held) = match config.defer {
            Some(_) => hold::hold_back(collapsed, &config.policy, &decoded.changes),
            None => (collapsed, Coverage::new()),
        };
        for batch in split(held, config.policy.wildcard_budget) {
            plan.held
                .push(Invalidation::new(destination, batch, &decoded.changes));
        }
        plan.summary.billed_paths += collapsed.len();
        plan.summary.wildcards += collapsed
            .iter()
            .filter(|(path, _)| is_wildcard(path))
            .count();
        for batch in split(collapsed, config.policy.wildcard_budget) {
            plan.invalidations
                .push(Invalidation::new(destination, batch, &decoded.changes));
        }
    }
    if plan.summary.billed_paths > max_billed {
        // Sent all the same: what the changes need is never dropped, but the operator hears.
        tracing::warn!(
            billed_paths = plan.summary.billed_paths,
            max_billed_paths = max_billed,
            "billing more paths than MAX_BILLED_PATHS even with the widest wildcards the settings allow (WILDCARD_BUDGET, WILDCARD_MIN_DEPTH, WILDCARD_ALLOW_ROOT): sending them"
        );
    }
    plan
}

/// Why a work message from `provenance` is refused.
fn untrusted(provenance: crate::event::Provenance) -> Reason {
    tracing::warn!(from = %provenance, "refusing a work message that did not come from the work queue");
    Reason::UntrustedWork {
        from: provenance.to_string(),
    }
}

/// Deferred paths checked against `routes`, those to their destination, as if planned now: each
/// path must be one a route could have planned for a key it does not skip, and `/*` only
/// where the whole distribution may be invalidated. (Wildcards shallower than
/// `WILDCARD_MIN_DEPTH` pass: a key holding `~` or `*` needs one wherever it sits.)
fn recheck(routes: &[&Route], allow_root: bool, routed: &Routed) -> Result<(), Reason> {
    for path in &routed.paths {
        if path == "/*" && !allow_root {
            return Err(Reason::InvalidWork(
                "path /* invalidates the whole distribution, which WILDCARD_ALLOW_ROOT does not allow".into(),
            ));
        }
        let mut refused = None;
        let accepted = routes
            .iter()
            .any(|route| match route_could_plan(route, path) {
                Ok(()) => true,
                Err(reason) => {
                    refused.get_or_insert(reason);
                    false
                }
            });
        if !accepted {
            return Err(refused.unwrap_or_else(|| {
                Reason::InvalidWork(format!("path {:?} is on no route", abbreviate(path)))
            }));
        }
    }
    Ok(())
}

/// Whether `route` could have planned `path`: under its path prefix, and not for a key it
/// skips.
fn route_could_plan(route: &Route, path: &str) -> Result<(), Reason> {
    let prefix = route.path_prefix.as_str();
    let relative = path
        .strip_prefix(prefix)
        .filter(|rest| prefix.is_empty() || rest.is_empty() || rest.starts_with(['/', '*']));
    let Some(relative) = relative else {
        return Err(Reason::InvalidWork(format!(
            "path {:?} is outside PATH_PREFIX {prefix:?}",
            abbreviate(path)
        )));
    };
    // The key the path stands for (a wildcard: the keys it starts), as the route maps keys.
    let stem = relative.strip_suffix('*').unwrap_or(relative);
    let decoded = percent_encoding::percent_decode_str(stem).decode_utf8_lossy();
    let key = format!(
        "{}{}",
        route.key_prefix,
        decoded.strip_prefix('/').unwrap_or(&decoded)
    );
    match route.skip_keys.matching(&key) {
        Some(pattern) => Err(Reason::InvalidWork(format!(
            "path {:?} is of key {:?}, which SKIP_KEYS pattern {pattern:?} skips",
            abbreviate(path),
            abbreviate(&key)
        ))),
        None => Ok(()),
    }
}

/// Adds `paths`, standing for change `index`, to what goes to `destination`.
fn add<'a>(
    by_destination: &mut Vec<(Destination<'a>, Gathered)>,
    destination: Destination<'a>,
    paths: impl IntoIterator<Item = String>,
    index: usize,
    expected: usize,
) {
    // A handful of destinations at most: a list, searched from the one used last.
    let found = by_destination
        .iter()
        .rposition(|(known, _)| known.key() == destination.key());
    let position = found.unwrap_or_else(|| {
        let room = if by_destination.is_empty() {
            expected
        } else {
            0
        };
        by_destination.push((destination, Gathered::with_capacity(room)));
        by_destination.len() - 1
    });
    let coverage = &mut by_destination[position].1;
    for path in paths {
        coverage.add(path, index);
    }
}

fn is_wildcard(path: &str) -> bool {
    path.ends_with('*')
}

/// The distinct identities of `changes` (digests), in order: the set [`caller_reference`]
/// hashes, independent of the order of the changes.
fn identities<'a>(changes: impl Iterator<Item = &'a Change>) -> Vec<Identity> {
    let mut digests: Vec<Identity> = changes.map(|change| change.identity).collect();
    // Byte order, comparing the first half as one number: the same order as comparing
    // bytes, without a call to compare each pair.
    let first_half = |digest: &Identity| u128::from_be_bytes(std::array::from_fn(|i| digest[i]));
    digests.sort_unstable_by(|a, b| first_half(a).cmp(&first_half(b)).then_with(|| a.cmp(b)));
    digests.dedup();
    digests
}

/// Deterministic, and different for any other distribution, tenant, set of changes or paths,
/// so a redelivered event is deduplicated by CloudFront and no reference is reused for new
/// paths. `identities` are the digests of distinct identities, sorted; `paths` sorted.
pub fn caller_reference(
    distribution_id: &str,
    tenant_id: Option<&str>,
    identities: &[[u8; 32]],
    paths: &[String],
) -> String {
    let mut hasher = Sha256::new();
    hasher.update(distribution_id.as_bytes());
    hasher.update([0]);
    if let Some(tenant_id) = tenant_id {
        hasher.update([2]);
        hasher.update(tenant_id.as_bytes());
        hasher.update([0]);
    }
    hasher.update((identities.len() as u64).to_le_bytes());
    for identity in identities {
        hasher.update(identity);
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
        current.push((path, changes));
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CollapsePolicy, Route};
    use crate::event::{Change, ChangeKind};
    use proptest::prelude::*;

    fn config(policy: CollapsePolicy) -> Config {
        Config {
            policy,
            ..Config::from_vars(&[
                ("DISTRIBUTION_ID", "EDIST"),
                ("INVALIDATE_PLUS_ALIAS", "false"),
                // Each path on its own; the index document's are tested with routes.
                ("INDEX_DOCUMENT", "off"),
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
                    identity: Sha256::digest(format!("id-{i}-{key}")).into(),
                    record: format!("Records[{i}]"),
                    message_index: Some(i),
                    second_reading: false,
                    routed: None,
                    source: Default::default(),
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
        let digest = |identity: &str| -> [u8; 32] { Sha256::digest(identity.as_bytes()).into() };
        let ids = [digest("a"), digest("b")];
        let paths = vec!["/x".to_string()];
        let reference = caller_reference("E1", None, &ids, &paths);
        assert_eq!(reference, caller_reference("E1", None, &ids, &paths));
        assert!(reference.starts_with("s3cfi-") && reference.len() == 38);
        assert_ne!(reference, caller_reference("E2", None, &ids, &paths));
        assert_ne!(reference, caller_reference("E1", None, &ids[..1], &paths));
        assert_ne!(
            reference,
            caller_reference("E1", None, &ids, &["/y".to_string()])
        );
        let tenant = caller_reference("E1", Some("dt_1"), &ids, &paths);
        assert_ne!(tenant, reference);
        assert_ne!(tenant, caller_reference("E1", Some("dt_2"), &ids, &paths));
        // Field boundaries matter: ("/ab", "/c") must not collide with ("/a", "/bc").
        assert_ne!(
            caller_reference("E1", None, &ids, &["/ab".into(), "/c".into()]),
            caller_reference("E1", None, &ids, &["/a".into(), "/bc".into()])
        );
    }

    #[test]
    fn identities_are_a_set() {
        let decoded = decoded(&keys(&["a.html", "b.html"]));
        let mut twice = decoded.changes.clone();
        twice.extend(decoded.changes.iter().rev().cloned());
        assert_eq!(identities(decoded.changes.iter()), identities(twice.iter()));
        assert_eq!(identities(twice.iter()).len(), 2);
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
        assert_eq!(second.covers[2], [4]);
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

    #[test]
    fn a_distribution_and_tenant_pair_is_the_unit_of_invalidation() {
        let tenant = |tenant: &str, prefix: &str| Route {
            key_prefix: prefix.into(),
            tenant_id: Some(tenant.into()),
            distribution_id: "EMULTI".into(),
            ..Route::default()
        };
        let mut config = config(never());
        config.routes = vec![tenant("dt_a", "a/"), tenant("dt_b", "b/")];
        let plan = plan(&decoded(&keys(&["a/x.html", "b/x.html"])), &config);
        let got: Vec<(&str, Option<&str>, &[String])> = plan
            .invalidations
            .iter()
            .map(|i| {
                (
                    i.distribution_id.as_str(),
                    i.tenant_id.as_deref(),
                    i.paths.as_slice(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("EMULTI", Some("dt_a"), &["/x.html".to_string()][..]),
                ("EMULTI", Some("dt_b"), &["/x.html".to_string()][..]),
            ]
        );
        assert_ne!(
            plan.invalidations[0].caller_reference,
            plan.invalidations[1].caller_reference
        );
        let json = serde_json::to_value(&plan.invalidations[0]).unwrap();
        assert_eq!(json["tenant_id"], "dt_a");
        assert!(json.get("role_arn").is_none());
    }

    #[test]
    fn a_role_is_shown_by_its_arn_only() {
        let mut config = config(never());
        config.routes[0].role = Some(Role {
            arn: "arn:aws:iam::111122223333:role/invalidator".into(),
            external_id: Some("shared-secret".into()),
        });
        let plan = plan(&decoded(&keys(&["a.html"])), &config);
        let json = serde_json::to_string(&plan.invalidations[0]).unwrap();
        assert!(
            json.contains(r#""role_arn":"arn:aws:iam::111122223333:role/invalidator""#),
            "{json}"
        );
        assert!(
            !json.contains("shared-secret") && !json.contains("tenant_id"),
            "{json}"
        );
    }

    #[test]
    fn skipped_keys_are_reported_and_never_sent() {
        let mut config = config(never());
        config.routes[0].skip_keys =
            crate::config::SkipKeys::new(vec!["assets/**".into(), "**/*.map".into()]).unwrap();
        let plan = plan(
            &decoded(&keys(&["assets/app.js", "js/app.js.map", "index.html"])),
            &config,
        );
        assert_eq!(all_paths(&plan), ["/index.html"]);
        let reasons: Vec<String> = plan.skipped.iter().map(|s| s.reason.to_string()).collect();
        assert_eq!(
            reasons,
            [
                "key \"assets/app.js\" matches SKIP_KEYS pattern \"assets/**\": not invalidated",
                "key \"js/app.js.map\" matches SKIP_KEYS pattern \"**/*.map\": not invalidated",
            ]
        );
        assert!(plan.rejected.is_empty());
    }

    #[test]
    fn query_string_wildcards_collapse_into_directories_within_the_budget() {
        // 12 stylesheets in each of 3 folders: 36 wildcards the keys need, 3 allowed.
        let list: Vec<String> = (0..36)
            .map(|i| format!("css/v{}/s{i}.css", i % 3))
            .collect();
        let mut config = config(CollapsePolicy {
            wildcard_budget: 3,
            min_changes: 100,
            ..CollapsePolicy::default()
        });
        config.routes[0].query_strings = true;
        let one_folder = plan(&decoded(&list), &config);
        assert_eq!(all_paths(&one_folder), ["/css/*"]);
        assert_eq!(one_folder.summary.wildcards, 1);
        // Four folders of one file each under a budget of two: two folders at most.
        let list = keys(&["a/1.css", "b/1.css", "c/1.css", "d/1.css"]);
        config.policy.wildcard_budget = 2;
        config.policy.min_depth = 1;
        let top_level = plan(&decoded(&list), &config);
        assert_eq!(
            top_level.summary.wildcards, 4,
            "top-level folders cannot merge without /*"
        );
        let sizes: Vec<usize> = top_level
            .invalidations
            .iter()
            .map(|i| i.paths.len())
            .collect();
        assert_eq!(sizes, [2, 2], "each request within the budget");
        config.policy.allow_root = true;
        let whole = plan(&decoded(&list), &config);
        assert_eq!(all_paths(&whole), ["/*"]);
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

    /// The fewest wildcards that can cover `paths` under `policy`: every wildcard the keys
    /// need is covered by the shallowest directory the policy allows above it, or stays.
    fn fewest_wildcards(paths: &[String], policy: &CollapsePolicy) -> usize {
        if policy.allow_root {
            return usize::from(paths.iter().any(|p| p.ends_with('*')));
        }
        let mut covers = BTreeSet::new();
        for path in paths.iter().filter(|p| p.ends_with('*')) {
            let stem = path.trim_end_matches('*');
            let cut = stem
                .match_indices('/')
                .nth(policy.min_depth)
                .map(|(at, _)| &stem[..=at]);
            covers.insert(cut.unwrap_or(path).to_owned());
        }
        covers.len()
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
                for target in targets(&config, change).unwrap() {
                    for path in target.paths {
                        prop_assert!(covered(&path, &sent), "{path} not covered by {sent:?}");
                    }
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

        #[test]
        fn query_strings_cover_every_path_within_the_wildcard_budget(
            list in prop::collection::vec("([a-c]{1,2}/){0,3}(index|[a-d ]{1,3})(\\.html|\\.css)", 1..200),
            policy in arbitrary_policy(),
            clean_urls in any::<bool>(),
        ) {
            let mut config = config(CollapsePolicy {
                wildcard_budget: policy.wildcard_budget.max(1),
                ..policy
            });
            config.routes[0].query_strings = true;
            config.routes[0].clean_urls = clean_urls;
            config.index_document = Some("index.html".into());
            let decoded = decoded(&list);
            let plan = plan(&decoded, &config);
            let sent = all_paths(&plan);
            let mut needed = Vec::new();
            for change in &decoded.changes {
                for target in targets(&config, change).unwrap() {
                    for path in target.paths {
                        if path == "/" {
                            // The home page's variants need the whole site: not allowed here.
                            prop_assert!(!config.policy.allow_root);
                            prop_assert!(covered(&path, &sent), "/ not covered by {sent:?}");
                            continue;
                        }
                        prop_assert!(path.ends_with('*'), "{path}");
                        // A viewer's URL with a query string is covered too.
                        let with_query = format!("{}?v=2", path.trim_end_matches('*'));
                        prop_assert!(covered(&with_query, &sent), "{with_query} not covered by {sent:?}");
                        needed.push(path);
                    }
                }
            }
            let budget = config.policy.wildcard_budget;
            if config.policy.collapse && fewest_wildcards(&needed, &config.policy) <= budget {
                prop_assert!(plan.summary.wildcards <= budget, "{} > {budget}: {sent:?}", plan.summary.wildcards);
            }
            for invalidation in &plan.invalidations {
                let wildcards = invalidation.paths.iter().filter(|p| p.ends_with('*')).count();
                prop_assert!(wildcards <= budget);
            }
        }

        #[test]
        fn a_skipped_key_is_never_invalidated(
            list in prop::collection::vec("(static/|js/|)([a-c]{1,2}/){0,2}[a-d]{1,3}(\\.map|\\.js|\\.html)", 1..120),
            policy in arbitrary_policy(),
        ) {
            let mut config = config(policy);
            config.routes[0].skip_keys =
                crate::config::SkipKeys::new(vec!["static/**".into(), "**/*.map".into()]).unwrap();
            let decoded = decoded(&list);
            let plan = plan(&decoded, &config);
            let skipped: BTreeSet<usize> = list
                .iter()
                .enumerate()
                .filter(|(_, key)| key.starts_with("static/") || key.ends_with(".map"))
                .map(|(i, _)| i)
                .collect();
            for invalidation in &plan.invalidations {
                prop_assert!(invalidation.changes().is_disjoint(&skipped));
            }
            let sent = all_paths(&plan);
            for &i in &skipped {
                let own_path = format!("/{}", list[i]);
                prop_assert!(!sent.contains(&own_path.as_str()), "{own_path} sent");
            }
            prop_assert_eq!(plan.skipped.len(), skipped.len());
            let by_pattern = |s: &Skipped| matches!(s.reason, Reason::SkippedByPattern { .. });
            prop_assert!(plan.skipped.iter().all(by_pattern), "{:?}", plan.skipped);
        }
    }
}
