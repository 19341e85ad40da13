//! Deploys and trickles at CloudFront's pace: a discrete-event simulation in virtual time.
//!
//! The real handler (decoding, planning, sending, deferring, completion checks) runs against
//! models of S3 notifications into SQS (visibility timeout, receive count, dead-letter queue
//! after `maxReceiveCount`, `DelaySeconds`), Lambda's SQS event source (batch size, batching
//! window, 6 MB, concurrency cap, and the messages of one window shared among the concurrent
//! batches ten at a time, as Lambda's pollers share a queue) or its asynchronous invocations
//! (two retries), EventBridge, and CloudFront (3,000 paths and 15 wildcards in progress, a
//! CreateInvalidation rate limit, and each invalidation drawn a time to take effect and a
//! later time to report completion). Time is tokio's paused clock: a sleep costs nothing, so an
//! hour of uploads simulates in seconds. Runs are seeded, so the same code gives the same
//! figures.
//!
//! A key is fresh when an invalidation created after its upload that covers every spelling
//! of its path takes effect; a completion event's delay runs from CloudFront's completion to
//! its publication.
//!
//! `make simulate` runs every scenario (`--ignored`) in an optimised build and writes
//! `target/simulate/summary.json`, a timeline per scenario, the batching-window frontier, and
//! the plots; `make test` runs a small deploy to keep the model honest.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fmt::Write as _;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use s3_cloudfront_invalidator::config::{
    Config, MAX_PATHS_PER_REQUEST, MAX_WILDCARDS_IN_PROGRESS, defaults,
};
use s3_cloudfront_invalidator::handler::{Answer, Handler, Watching};
use s3_cloudfront_invalidator::path::{cloudfront_path, spellings};
use s3_cloudfront_invalidator::plan::{Destination, Invalidation};
use s3_cloudfront_invalidator::publish::{CompletionEvent, Kind, PublishError, Publisher};
use s3_cloudfront_invalidator::queue::{QueueError, WorkQueue};
use s3_cloudfront_invalidator::send::{
    Backoff, Described, Facts, Invalidator, Progress, Receipt, SendError,
};
use serde::Serialize;
use tokio::time::Instant;

const DISTRIBUTION: &str = "ESIMULATED1";
/// SQS's limit on one Lambda batch.
const MAX_BATCH_BYTES: usize = 6 * 1024 * 1024;
/// Messages one ReceiveMessage call returns: the unit Lambda's pollers share a queue in.
const RECEIVE_CHUNK: usize = 10;
/// The template's function timeout, queue visibility timeout and receive limit.
const FUNCTION_TIMEOUT: Duration = Duration::from_secs(60);
const VISIBILITY_TIMEOUT: Duration = Duration::from_secs(700);
const MAX_RECEIVES: u32 = 5;
/// How long a CloudFront call takes to answer.
const CALL_LATENCY: Duration = Duration::from_millis(200);
/// S3 delivers a notification about a second after the upload.
const NOTIFICATION_DELAY: Duration = Duration::from_secs(1);
/// How often Lambda's pollers look at a queue; how often the timeline is sampled.
const POLL: Duration = Duration::from_millis(250);
const SAMPLE: Duration = Duration::from_secs(10);
/// The template's work queue and its mapping (deferred paths and completion checks, in
/// both modes): no batching window, work is due when its delay ends.
const WORK_QUEUE_URL: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/work";
const WORK_QUEUE_ARN: &str = "arn:aws:sqs:us-east-1:123456789012:work";
const BUFFER_QUEUE_ARN: &str = "arn:aws:sqs:us-east-1:123456789012:buffer";
const WORK_BATCH: usize = 10;
const WORK_CONCURRENCY: usize = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
enum Mode {
    Queued,
    Direct,
}

/// How long CloudFront takes, in seconds: to take effect (edges stop serving the old object)
/// and to report the invalidation completed, each drawn evenly from its range; a share of
/// invalidations (`tail`) takes `tail_range` for both instead.
#[derive(Debug, Clone, Copy, Serialize)]
struct Pace {
    name: &'static str,
    effect_s: (f64, f64),
    completion_s: (f64, f64),
    tail: f64,
    tail_s: (f64, f64),
}

/// AWS's figures of 2026-04-29: in effect under 5 s and completed under 25 s, at P95.
const TODAY: Pace = Pace {
    name: "today",
    effect_s: (1.0, 5.0),
    completion_s: (5.0, 25.0),
    tail: 0.0,
    tail_s: (0.0, 0.0),
};
/// CloudFront as the older documentation and user reports describe it.
const LEGACY: Pace = Pace {
    name: "legacy",
    effect_s: (60.0, 300.0),
    completion_s: (60.0, 300.0),
    tail: 0.0,
    tail_s: (0.0, 0.0),
};
/// Today's pace, but one invalidation in twenty takes 10 to 20 minutes, as users reported.
const LONG_TAIL: Pace = Pace {
    name: "long tail",
    tail: 0.05,
    tail_s: (600.0, 1200.0),
    ..TODAY
};

/// Which keys are uploaded, in the order `aws s3 sync` uploads them.
#[derive(Debug, Clone, Copy)]
enum Keys {
    /// A static site: six sections of different sizes, folders of 100 files, a few root files.
    Site,
    /// This many sections of equal size, folders of 100 files.
    Sections(usize),
    /// Every object in a folder of its own.
    Folders,
}

impl Keys {
    fn key(self, i: usize, objects: usize) -> String {
        match self {
            Keys::Site => site_key(i, objects),
            Keys::Sections(sections) => {
                let per = objects.div_ceil(sections);
                let n = i % per;
                format!("section{:02}/{:03}/{:03}.html", i / per, n / 100, n % 100)
            }
            Keys::Folders => format!("page{i:05}/index.html"),
        }
    }
}

/// A run to simulate.
#[derive(Debug, Clone)]
struct Scenario {
    name: String,
    mode: Mode,
    objects: usize,
    /// Uploads are spread evenly over this long.
    upload: Duration,
    keys: Keys,
    pace: Pace,
    /// Lambda's SQS event source of the buffer queue (Queued mode): batch size, window and
    /// concurrency cap, and the wildcard budget the template derives from the cap.
    batch_size: usize,
    window: Duration,
    concurrency: usize,
    wildcard_budget: usize,
    /// Sustained CreateInvalidation rate (requests per second) and burst, as users report.
    rate: f64,
    burst: f64,
}

impl Scenario {
    /// The template's defaults.
    fn queued(name: &str, objects: usize, upload: Duration, keys: Keys) -> Scenario {
        Scenario {
            name: name.to_owned(),
            mode: Mode::Queued,
            objects,
            upload,
            keys,
            pace: TODAY,
            batch_size: 3000,
            window: Duration::from_secs(defaults::BATCHING_WINDOW_SECONDS),
            concurrency: 2,
            wildcard_budget: 7,
            rate: 0.5,
            burst: 5.0,
        }
    }

    fn at(&self, pace: Pace) -> Scenario {
        Scenario {
            name: format!("{} ({} pace)", self.name, pace.name),
            pace,
            ..self.clone()
        }
    }

    fn with_window(&self, seconds: u64) -> Scenario {
        Scenario {
            name: format!("{} (window {seconds} s)", self.name),
            window: Duration::from_secs(seconds),
            ..self.clone()
        }
    }
}

/// The key of the `i`th object of a static site, in the sorted order `aws s3 sync` uploads:
/// sections of different sizes, folders of 100 files, and a few files at the root.
fn site_key(i: usize, objects: usize) -> String {
    const ROOT_FILES: [&str; 4] = ["404.html", "index.html", "robots.txt", "sitemap.xml"];
    const SECTIONS: [(&str, usize); 6] = [
        ("assets", 15),
        ("blog", 30),
        ("docs", 25),
        ("news", 5),
        ("products", 20),
        ("tags", 5),
    ];
    let body = objects.saturating_sub(ROOT_FILES.len());
    if i >= body {
        return ROOT_FILES[i - body].to_owned();
    }
    let mut start = 0;
    for (section, percent) in SECTIONS {
        let size = (body * percent).div_ceil(100);
        if i < start + size || section == "tags" {
            let n = i - start;
            return format!("{section}/{:05}/{:03}.html", n / 100, n % 100);
        }
        start += size;
    }
    unreachable!("the last section takes the rest")
}

/// An SQS message: an S3 notification for one object, or a body the function wrote.
#[derive(Debug)]
struct Message {
    body: Body,
    visible_at: Instant,
    receives: u32,
}

#[derive(Debug)]
enum Body {
    Upload(usize),
    Text(String),
}

impl Body {
    /// Bytes it takes in a Lambda batch: a notification is about 1.2 KB.
    fn size(&self) -> usize {
        match self {
            Body::Upload(_) => 1200,
            Body::Text(text) => text.len() + 200,
        }
    }
}

/// A standard queue: messages become visible at their time, received ones stay invisible
/// for the visibility timeout, and a message received more than the limit goes to the
/// dead-letter queue instead.
#[derive(Default)]
struct Queue {
    next_id: u64,
    waiting: BinaryHeap<Reverse<(Instant, u64)>>,
    messages: HashMap<u64, Message>,
    ready: VecDeque<u64>,
    dead_lettered: usize,
}

impl Queue {
    fn push(&mut self, body: Body, visible_at: Instant) {
        let id = self.next_id;
        self.next_id += 1;
        self.waiting.push(Reverse((visible_at, id)));
        self.messages.insert(
            id,
            Message {
                body,
                visible_at,
                receives: 0,
            },
        );
    }

    fn promote(&mut self, now: Instant) {
        while let Some(Reverse((at, id))) = self.waiting.peek().copied() {
            if at > now {
                break;
            }
            self.waiting.pop();
            // A stale heap entry: the message was received or deleted since.
            if self.messages.get(&id).is_some_and(|m| m.visible_at == at) {
                self.ready.push_back(id);
            }
        }
    }

    /// Receives the next visible message into a batch of `bytes` so far: `None` when there is
    /// none, or it would take the batch past 6 MB.
    fn receive_one(&mut self, bytes: usize, now: Instant) -> Option<(u64, usize)> {
        loop {
            let &id = self.ready.front()?;
            let size = self.messages[&id].body.size();
            if bytes > 0 && bytes + size > MAX_BATCH_BYTES {
                return None;
            }
            self.ready.pop_front();
            let message = self.messages.get_mut(&id).expect("ready messages exist");
            message.receives += 1;
            if message.receives > MAX_RECEIVES {
                self.messages.remove(&id);
                self.dead_lettered += 1;
                continue;
            }
            message.visible_at = now + VISIBILITY_TIMEOUT;
            self.waiting.push(Reverse((message.visible_at, id)));
            return Some((id, size));
        }
    }

    fn delete(&mut self, id: u64) {
        self.messages.remove(&id);
    }
}

/// One invalidation CloudFront made.
#[derive(Debug, Clone)]
struct Made {
    reference: String,
    created: Instant,
    takes_effect: Instant,
    completes: Instant,
    paths: Vec<String>,
    checks: u32,
    announced: Option<Instant>,
}

/// CloudFront's invalidation API as the field knows it.
struct CloudFrontModel {
    pace: Pace,
    rng: fastrand::Rng,
    made: Vec<Made>,
    references: HashMap<String, usize>,
    tokens: f64,
    refilled: Instant,
    rate: f64,
    burst: f64,
    calls: usize,
}

impl CloudFrontModel {
    fn in_progress(&self, now: Instant) -> (usize, usize) {
        self.made
            .iter()
            .filter(|m| m.completes > now)
            .fold((0, 0), |(paths, wildcards), m| {
                (
                    paths + m.paths.len(),
                    wildcards + m.paths.iter().filter(|p| p.ends_with('*')).count(),
                )
            })
    }

    fn draw(&mut self, (low, high): (f64, f64)) -> Duration {
        Duration::from_secs_f64(low + (high - low) * self.rng.f64())
    }

    fn create(
        &mut self,
        reference: &str,
        paths: &[String],
        now: Instant,
    ) -> Result<Receipt, SendError> {
        self.calls += 1;
        let elapsed = now.duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.refilled = now;
        if self.tokens < 1.0 {
            return Err(SendError::Throttled("Throttling: Rate exceeded".into()));
        }
        self.tokens -= 1.0;
        if let Some(&index) = self.references.get(reference) {
            return Ok(Receipt {
                id: Some(format!("I{index}")),
                status: Some("InProgress".into()),
                reused: true,
                created_at: None,
            });
        }
        let (paths_now, wildcards_now) = self.in_progress(now);
        let wildcards = paths.iter().filter(|p| p.ends_with('*')).count();
        if paths_now + paths.len() > MAX_PATHS_PER_REQUEST
            || wildcards_now + wildcards > MAX_WILDCARDS_IN_PROGRESS
        {
            return Err(SendError::TooManyInProgress);
        }
        let (effect, completion) = if self.rng.f64() < self.pace.tail {
            let tail = self.draw(self.pace.tail_s);
            (tail, tail + Duration::from_secs(5))
        } else {
            let effect = self.draw(self.pace.effect_s);
            (effect, self.draw(self.pace.completion_s).max(effect))
        };
        self.references
            .insert(reference.to_owned(), self.made.len());
        self.made.push(Made {
            reference: reference.to_owned(),
            created: now,
            takes_effect: now + effect,
            completes: now + completion,
            paths: paths.to_vec(),
            checks: 0,
            announced: None,
        });
        Ok(Receipt {
            id: Some(format!("I{}", self.made.len() - 1)),
            status: Some("InProgress".into()),
            reused: false,
            created_at: None,
        })
    }

    fn index(invalidation_id: &str) -> usize {
        invalidation_id[1..]
            .parse()
            .expect("the model names its invalidations")
    }
}

#[derive(Clone)]
struct SimCloudFront(Arc<Mutex<CloudFrontModel>>);

impl Invalidator for SimCloudFront {
    async fn get_invalidation(
        &self,
        _destination: Destination<'_>,
        invalidation_id: &str,
    ) -> Result<Described, SendError> {
        tokio::time::sleep(CALL_LATENCY).await;
        let now = Instant::now();
        let mut model = self.0.lock().unwrap();
        let made = &mut model.made[CloudFrontModel::index(invalidation_id)];
        made.checks += 1;
        Ok(Described {
            progress: if now >= made.completes {
                Progress::Completed
            } else {
                Progress::InProgress
            },
            facts: Some(Facts {
                created_at: None,
                caller_reference: made.reference.clone(),
                paths: made.paths.len(),
            }),
        })
    }

    async fn create_invalidation(&self, invalidation: &Invalidation) -> Result<Receipt, SendError> {
        tokio::time::sleep(CALL_LATENCY).await;
        let now = Instant::now();
        self.0
            .lock()
            .unwrap()
            .create(&invalidation.caller_reference, &invalidation.paths, now)
    }
}

/// EventBridge: records when each invalidation's completion was first announced.
#[derive(Clone)]
struct SimBus(Arc<Mutex<CloudFrontModel>>);

impl Publisher for SimBus {
    async fn publish(&self, event: &CompletionEvent) -> Result<(), PublishError> {
        if event.kind == Kind::Completed {
            let now = Instant::now();
            let mut model = self.0.lock().unwrap();
            let made = &mut model.made[CloudFrontModel::index(&event.detail.invalidation_id)];
            made.announced.get_or_insert(now);
        }
        Ok(())
    }
}

/// One of the function's queues, as its deferrals and checks see it.
#[derive(Clone)]
struct SimQueue(Arc<Mutex<Queue>>);

impl WorkQueue for SimQueue {
    async fn send(&self, body: String, delay: Duration) -> Result<(), QueueError> {
        let visible_at = Instant::now() + delay;
        self.0.lock().unwrap().push(Body::Text(body), visible_at);
        Ok(())
    }
}

/// A notification as S3 writes it, for the `i`th object.
fn notification(i: usize, key: &str, uploaded_ms: u128) -> String {
    format!(
        r#"{{"Records":[{{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventTime":"{uploaded_ms}","eventName":"ObjectCreated:Put","responseElements":{{"x-amz-request-id":"REQ{i:012}"}},"s3":{{"bucket":{{"name":"site"}},"object":{{"key":"{key}","size":1024,"sequencer":"{i:016X}"}}}}}}]}}"#
    )
}

fn json_string(text: &str) -> String {
    serde_json::to_string(text).expect("strings serialise")
}

#[derive(Debug, Default, Clone, Serialize)]
struct Summary {
    name: String,
    mode: Option<Mode>,
    pace: &'static str,
    objects: usize,
    window_s: u64,
    effect_s: [f64; 2],
    completion_s: [f64; 2],
    invocations: usize,
    create_invalidation_calls: usize,
    billed_paths: usize,
    wildcards: usize,
    dead_lettered: usize,
    keys_uncovered: usize,
    /// From the last upload until the last key is fresh.
    time_to_fresh_s: f64,
    /// From each key's upload until it is fresh.
    fresh_p50_s: f64,
    fresh_p95_s: f64,
    fresh_max_s: f64,
    /// From CloudFront's completion to the `Invalidation Completed` event, per invalidation.
    completion_event_delay_p95_s: f64,
    completion_event_delay_max_s: f64,
    /// GetInvalidation calls per invalidation made.
    checks_per_invalidation: f64,
    invalidations: usize,
    /// Invalidations whose completion was never announced.
    unannounced: usize,
}

/// One row of the timeline: seconds since the first upload.
#[derive(Debug, Default, Clone, Copy)]
struct Sample {
    at_s: f64,
    queue_depth: usize,
    wildcards_in_progress: usize,
    paths_in_progress: usize,
    keys_stale: usize,
}

struct Run {
    summary: Summary,
    timeline: Vec<Sample>,
}

type SimHandler = Handler<SimCloudFront, SimQueue, SimBus>;

/// A queue that invokes the function, as an SQS event source mapping.
struct Mapping {
    arn: &'static str,
    queue: Arc<Mutex<Queue>>,
    batch_size: usize,
    window: Duration,
    concurrency: usize,
    running: AtomicUsize,
}

struct Sim {
    scenario: Scenario,
    start: Instant,
    keys: Vec<String>,
    mappings: Vec<Rc<Mapping>>,
    cloudfront: Arc<Mutex<CloudFrontModel>>,
    invocations: AtomicUsize,
    /// Direct mode: objects whose invocation failed three times, and those not yet done.
    direct_failed: AtomicUsize,
    direct_pending: AtomicUsize,
}

impl Sim {
    /// Seconds between two uploads.
    fn spacing(&self) -> f64 {
        self.scenario.upload.as_secs_f64() / self.scenario.objects.max(1) as f64
    }

    fn uploaded_at(&self, i: usize) -> Instant {
        self.start + Duration::from_secs_f64(self.spacing() * i as f64)
    }

    /// How many objects were uploaded by `at_s` seconds after the first.
    fn uploaded_by(&self, at_s: f64) -> usize {
        if at_s < 0.0 {
            return 0;
        }
        ((at_s / self.spacing()).floor() as usize + 1).min(self.scenario.objects)
    }

    fn finished(&self) -> bool {
        self.direct_pending.load(Ordering::SeqCst) == 0
            && self.mappings.iter().all(|m| {
                m.queue.lock().unwrap().messages.is_empty() && m.running.load(Ordering::SeqCst) == 0
            })
    }

    /// The Lambda event for a batch of messages, as the SQS poller builds it.
    fn sqs_event(&self, mapping: &Mapping, batch: &[u64]) -> Vec<u8> {
        let queue = mapping.queue.lock().unwrap();
        let mut event = String::with_capacity(batch.len() * 1400);
        event.push_str(r#"{"Records":["#);
        for (n, id) in batch.iter().enumerate() {
            let body = match &queue.messages[id].body {
                Body::Upload(i) => notification(
                    *i,
                    &self.keys[*i],
                    self.uploaded_at(*i).duration_since(self.start).as_millis(),
                ),
                Body::Text(text) => text.clone(),
            };
            if n > 0 {
                event.push(',');
            }
            let _ = write!(
                event,
                r#"{{"messageId":"m{id}","receiptHandle":"h{id}","body":{},"attributes":{{}},"messageAttributes":{{}},"md5OfBody":"","eventSource":"aws:sqs","eventSourceARN":"{}","awsRegion":"us-east-1"}}"#,
                json_string(&body),
                mapping.arn
            );
        }
        event.push_str("]}");
        event.into_bytes()
    }
}

/// The function's environment as the template sets it for the scenario: both modes defer to
/// and watch through the work queue.
fn config(scenario: &Scenario) -> Config {
    let budget = scenario.wildcard_budget.to_string();
    let mut vars = vec![
        ("DISTRIBUTION_ID", DISTRIBUTION),
        ("SOURCE_BUCKET", "site"),
        ("INDEX_DOCUMENT", "index.html"),
        ("METRICS", "false"),
        ("COMPLETION_EVENTS", "default"),
        ("DEFER_QUEUE_URL", WORK_QUEUE_URL),
        ("WATCH_QUEUE_URL", WORK_QUEUE_URL),
        ("WORK_QUEUE_ARN", WORK_QUEUE_ARN),
    ];
    if scenario.mode == Mode::Queued {
        vars.push(("WILDCARD_BUDGET", budget.as_str()));
    }
    Config::from_vars(&vars).expect("a valid configuration")
}

/// Lambda's SQS event source for one queue: while a unit of concurrency is free and messages
/// are visible, a batch opens and gathers for the batching window (or until full); the
/// visible messages are received ten at a time, each ten into one of the open batches, so
/// concurrent batches interleave. A batch that closes with messages invokes the function,
/// which deletes what succeeded.
async fn event_source(sim: Rc<Sim>, mapping: Rc<Mapping>, handler: Rc<SimHandler>) {
    struct Gathering {
        ids: Vec<u64>,
        bytes: usize,
        full: bool,
        window_ends: Instant,
    }
    let mut rng = fastrand::Rng::with_seed(13);
    let mut gathering: Vec<Gathering> = Vec::new();
    loop {
        if gathering.is_empty() && sim.finished() {
            return;
        }
        let now = Instant::now();
        {
            let mut queue = mapping.queue.lock().unwrap();
            queue.promote(now);
            let busy = mapping.running.load(Ordering::SeqCst) + gathering.len();
            if !queue.ready.is_empty() {
                for _ in busy..mapping.concurrency {
                    gathering.push(Gathering {
                        ids: Vec::new(),
                        bytes: 0,
                        full: false,
                        window_ends: now + mapping.window,
                    });
                }
            }
            while !queue.ready.is_empty() {
                let open: Vec<usize> = (0..gathering.len())
                    .filter(|&b| !gathering[b].full)
                    .collect();
                if open.is_empty() {
                    break;
                }
                let batch = &mut gathering[open[rng.usize(..open.len())]];
                for _ in 0..RECEIVE_CHUNK {
                    if batch.ids.len() >= mapping.batch_size {
                        batch.full = true;
                        break;
                    }
                    match queue.receive_one(batch.bytes, now) {
                        Some((id, size)) => {
                            batch.ids.push(id);
                            batch.bytes += size;
                        }
                        None if queue.ready.is_empty() => break,
                        None => {
                            batch.full = true;
                            break;
                        }
                    }
                }
                batch.full |= batch.ids.len() >= mapping.batch_size;
            }
        }
        let mut still = Vec::new();
        for batch in gathering.drain(..) {
            if !batch.full && now < batch.window_ends {
                still.push(batch);
            } else if !batch.ids.is_empty() {
                mapping.running.fetch_add(1, Ordering::SeqCst);
                tokio::task::spawn_local(invoke(
                    sim.clone(),
                    mapping.clone(),
                    handler.clone(),
                    batch.ids,
                ));
            }
        }
        gathering = still;
        tokio::time::sleep(POLL).await;
    }
}

async fn invoke(sim: Rc<Sim>, mapping: Rc<Mapping>, handler: Rc<SimHandler>, batch: Vec<u64>) {
    let event = sim.sqs_event(&mapping, &batch);
    sim.invocations.fetch_add(1, Ordering::SeqCst);
    let deadline = Instant::now() + FUNCTION_TIMEOUT - Duration::from_millis(500);
    let failed: Vec<String> = match handler.handle(&event, deadline).await {
        Ok(Answer::Sqs(response)) => response
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect(),
        _ => batch.iter().map(|id| format!("m{id}")).collect(),
    };
    let mut queue = mapping.queue.lock().unwrap();
    for id in &batch {
        if !failed.contains(&format!("m{id}")) {
            queue.delete(*id);
        }
    }
    drop(queue);
    mapping.running.fetch_sub(1, Ordering::SeqCst);
}

/// Direct mode: one asynchronous invocation per notification, retried twice by Lambda
/// (about one and two minutes later), then sent to the failure queue.
async fn direct_invocation(
    sim: Rc<Sim>,
    handler: Rc<SimHandler>,
    limit: Rc<tokio::sync::Semaphore>,
    i: usize,
) {
    tokio::time::sleep_until(sim.uploaded_at(i) + NOTIFICATION_DELAY).await;
    let event = notification(
        i,
        &sim.keys[i],
        sim.uploaded_at(i).duration_since(sim.start).as_millis(),
    );
    let mut succeeded = false;
    for retry_after in [0, 60, 120] {
        tokio::time::sleep(Duration::from_secs(retry_after)).await;
        let permit = limit.acquire().await.expect("never closed");
        sim.invocations.fetch_add(1, Ordering::SeqCst);
        let deadline = Instant::now() + FUNCTION_TIMEOUT - Duration::from_millis(500);
        let answer = handler.handle(event.as_bytes(), deadline).await;
        drop(permit);
        if answer.is_ok() {
            succeeded = true;
            break;
        }
    }
    if !succeeded {
        sim.direct_failed.fetch_add(1, Ordering::SeqCst);
    }
    sim.direct_pending.fetch_sub(1, Ordering::SeqCst);
}

async fn sampler(sim: Rc<Sim>, timeline: Rc<Mutex<Vec<Sample>>>) {
    loop {
        let now = Instant::now();
        let (paths, wildcards) = sim.cloudfront.lock().unwrap().in_progress(now);
        // Notifications of uploads still to come are held in the model, not yet in SQS.
        let not_yet_sent = match sim.scenario.mode {
            Mode::Queued => {
                let sent_by =
                    now.duration_since(sim.start).as_secs_f64() - NOTIFICATION_DELAY.as_secs_f64();
                sim.scenario.objects - sim.uploaded_by(sent_by)
            }
            Mode::Direct => 0,
        };
        let depth = sim.mappings[0]
            .queue
            .lock()
            .unwrap()
            .messages
            .len()
            .saturating_sub(not_yet_sent);
        timeline.lock().unwrap().push(Sample {
            at_s: now.duration_since(sim.start).as_secs_f64(),
            queue_depth: depth,
            wildcards_in_progress: wildcards,
            paths_in_progress: paths,
            keys_stale: 0,
        });
        if sim.finished() && now >= sim.start + sim.scenario.upload {
            return;
        }
        tokio::time::sleep(SAMPLE).await;
    }
}

/// When each key became fresh: the first time an invalidation created after its upload
/// takes effect on every spelling of its path; `None` if none covers one of them.
fn fresh_times(sim: &Sim, made: &[Made]) -> Vec<Option<Instant>> {
    let mut exact: HashMap<&str, Vec<&Made>> = HashMap::new();
    let mut wildcards: Vec<(&str, &Made)> = Vec::new();
    for m in made {
        for path in &m.paths {
            match path.strip_suffix('*') {
                Some(prefix) => wildcards.push((prefix, m)),
                None => exact.entry(path.as_str()).or_default().push(m),
            }
        }
    }
    (0..sim.keys.len())
        .map(|i| {
            let uploaded = sim.uploaded_at(i);
            let path = cloudfront_path(&format!("/{}", sim.keys[i])).expect("site keys are valid");
            spellings(path, true)
                .iter()
                .map(|path| {
                    let direct = exact.get(path.as_str()).into_iter().flatten().copied();
                    let covering = wildcards
                        .iter()
                        .filter(|(prefix, _)| path.starts_with(prefix))
                        .map(|(_, m)| *m);
                    direct
                        .chain(covering)
                        .filter(|m| m.created >= uploaded)
                        .map(|m| m.takes_effect)
                        .min()
                })
                .try_fold(None::<Instant>, |latest, fresh| {
                    fresh.map(|at| Some(latest.map_or(at, |l| l.max(at))))
                })
                .flatten()
        })
        .collect()
}

/// The `q` quantile (0 to 1) of sorted `values`, nearest rank; 0 for none.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn tenth(seconds: f64) -> f64 {
    (seconds * 10.0).round() / 10.0
}

async fn simulate(scenario: Scenario) -> Run {
    fastrand::seed(7);
    let start = Instant::now();
    let keys: Vec<String> = (0..scenario.objects)
        .map(|i| scenario.keys.key(i, scenario.objects))
        .collect();
    let mapping = |arn, batch_size, window, concurrency| {
        Rc::new(Mapping {
            arn,
            queue: Arc::default(),
            batch_size,
            window,
            concurrency,
            running: AtomicUsize::new(0),
        })
    };
    let work = mapping(WORK_QUEUE_ARN, WORK_BATCH, Duration::ZERO, WORK_CONCURRENCY);
    let buffer = mapping(
        BUFFER_QUEUE_ARN,
        scenario.batch_size,
        scenario.window,
        scenario.concurrency,
    );
    let cloudfront = Arc::new(Mutex::new(CloudFrontModel {
        pace: scenario.pace,
        rng: fastrand::Rng::with_seed(11),
        made: Vec::new(),
        references: HashMap::new(),
        tokens: scenario.burst,
        refilled: start,
        rate: scenario.rate,
        burst: scenario.burst,
        calls: 0,
    }));
    let handler = Rc::new(Handler {
        config: config(&scenario),
        invalidator: SimCloudFront(cloudfront.clone()),
        backoff: Backoff::default(),
        metrics: None,
        queue: Some(SimQueue(work.queue.clone())),
        watching: Some(Watching {
            queue: SimQueue(work.queue.clone()),
            publisher: SimBus(cloudfront.clone()),
        }),
    });
    // The first is the queue the timeline samples.
    let mappings = match scenario.mode {
        Mode::Queued => vec![buffer.clone(), work.clone()],
        Mode::Direct => vec![work.clone()],
    };
    let sim = Rc::new(Sim {
        start,
        keys,
        mappings,
        cloudfront: cloudfront.clone(),
        invocations: AtomicUsize::new(0),
        direct_failed: AtomicUsize::new(0),
        direct_pending: AtomicUsize::new(match scenario.mode {
            Mode::Queued => 0,
            Mode::Direct => scenario.objects,
        }),
        scenario: scenario.clone(),
    });
    let timeline = Rc::new(Mutex::new(Vec::new()));
    let mut tasks = vec![tokio::task::spawn_local(sampler(
        sim.clone(),
        timeline.clone(),
    ))];
    if scenario.mode == Mode::Queued {
        let mut queue = buffer.queue.lock().unwrap();
        for i in 0..scenario.objects {
            queue.push(Body::Upload(i), sim.uploaded_at(i) + NOTIFICATION_DELAY);
        }
    } else {
        // Lambda's default account concurrency.
        let limit = Rc::new(tokio::sync::Semaphore::new(1000));
        for i in 0..scenario.objects {
            tasks.push(tokio::task::spawn_local(direct_invocation(
                sim.clone(),
                handler.clone(),
                limit.clone(),
                i,
            )));
        }
    }
    for mapping in &sim.mappings {
        tasks.push(tokio::task::spawn_local(event_source(
            sim.clone(),
            mapping.clone(),
            handler.clone(),
        )));
    }
    for task in tasks {
        task.await.expect("simulation tasks do not panic");
    }
    summarise(&sim, &timeline.lock().unwrap())
}

fn summarise(sim: &Sim, timeline: &[Sample]) -> Run {
    let scenario = &sim.scenario;
    let start = sim.start;
    let cloudfront = sim.cloudfront.lock().unwrap();
    let fresh = fresh_times(sim, &cloudfront.made);
    let last_upload = sim.uploaded_at(scenario.objects.saturating_sub(1));
    let uncovered = fresh.iter().filter(|f| f.is_none()).count();
    let freshest = fresh.iter().flatten().max().copied().unwrap_or(last_upload);
    let mut fresh_after: Vec<f64> = fresh
        .iter()
        .enumerate()
        .filter_map(|(i, f)| Some(f.as_ref()?.duration_since(sim.uploaded_at(i)).as_secs_f64()))
        .collect();
    fresh_after.sort_by(f64::total_cmp);
    let mut fresh_at: Vec<f64> = fresh
        .iter()
        .map(|f| f.map_or(f64::INFINITY, |at| at.duration_since(start).as_secs_f64()))
        .collect();
    fresh_at.sort_by(f64::total_cmp);
    let mut timeline = timeline.to_vec();
    for sample in &mut timeline {
        let uploaded = sim.uploaded_by(sample.at_s);
        let fresh_by_then = fresh_at.partition_point(|&at| at <= sample.at_s);
        sample.keys_stale = uploaded.saturating_sub(fresh_by_then);
    }
    let mut event_delays: Vec<f64> = cloudfront
        .made
        .iter()
        .filter_map(|m| Some(m.announced?.duration_since(m.completes).as_secs_f64()))
        .collect();
    event_delays.sort_by(f64::total_cmp);
    let made = cloudfront.made.len();
    let checks: u32 = cloudfront.made.iter().map(|m| m.checks).sum();
    let dead_lettered = sim
        .mappings
        .iter()
        .map(|m| m.queue.lock().unwrap().dead_lettered)
        .sum::<usize>()
        + sim.direct_failed.load(Ordering::SeqCst);
    let summary = Summary {
        name: scenario.name.clone(),
        mode: Some(scenario.mode),
        pace: scenario.pace.name,
        objects: scenario.objects,
        window_s: scenario.window.as_secs(),
        effect_s: [scenario.pace.effect_s.0, scenario.pace.effect_s.1],
        completion_s: [scenario.pace.completion_s.0, scenario.pace.completion_s.1],
        invocations: sim.invocations.load(Ordering::SeqCst),
        create_invalidation_calls: cloudfront.calls,
        billed_paths: cloudfront.made.iter().map(|m| m.paths.len()).sum(),
        wildcards: cloudfront
            .made
            .iter()
            .flat_map(|m| &m.paths)
            .filter(|p| p.ends_with('*'))
            .count(),
        dead_lettered,
        keys_uncovered: uncovered,
        time_to_fresh_s: tenth(
            freshest
                .saturating_duration_since(last_upload)
                .as_secs_f64(),
        ),
        fresh_p50_s: tenth(quantile(&fresh_after, 0.5)),
        fresh_p95_s: tenth(quantile(&fresh_after, 0.95)),
        fresh_max_s: tenth(quantile(&fresh_after, 1.0)),
        completion_event_delay_p95_s: tenth(quantile(&event_delays, 0.95)),
        completion_event_delay_max_s: tenth(quantile(&event_delays, 1.0)),
        checks_per_invalidation: if made == 0 {
            0.0
        } else {
            (f64::from(checks) / made as f64 * 100.0).round() / 100.0
        },
        invalidations: made,
        unannounced: made - event_delays.len(),
    };
    Run { summary, timeline }
}

/// Runs a scenario on a paused clock of its own.
fn run(scenario: Scenario) -> Run {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a runtime")
        // Local tasks: the handler's futures need not be `Send` on one thread.
        .block_on(tokio::task::LocalSet::new().run_until(simulate(scenario)))
}

fn table(runs: &[Run]) -> String {
    let mut out = String::from(
        "| scenario | invocations | CreateInvalidation calls | billed paths | dead-lettered | keys uncovered | fresh after last upload | fresh p50 / p95 / max | completion event p95 | checks per invalidation |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for run in runs {
        let s = &run.summary;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {:.0} s | {:.0} / {:.0} / {:.0} s | {:.0} s | {:.2} |",
            s.name,
            s.invocations,
            s.create_invalidation_calls,
            s.billed_paths,
            s.dead_lettered,
            s.keys_uncovered,
            s.time_to_fresh_s,
            s.fresh_p50_s,
            s.fresh_p95_s,
            s.fresh_max_s,
            s.completion_event_delay_p95_s,
            s.checks_per_invalidation,
        );
    }
    out
}

fn file_name(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

fn write_outputs(runs: &[Run], frontier: &[Run]) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/target/simulate");
    std::fs::create_dir_all(dir).expect("target/simulate can be created");
    let summaries = |runs: &[Run]| runs.iter().map(|r| r.summary.clone()).collect::<Vec<_>>();
    std::fs::write(
        format!("{dir}/summary.json"),
        serde_json::to_string_pretty(&serde_json::json!({
            "scenarios": summaries(runs),
            "frontier": summaries(frontier),
        }))
        .expect("summaries serialise"),
    )
    .expect("summary written");
    for run in runs {
        let mut csv =
            String::from("at_s,queue_depth,wildcards_in_progress,paths_in_progress,keys_stale\n");
        for s in &run.timeline {
            let _ = writeln!(
                csv,
                "{},{},{},{},{}",
                s.at_s, s.queue_depth, s.wildcards_in_progress, s.paths_in_progress, s.keys_stale
            );
        }
        std::fs::write(format!("{dir}/{}.csv", file_name(&run.summary.name)), csv)
            .expect("timeline written");
    }
    std::fs::write(format!("{dir}/table.md"), table(runs)).expect("table written");
    std::fs::write(format!("{dir}/frontier.md"), table(frontier)).expect("table written");
}

fn deploy_4000() -> Scenario {
    Scenario::queued(
        "4,000-object deploy over 10 s, 20 sections",
        4000,
        Duration::from_secs(10),
        Keys::Sections(20),
    )
}

fn single_uploads() -> Scenario {
    Scenario::queued(
        "single uploads every 5 s",
        240,
        Duration::from_secs(1200),
        Keys::Folders,
    )
}

fn trickle() -> Scenario {
    Scenario::queued(
        "1 object/s for an hour",
        3600,
        Duration::from_secs(3600),
        Keys::Site,
    )
}

fn million() -> Scenario {
    Scenario::queued(
        "1,000,000 objects over 10 min",
        1_000_000,
        Duration::from_secs(600),
        Keys::Site,
    )
}

fn direct_burst() -> Scenario {
    Scenario {
        mode: Mode::Direct,
        ..Scenario::queued(
            "10,000-object burst, Direct",
            10_000,
            Duration::from_secs(60),
            Keys::Site,
        )
    }
}

/// The scenarios of `make simulate`, at today's pace, then at the legacy pace and with the
/// long tail.
fn scenarios() -> Vec<Scenario> {
    let today = [
        deploy_4000(),
        single_uploads(),
        trickle(),
        million(),
        direct_burst(),
    ];
    let mut all: Vec<Scenario> = today.iter().map(|s| s.at(TODAY)).collect();
    for pace in [LEGACY, LONG_TAIL] {
        all.extend(today.iter().map(|s| s.at(pace)));
    }
    all
}

/// Batching windows the frontier is drawn over.
const FRONTIER_WINDOWS: [u64; 6] = [1, 3, 5, 10, 20, 30];

fn assert_converged(summary: &Summary) {
    assert_eq!(summary.dead_lettered, 0, "{summary:?}");
    assert_eq!(summary.keys_uncovered, 0, "{summary:?}");
}

#[test]
fn a_deploy_at_cloudfronts_pace_converges_with_nothing_dead_lettered() {
    let run = run(Scenario::queued(
        "20,000-object deploy",
        20_000,
        Duration::from_secs(60),
        Keys::Site,
    )
    .at(LEGACY));
    println!("{}", table(std::slice::from_ref(&run)));
    assert_converged(&run.summary);
    assert!(run.summary.billed_paths < 100, "{:?}", run.summary);
    assert!(run.summary.time_to_fresh_s <= 900.0, "{:?}", run.summary);
}

/// Only the scenarios whose name contains one of the `|`-separated parts of `SIMULATE_ONLY`,
/// when set: to look at a few while tuning, without writing the outputs.
#[test]
#[ignore = "minutes in an optimised build: make simulate"]
fn every_scenario() {
    let only = std::env::var("SIMULATE_ONLY").ok();
    let chosen = |s: &Scenario| {
        only.as_ref()
            .is_none_or(|only| only.split('|').any(|part| s.name.contains(part)))
    };
    let runs: Vec<Run> = scenarios().into_iter().filter(chosen).map(run).collect();
    println!("{}", table(&runs));
    let frontier: Vec<Run> = [trickle(), million()]
        .iter()
        .flat_map(|s| FRONTIER_WINDOWS.map(|w| s.at(TODAY).with_window(w)))
        .filter(|s| only.is_none() || chosen(s))
        .map(run)
        .collect();
    println!("{}", table(&frontier));
    if only.is_none() {
        write_outputs(&runs, &frontier);
    }
    for run in &runs {
        assert_converged(&run.summary);
    }
}
