//! One invocation: decode, plan, send (isolating paths CloudFront refuses), queue what must
//! wait (deferred paths, completion checks), make the completion checks asked for, and answer
//! in the shape the event source expects.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_lambda_events::event::sqs::SqsBatchResponse;
use futures_util::future::join_all;
use futures_util::stream::{self, StreamExt};
use lambda_runtime::Diagnostic;
use serde::Serialize;
use tokio::time::Instant;

use crate::config::{CompletionEvents, Config, Defer, MAX_WILDCARDS_IN_PROGRESS};
use crate::event::work::{self, Deferred, Timestamp, Watch};
use crate::event::{self, EventError, Reason, Skipped, Watched};
use crate::outcome::{
    Asking, Check, CheckFailure, Checked, Delivery, Failure, FailureReason, Outcome, RefusedPath,
    Verdict,
};
use crate::plan::{self, Destination, Invalidation};
use crate::publish::{EventBridge, PublishError, Publisher};
use crate::queue::{self, QueueError, Sqs, WorkQueue};
use crate::report;
use crate::send::{Backoff, Invalidator, SendError, Sent as Attempt, check, send};
use crate::watch::{self, Next};

/// Time kept back from the Lambda deadline to answer (and log) before being cut off.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(500);

/// Time kept back from the deadline to write to the queue (deferred work, completion checks)
/// and to publish completion events.
pub const DEFER_RESERVE: Duration = Duration::from_secs(2);

/// Deferred paths go out in messages of at most this many bytes (SQS allows 256 KiB).
const MAX_DEFERRED_BYTES: usize = 200_000;

/// One function instance's state across invocations: configuration and the clients it sends
/// through.
pub struct Handler<I, Q = Sqs, P = EventBridge> {
    pub config: Config,
    pub invalidator: I,
    pub backoff: Backoff,
    /// Where embedded-format metrics go; `None` prints none.
    pub metrics: Option<Metrics>,
    /// Where deferred invalidations go ([`Config::defer`]); `None` turns deferral off.
    pub queue: Option<Q>,
    /// Where completion checks wait and completions are announced
    /// ([`Config::completion`]); `None` watches nothing.
    pub watching: Option<Watching<Q, P>>,
}

/// The queue completion checks wait in, and the bus completions are announced on.
#[derive(Debug, Clone)]
pub struct Watching<Q, P> {
    pub queue: Q,
    pub publisher: P,
}

/// The CloudWatch namespace and dimension of the metrics lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metrics {
    pub namespace: String,
    pub function_name: String,
}

/// Completion checks in flight at once: a batch can hold many, and CloudFront throttles its
/// API after a handful of quick calls.
const CHECKS_AT_ONCE: usize = 4;

/// Requests one invocation may spend finding the paths CloudFront refuses: enough to isolate
/// a few bad paths among 3,000 (about 2 log2 n each), and few enough for its rate limit.
pub const ISOLATION_REQUESTS: usize = 64;

/// Why a direct invocation answers with an error (SQS batches answer with the failed
/// messages instead).
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    Event(#[from] EventError),
    /// Something failed that a later attempt cannot fix (configuration, permissions, input).
    #[error("{}", Problems(.problems, *.created))]
    Failed {
        problems: Vec<Problem>,
        created: usize,
    },
    /// Something failed that a later attempt may fix; Lambda retries the event.
    #[error(
        "{}. Lambda will retry the event; the same CallerReference makes the repeat free",
        Problems(.problems, *.created)
    )]
    RetryLater {
        problems: Vec<Problem>,
        created: usize,
    },
}

/// One thing that went wrong in a direct invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    Rejected {
        record: String,
        reason: Reason,
    },
    Unsent {
        caller_reference: String,
        distribution_id: String,
        tenant_id: Option<String>,
        paths: Vec<String>,
        error: SendError,
    },
    /// Made but not watched, or a completion check that did not finish.
    Unfinished(Failure),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Rejected { record, reason } => write!(f, "{record}: {reason}"),
            Problem::Unsent {
                caller_reference,
                distribution_id,
                tenant_id,
                paths,
                error,
            } => {
                write!(f, "invalidation {caller_reference} on {distribution_id}")?;
                if let Some(tenant_id) = tenant_id {
                    write!(f, " tenant {tenant_id}")?;
                }
                f.write_str(" (")?;
                match paths.as_slice() {
                    [path] => write!(f, "path {path}")?,
                    paths => write!(f, "{} paths", paths.len())?,
                }
                write!(f, "): {error}")
            }
            Problem::Unfinished(Failure { record, reason }) => write!(f, "{record}: {reason}"),
        }
    }
}

/// The problems of an invocation, as one line.
struct Problems<'a>(&'a [Problem], usize);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Problems(problems, created) = self;
        write!(
            f,
            "{} problem(s), {created} invalidation(s) created: ",
            problems.len()
        )?;
        for (i, problem) in problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            problem.fmt(f)?;
        }
        Ok(())
    }
}

impl From<HandlerError> for Diagnostic {
    fn from(error: HandlerError) -> Diagnostic {
        let error_type = match &error {
            HandlerError::Event(EventError::NotJson(_)) => "EventNotJson",
            HandlerError::Event(EventError::Unrecognised(_)) => "EventNotRecognised",
            HandlerError::Failed { .. } => "InvalidationFailed",
            HandlerError::RetryLater { .. } => "InvalidationRetryLater",
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message: error.to_string(),
        }
    }
}

/// What Lambda gets back: for SQS the messages to redeliver, otherwise a summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Answer {
    Sqs(SqsBatchResponse),
    Summary(Summary),
}

/// The answer to a direct invocation that went well.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub invalidations: Vec<Sent>,
    pub skipped: Vec<Skipped>,
    pub summary: plan::Summary,
}

/// One invalidation created, or found through its reused reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sent {
    pub distribution_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    pub caller_reference: String,
    /// `None` when CloudFront said the batch exists without naming it.
    pub id: Option<String>,
    pub status: Option<String>,
    pub paths: usize,
}

impl<I: Invalidator> Handler<I> {
    /// A handler without metrics, deferral or completion checks.
    pub fn new(config: Config, invalidator: I) -> Self {
        Handler {
            config,
            invalidator,
            backoff: Backoff::default(),
            metrics: None,
            queue: None,
            watching: None,
        }
    }
}

impl<I: Invalidator, Q: WorkQueue, P: Publisher> Handler<I, Q, P> {
    /// Runs one event (the payload's JSON), logs and measures it; `deadline` is when the
    /// answer must be ready.
    pub async fn handle(&self, event: &[u8], deadline: Instant) -> Result<Answer, HandlerError> {
        self.handle_request(event, deadline, "").await
    }

    /// As [`Handler::handle`], with Lambda's request id on the metrics line.
    pub async fn handle_request(
        &self,
        event: &[u8],
        deadline: Instant,
        request_id: &str,
    ) -> Result<Answer, HandlerError> {
        let outcome = self.run(event, deadline).await.inspect_err(|error| {
            tracing::error!(outcome = Verdict::Failed.as_str(), error = %error, "invalidation outcome");
        })?;
        let counts = report::counts(&outcome);
        report::log(&outcome, &counts);
        if let Some(metrics) = &self.metrics {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis();
            println!(
                "{}",
                report::emf_line(
                    &counts,
                    &metrics.namespace,
                    &metrics.function_name,
                    request_id,
                    now
                )
            );
            for line in report::completion_emf_lines(
                &outcome,
                &metrics.namespace,
                &metrics.function_name,
                request_id,
            ) {
                println!("{line}");
            }
        }
        answer(&outcome)
    }

    /// Decodes, plans and sends; the outcome says what happened to every record.
    pub async fn run(&self, event: &[u8], deadline: Instant) -> Result<Outcome, HandlerError> {
        let decoded = event::decode(event)?;
        let plan = plan::plan(&decoded, &self.config);
        // Distributions (and tenants) go concurrently, so one refusing for the whole deadline
        // does not starve the others; a distribution's own requests go in turn, for its
        // in-progress limits.
        let mut by_distribution: Vec<Vec<&Invalidation>> = Vec::new();
        for invalidation in &plan.invalidations {
            match by_distribution.last_mut() {
                Some(group)
                    if (&group[0].distribution_id, &group[0].tenant_id)
                        == (&invalidation.distribution_id, &invalidation.tenant_id) =>
                {
                    group.push(invalidation)
                }
                _ => by_distribution.push(vec![invalidation]),
            }
        }
        let isolation_budget = AtomicUsize::new(ISOLATION_REQUESTS);
        let writes_to_queue = self.deferring().is_some() || self.watching().is_some();
        let answer_by = deadline;
        let deadline = if writes_to_queue {
            deadline - DEFER_RESERVE
        } else {
            deadline
        };
        let changes = &decoded.changes;
        let budget = &isolation_budget;
        let wildcard_cap = self
            .config
            .policy
            .wildcard_budget
            .clamp(1, MAX_WILDCARDS_IN_PROGRESS);
        let sending = join_all(by_distribution.into_iter().map(|group| async move {
            let mut deliveries = Vec::new();
            let mut refused = Vec::new();
            let mut wildcards = 0;
            for invalidation in group {
                // The wildcard budget is per invocation, whatever the requests hold (deferred
                // work, keys that need wildcards): one request past it is deferred unsent.
                let needed = invalidation.paths.iter().filter(|p| p.ends_with('*')).count();
                if needed > 0
                    && wildcards > 0
                    && wildcards + needed > wildcard_cap
                    && self.deferring().is_some()
                {
                    tracing::info!(caller_reference = %invalidation.caller_reference, wildcards = needed, "past the wildcard budget: deferred unsent");
                    deliveries.push(held(invalidation.clone()));
                    continue;
                }
                wildcards += needed;
                self.deliver(
                    invalidation.clone(),
                    changes,
                    deadline,
                    budget,
                    &mut deliveries,
                    &mut refused,
                )
                .await;
            }
            (deliveries, refused)
        }));
        // Checks go alongside the sends: they touch other invalidations.
        let (groups, checks) = tokio::join!(
            sending,
            self.check_all(&decoded.watches, &plan.watches, deadline, answer_by)
        );
        let (deliveries, refused): (Vec<_>, Vec<_>) = groups.into_iter().unzip();
        let mut deliveries: Vec<Delivery> = deliveries.into_iter().flatten().collect();
        // Held back for wildcard room: deferred unsent, as CloudFront would refuse them
        // for want of room were they wildcards.
        deliveries.extend(plan.held.iter().cloned().map(held));
        self.defer(&mut deliveries, changes, answer_by).await;
        self.watch_new(&mut deliveries, answer_by).await;
        Ok(Outcome {
            plan,
            deliveries,
            refused: refused.into_iter().flatten().collect(),
            checks,
            changes: decoded.changes,
            sqs_message_ids: decoded.sqs_message_ids,
        })
    }

    /// The queue and its settings, when deferral is on.
    fn deferring(&self) -> Option<(&Q, &Defer)> {
        Some((self.queue.as_ref()?, self.config.defer.as_ref()?))
    }

    /// The queue and bus, and the settings for them, when completion events are on.
    fn watching(&self) -> Option<(&Watching<Q, P>, &CompletionEvents)> {
        Some((self.watching.as_ref()?, self.config.completion.as_ref()?))
    }

    /// Queues the first completion check of every invalidation made or found. One that cannot
    /// be queued fails its changes, so they come back and the check is queued then: nothing is
    /// acknowledged before what replaces it is written.
    async fn watch_new(&self, deliveries: &mut [Delivery], answer_by: Instant) {
        let Some((watching, settings)) = self.watching() else {
            return;
        };
        let now = Timestamp::from(std::time::SystemTime::now());
        let writes = deliveries.iter_mut().filter_map(|delivery| {
            let receipt = delivery.sent.result.as_ref().ok()?;
            let watch = watch::first(
                &delivery.invalidation,
                receipt,
                settings.first_delay_seconds,
                now,
            )?;
            Some(async move {
                if let Err(error) = enqueue(&watching.queue, &watch, answer_by).await {
                    tracing::warn!(invalidation_id = %watch.invalidation_id, %error, "could not queue the completion check");
                    delivery.unwatched = Some(error);
                }
            })
        });
        join_all(writes).await;
    }

    /// Makes the completion checks the plan kept, once per invalidation however many messages
    /// ask for it (SQS may deliver one twice), so each is published at most once per invocation.
    /// A handler built without a queue and bus makes none.
    async fn check_all(
        &self,
        watches: &[Watched],
        kept: &[usize],
        deadline: Instant,
        answer_by: Instant,
    ) -> Vec<Check> {
        let Some((watching, _)) = self.watching() else {
            return Vec::new();
        };
        let same = |a: &Watch, b: &Watch| {
            (&a.distribution_id, &a.tenant_id, &a.invalidation_id)
                == (&b.distribution_id, &b.tenant_id, &b.invalidation_id)
        };
        let mut asked: Vec<(&Watch, Vec<Asking>)> = Vec::new();
        for watched in kept.iter().map(|&i| &watches[i]) {
            let message = (watched.record.clone(), watched.message_index);
            match asked
                .iter_mut()
                .find(|(watch, _)| same(watch, &watched.watch))
            {
                Some((watch, messages)) => {
                    messages.push(message);
                    if watched.watch.checks > watch.checks {
                        *watch = &watched.watch;
                    }
                }
                None => asked.push((&watched.watch, vec![message])),
            }
        }
        stream::iter(asked)
            .map(|(watch, asked)| async move {
                Check {
                    result: self.check_one(watching, watch, deadline, answer_by).await,
                    watch: watch.clone(),
                    asked,
                }
            })
            .buffer_unordered(CHECKS_AT_ONCE)
            .collect()
            .await
    }

    /// One check: GetInvalidation, then publish the announcement or queue the next check.
    async fn check_one(
        &self,
        watching: &Watching<Q, P>,
        watch: &Watch,
        deadline: Instant,
        answer_by: Instant,
    ) -> Result<Checked, CheckFailure> {
        // The role that reaches the distribution follows from the configuration.
        let role = self
            .config
            .routes_to(&watch.distribution_id, watch.tenant_id.as_deref())
            .next()
            .and_then(|route| route.role.as_ref());
        let destination = Destination {
            distribution_id: &watch.distribution_id,
            tenant_id: watch.tenant_id.as_deref(),
            role,
        };
        let described = check(
            &self.invalidator,
            destination,
            &watch.invalidation_id,
            deadline,
            self.backoff,
        )
        .await
        .map_err(CheckFailure::Check)?;
        let now = Timestamp::from(std::time::SystemTime::now());
        // What is announced is what CloudFront says, never what the message claims.
        let Some(facts) = &described.facts else {
            return Err(CheckFailure::Check(SendError::Transport(
                "GetInvalidation did not say what the invalidation holds".into(),
            )));
        };
        let watch = watch::confirmed(watch, facts, now);
        match watch::after_check(&watch, described.progress, now) {
            Next::Announce(event) => {
                match tokio::time::timeout_at(answer_by, watching.publisher.publish(&event)).await {
                    Ok(Ok(())) => Ok(Checked::Announced(Box::new(event))),
                    Ok(Err(error)) => Err(CheckFailure::Publish(error)),
                    Err(_) => Err(CheckFailure::Publish(PublishError(
                        "no answer before the invocation's deadline".into(),
                    ))),
                }
            }
            Next::CheckAgain(next) => enqueue(&watching.queue, &next, answer_by)
                .await
                .map(Checked::CheckAgain)
                .map_err(CheckFailure::Queue),
        }
    }

    /// Sends one planned request. When CloudFront refuses it for a path, the request is split
    /// in halves until the refused paths are alone; each is then widened to the nearest
    /// wildcard the policy allows, or fails on its own, so the other paths still go out.
    async fn deliver(
        &self,
        planned: Invalidation,
        changes: &[event::Change],
        deadline: Instant,
        budget: &AtomicUsize,
        deliveries: &mut Vec<Delivery>,
        refused: &mut Vec<RefusedPath>,
    ) {
        let defer_busy = self.deferring().is_some();
        let mut pending = vec![planned];
        while let Some(invalidation) = pending.pop() {
            let sent = send(
                &self.invalidator,
                &invalidation,
                deadline,
                self.backoff,
                defer_busy,
            )
            .await;
            if matches!(sent.result, Err(SendError::TooManyInProgress))
                && defer_busy
                && let Some(parts) = plan::by_kind(&invalidation, changes)
                && afford(budget, parts.len())
            {
                // The exact paths first: the wildcards are likelier to be what is full.
                pending.extend(parts.into_iter().rev());
                continue;
            }
            if let Err(SendError::InvalidPaths(message)) = &sent.result {
                let parts: Vec<Invalidation> = match plan::halves(&invalidation, changes) {
                    Some(halves) => halves.into(),
                    None => {
                        refused.push(RefusedPath {
                            path: invalidation.paths[0].clone(),
                            message: message.clone(),
                        });
                        plan::wider(&invalidation, &self.config.policy, changes)
                            .into_iter()
                            .collect()
                    }
                };
                if !parts.is_empty() && afford(budget, parts.len()) {
                    // Reversed, so the first half is sent first.
                    pending.extend(parts.into_iter().rev());
                    continue;
                }
            }
            deliveries.push(Delivery {
                invalidation,
                sent,
                deferred: None,
                unwatched: None,
            });
        }
    }

    /// Writes each request CloudFront refused for now (too many in progress, or throttled:
    /// it certainly did not act) to the queue as deferred work, to be planned again with
    /// whatever is new then. All or nothing per message: the paths go in chunks of whole
    /// [`Clusters`], and when a write fails, every cluster not wholly written fails and its
    /// messages come back, while the written ones are acknowledged. No message is both
    /// deferred and redelivered, so no path is billed twice, however the messages are batched
    /// when they come back.
    async fn defer(
        &self,
        deliveries: &mut Vec<Delivery>,
        changes: &[event::Change],
        answer_by: Instant,
    ) {
        let Some((queue, defer)) = self.deferring() else {
            return;
        };
        let deferrable: Vec<(usize, Duration, u32)> = deliveries
            .iter()
            .enumerate()
            .filter(|(_, delivery)| matches!(&delivery.sent.result, Err(e) if e.is_deferrable()))
            .filter_map(|(index, delivery)| {
                let deferrals = 1 + delivery
                    .invalidation
                    .changes()
                    .into_iter()
                    .filter_map(|i| Some(changes[i].routed.as_ref()?.deferrals))
                    .max()
                    .unwrap_or(0);
                // Linear growth: CloudFront frees room within minutes, so early checks pay
                // off, while a distribution kept busy by others is not polled every minute
                // for hours.
                let delay = Duration::from_secs(
                    defer
                        .first_delay_seconds
                        .saturating_mul(u64::from(deferrals)),
                )
                .min(queue::MAX_DELAY);
                (deferrals <= work::MAX_DEFERRALS).then_some((index, delay, deferrals))
            })
            .collect();
        if deferrable.is_empty() {
            return;
        }
        let clusters = Clusters::of(
            deferrable
                .iter()
                .map(|&(index, _, _)| &deliveries[index].invalidation),
            changes,
        );
        let mut failed: HashSet<usize> = HashSet::new();
        let mut broken = false;
        for &(index, delay, deferrals) in &deferrable {
            let invalidation = &deliveries[index].invalidation;
            for (part, chunk) in clusters
                .chunks(invalidation, changes)
                .into_iter()
                .enumerate()
            {
                if broken {
                    failed.extend(chunk.clusters);
                    continue;
                }
                let deferred = Deferred {
                    distribution_id: invalidation.distribution_id.clone(),
                    tenant_id: invalidation.tenant_id.clone(),
                    reference: format!("{}.{part}", invalidation.caller_reference),
                    paths: chunk
                        .paths
                        .iter()
                        .map(|&path| invalidation.paths[path].clone())
                        .collect(),
                    deferrals,
                };
                if let Err(error) = write(queue, deferred.to_body(), delay, answer_by).await {
                    tracing::warn!(caller_reference = %invalidation.caller_reference, %error, "could not defer: what was not wholly written comes back");
                    broken = true;
                    failed.extend(chunk.clusters);
                }
            }
        }
        let mut written_parts = Vec::new();
        for &(index, delay, _) in &deferrable {
            let delivery = &mut deliveries[index];
            let (lost, kept): (Vec<_>, Vec<_>) = delivery
                .invalidation
                .coverage()
                .partition(|(_, covers)| failed.contains(&clusters.of_path(covers, changes)));
            if lost.is_empty() {
                delivery.deferred = Some(delay);
            } else if !kept.is_empty() {
                let destination = delivery.invalidation.destination();
                let written = Invalidation::new(destination, kept, changes);
                let rest = Invalidation::new(destination, lost, changes);
                written_parts.push(Delivery {
                    invalidation: written,
                    sent: delivery.sent.clone(),
                    deferred: Some(delay),
                    unwatched: None,
                });
                delivery.invalidation = rest;
            }
        }
        deliveries.extend(written_parts);
    }
}

/// A request held back unsent, as if CloudFront had no room for it: it is deferred.
fn held(invalidation: Invalidation) -> Delivery {
    Delivery {
        invalidation,
        sent: Attempt {
            result: Err(SendError::TooManyInProgress),
            attempts: 0,
            retried_after: Vec::new(),
        },
        deferred: None,
        unwatched: None,
    }
}

/// Takes `requests` from the isolation budget, if it has that many left.
fn afford(budget: &AtomicUsize, requests: usize) -> bool {
    budget
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
            left.checked_sub(requests)
        })
        .is_ok()
}

/// Writes `body` to `queue`, due after `delay`, if SQS answers before `answer_by`.
async fn write(
    queue: &impl WorkQueue,
    body: String,
    delay: Duration,
    answer_by: Instant,
) -> Result<(), QueueError> {
    match tokio::time::timeout_at(answer_by, queue.send(body, delay)).await {
        Ok(result) => result,
        Err(_) => Err(QueueError(
            "no answer before the invocation's deadline".into(),
        )),
    }
}

/// Writes `watch` to `queue`, due after its delay; answers the delay.
async fn enqueue(
    queue: &impl WorkQueue,
    watch: &Watch,
    answer_by: Instant,
) -> Result<Duration, QueueError> {
    let delay = Duration::from_secs(watch.delay_seconds).min(queue::MAX_DELAY);
    write(queue, watch.to_body(), delay, answer_by)
        .await
        .map(|()| delay)
}

/// The messages of an invocation that must be acknowledged or redelivered together: those
/// whose changes share a path of a deferred request (a wildcard, an index page), joined
/// across requests. Outside an SQS batch the whole event is one message.
struct Clusters {
    /// For each message, an earlier message of its cluster (while built), then the
    /// cluster's first.
    parent: Vec<usize>,
}

/// Paths of one request that go in one deferred message, and the clusters they hold.
struct Chunk {
    paths: Vec<usize>,
    clusters: Vec<usize>,
}

impl Clusters {
    fn of<'a>(
        invalidations: impl Iterator<Item = &'a Invalidation>,
        changes: &[event::Change],
    ) -> Clusters {
        let messages = changes
            .iter()
            .filter_map(|change| change.message_index)
            .max()
            .map_or(1, |last| last + 1);
        let mut clusters = Clusters {
            parent: (0..messages).collect(),
        };
        for invalidation in invalidations {
            for covers in &invalidation.covers {
                let first = message(changes, covers[0]);
                for &change in &covers[1..] {
                    let (a, b) = (
                        clusters.find(first),
                        clusters.find(message(changes, change)),
                    );
                    clusters.parent[a.max(b)] = a.min(b);
                }
            }
        }
        // Every message pointing at its cluster's first: a parent is always an earlier
        // message, so in order each one's parent already does.
        for message in 0..clusters.parent.len() {
            clusters.parent[message] = clusters.parent[clusters.parent[message]];
        }
        clusters
    }

    /// The cluster's first message, halving the path on the way.
    fn find(&mut self, mut message: usize) -> usize {
        while self.parent[message] != message {
            self.parent[message] = self.parent[self.parent[message]];
            message = self.parent[message];
        }
        message
    }

    fn root(&self, message: usize) -> usize {
        self.parent[message]
    }

    /// The cluster of a path covering `covers` (all in one cluster).
    fn of_path(&self, covers: &[usize], changes: &[event::Change]) -> usize {
        self.root(message(changes, covers[0]))
    }

    /// The paths of `invalidation` in chunks whose message stays within
    /// [`MAX_DEFERRED_BYTES`], each cluster whole in one chunk unless it alone is larger.
    fn chunks(&self, invalidation: &Invalidation, changes: &[event::Change]) -> Vec<Chunk> {
        // Clusters in the order of their first path, each with its paths.
        let mut by_cluster: Vec<(usize, Vec<usize>)> = Vec::new();
        let mut position: HashMap<usize, usize> = HashMap::new();
        for (path, covers) in invalidation.covers.iter().enumerate() {
            let cluster = self.of_path(covers, changes);
            let at = *position.entry(cluster).or_insert_with(|| {
                by_cluster.push((cluster, Vec::new()));
                by_cluster.len() - 1
            });
            by_cluster[at].1.push(path);
        }
        // A path's JSON: quotes, a comma, and escapes at worst doubling it.
        let bytes = |path: usize| 2 * invalidation.paths[path].len() + 3;
        let mut chunks: Vec<Chunk> = Vec::new();
        let mut size = 0;
        for (cluster, paths) in by_cluster {
            let cluster_size: usize = paths.iter().map(|&path| bytes(path)).sum();
            if chunks.is_empty() || size + cluster_size > MAX_DEFERRED_BYTES {
                chunks.push(Chunk {
                    paths: Vec::new(),
                    clusters: Vec::new(),
                });
                size = 0;
            }
            for path in paths {
                let last = chunks.last_mut().expect("a chunk was started");
                if size + bytes(path) > MAX_DEFERRED_BYTES && !last.paths.is_empty() {
                    // A cluster larger than a message: it spans two.
                    chunks.push(Chunk {
                        paths: Vec::new(),
                        clusters: vec![cluster],
                    });
                    size = 0;
                }
                let last = chunks.last_mut().expect("a chunk was started");
                if last.clusters.last() != Some(&cluster) {
                    last.clusters.push(cluster);
                }
                last.paths.push(path);
                size += bytes(path);
            }
        }
        for chunk in &mut chunks {
            chunk.paths.sort_unstable();
        }
        chunks
    }
}

/// The message (cluster member) of change `index`.
fn message(changes: &[event::Change], index: usize) -> usize {
    changes[index].message_index.unwrap_or(0)
}

/// The answer Lambda gets: the messages to redeliver for SQS; a summary or an error otherwise.
pub fn answer(outcome: &Outcome) -> Result<Answer, HandlerError> {
    if let Some(ids) = &outcome.sqs_message_ids {
        let mut response = SqsBatchResponse::default();
        for index in outcome.failed_messages() {
            response.add_failure(ids[index].clone());
        }
        return Ok(Answer::Sqs(response));
    }
    let verdict = outcome.verdict();
    let mut problems: Vec<Problem> = outcome
        .plan
        .rejected
        .iter()
        .map(|r| Problem::Rejected {
            record: r.record.clone(),
            reason: r.reason.clone(),
        })
        .collect();
    problems.extend(
        outcome
            .errors()
            .map(|(invalidation, error)| Problem::Unsent {
                caller_reference: invalidation.caller_reference.clone(),
                distribution_id: invalidation.distribution_id.clone(),
                tenant_id: invalidation.tenant_id.clone(),
                paths: invalidation.paths.clone(),
                error: error.clone(),
            }),
    );
    problems.extend(
        outcome
            .failures()
            .into_iter()
            .filter(|failure| {
                matches!(
                    failure.reason,
                    FailureReason::Unwatched { .. } | FailureReason::Unchecked { .. }
                )
            })
            .map(Problem::Unfinished),
    );
    let created = outcome.receipts().count();
    match verdict {
        Verdict::Ok => Ok(Answer::Summary(Summary {
            invalidations: outcome
                .receipts()
                .map(|(invalidation, receipt)| Sent {
                    distribution_id: invalidation.distribution_id.clone(),
                    tenant_id: invalidation.tenant_id.clone(),
                    caller_reference: invalidation.caller_reference.clone(),
                    id: receipt.id.clone(),
                    status: receipt.status.clone(),
                    paths: invalidation.paths.len(),
                })
                .collect(),
            skipped: outcome.plan.skipped.clone(),
            summary: outcome.plan.summary,
        })),
        Verdict::RetryLater => Err(HandlerError::RetryLater { problems, created }),
        Verdict::Failed => Err(HandlerError::Failed { problems, created }),
    }
}

/// Turns Lambda's absolute deadline into a tokio instant, less [`DEADLINE_MARGIN`].
pub fn deadline_from(lambda_deadline: std::time::SystemTime) -> Instant {
    let remaining = lambda_deadline
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default();
    Instant::now() + remaining.saturating_sub(DEADLINE_MARGIN)
}
