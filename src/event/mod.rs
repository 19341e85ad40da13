//! Decodes every shape an S3 change arrives in into a flat list of changes.
//!
//! Shapes: a direct S3 notification, an SQS batch of S3 notifications (also wrapped in an
//! SNS envelope, or EventBridge events), an SNS notification, an EventBridge `aws.s3` event,
//! the `s3:TestEvent`, and the function's own work messages ([`work`]: deferred paths become
//! changes, completion checks become [`Watched`]). The payload is deserialised once, in one
//! pass: each element of a `Records` array is read into lean types that borrow from the
//! payload and name only the fields used (missing unused fields are fine), decoded into
//! changes and dropped before the next is read, so no tree of the payload is ever built. A
//! field of the wrong type costs only its own record, which is reported with its label and
//! reason and never hides the good records next to it. One module per event source: a new
//! source adds its fields to `Record` or `Fields` and a module of its own.
//!
//! `aws_lambda_events`' types are not used for input: they own every string (a second copy
//! of a 6 MB batch), and they require fields that other S3 emitters leave out.

mod eventbridge;
mod s3;
mod sns;
mod sqs;
pub mod work;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::config::WorkQueueId;
use crate::path::{KeyError, abbreviate, shorten};

/// What happened to the object; both kinds invalidate its paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChangeKind {
    /// Created or overwritten (`ObjectCreated:*`).
    Created,
    /// Deleted, or expired (`ObjectRemoved:*`, `LifecycleExpiration:*`).
    Removed,
}

/// The SHA-256 of what identifies one change, hashed as it is read (no string is built).
pub type Identity = [u8; 32];

/// One object that changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub bucket: String,
    /// The decoded key, exactly as the object is named in S3.
    pub key: String,
    pub kind: ChangeKind,
    /// What tells this S3 change apart from every other: a digest of the change itself
    /// (sequencer, request id, version, eTag, time), so a duplicate S3 sends through another
    /// envelope has the same identity; envelope ids only when the record carries none.
    pub identity: Identity,
    /// Where the change sits in the event, for messages to the operator.
    pub record: String,
    /// Index into [`Decoded::sqs_message_ids`] for SQS input.
    pub message_index: Option<usize>,
    /// A second reading of a key whose encoding AWS does not document (EventBridge): sent
    /// when it routes and encodes, but never a reason to skip or fail the record.
    pub second_reading: bool,
    /// Paths an earlier invocation planned and deferred: not routed again. Bucket and key
    /// are empty then. Boxed: rare, and inline it would add 80 bytes to every change.
    pub routed: Option<Box<Routed>>,
    /// Which source delivered the record.
    pub source: Source,
}

/// Which source delivered a record, as the payload shows it. What trust is decided on
/// ([`Decoded::provenance`]): only Lambda sets an SQS message's `eventSourceARN`, while a
/// queue's writers choose its body and an SNS publisher or an EventBridge rule (whose
/// constant `Input` can be any JSON) its message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Source {
    /// The invocation's own payload: a direct invoke, an S3 trigger, an EventBridge target.
    #[default]
    Invoke,
    /// An SQS message: which queue Lambda read it from, as an index into
    /// [`Decoded::queues`], or `None` when the message names none.
    Queue(Option<u32>),
    /// Inside an SNS notification, whatever delivered that.
    Sns,
}

/// Where a record came from, judged against the function's own work queue: the one notion
/// every trust rule is built on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provenance<'a> {
    /// An SQS message Lambda delivered from the function's own work queue, which only the
    /// function's role may write to.
    WorkQueue,
    /// An SQS message of another queue (the notification queue), by its ARN if it has one.
    OtherQueue(Option<&'a str>),
    /// The invocation's own payload.
    Invoke,
    /// Inside an SNS notification.
    Sns,
}

impl Provenance<'_> {
    /// Whether a work message (deferred paths, a completion check) may come from here: only
    /// the function writes to its work queue.
    pub fn carries_work(self) -> bool {
        self == Provenance::WorkQueue
    }
}

impl fmt::Display for Provenance<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Provenance::WorkQueue => f.write_str("the work queue"),
            Provenance::OtherQueue(Some(arn)) => write!(f, "queue {}", abbreviate(arn)),
            Provenance::OtherQueue(None) => f.write_str("an SQS message naming no queue"),
            Provenance::Invoke => f.write_str("a direct invocation"),
            Provenance::Sns => f.write_str("an SNS notification"),
        }
    }
}

/// A completion check read from the function's queue: not an object change, so it is acted on
/// apart from the plan, and a failed check fails only its own message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watched {
    pub watch: work::Watch,
    /// Where the check sits in the event, for messages to the operator.
    pub record: String,
    /// Index into [`Decoded::sqs_message_ids`] for SQS input.
    pub message_index: Option<usize>,
    /// Which source delivered the check.
    pub source: Source,
}

/// Paths already planned for a distribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    pub distribution_id: String,
    /// The tenant of a multi-tenant distribution, when the paths are for one.
    pub tenant_id: Option<String>,
    pub paths: Vec<String>,
    /// How many times they have been deferred.
    pub deferrals: u32,
}

/// Why a record is left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The `s3:TestEvent` S3 sends when notifications are configured.
    TestEvent,
    /// An event that changes no content (`ObjectRestore:*`, `ObjectTagging:*`, ...).
    NoContentChange { event: String },
    /// No route covers the object: configuration leaves it out on purpose.
    Unrouted { bucket: String, key: String },
    /// The key matches a `SKIP_KEYS` pattern (an immutable asset, a source map, ...).
    SkippedByPattern { key: String, pattern: String },
    /// The key cannot become a CloudFront path.
    Key(KeyError),
    /// A field invalidation needs is missing.
    Missing(&'static str),
    /// A record that is not one of the shapes the function reads.
    NotARecord,
    /// A work message of this function's own that cannot be trusted.
    InvalidWork(String),
    /// A work message from somewhere other than the function's own work queue.
    UntrustedWork { from: String },
    /// A key whose only cover is `/*`, the whole distribution, while that is not allowed.
    RootWildcard { key: String },
    /// Work (deferred paths, a completion check) for a distribution the configuration no
    /// longer names.
    UnknownDistribution(String),
    /// A completion check while completion events are off.
    CompletionEventsOff,
    /// A completion check, which only the running function makes (it needs CloudFront's
    /// answer): what `plan` says of one.
    CompletionCheck { invalidation_id: String },
    /// Readable JSON of another shape.
    Unrecognised { what: &'static str, found: String },
    /// JSON that is broken, or has a field of the wrong type.
    Malformed { what: &'static str, error: String },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::TestEvent => f.write_str(
                "test event sent when a notification is configured: nothing to invalidate",
            ),
            Reason::NoContentChange { event } => {
                write!(f, "event {event} does not change content")
            }
            Reason::Unrouted { bucket, key } => write!(
                f,
                "no route covers s3://{}/{} (check SOURCE_BUCKET, KEY_PREFIX or ROUTES)",
                abbreviate(bucket),
                abbreviate(key)
            ),
            Reason::SkippedByPattern { key, pattern } => {
                write!(
                    f,
                    "key {:?} matches SKIP_KEYS pattern {pattern:?}: not invalidated",
                    abbreviate(key)
                )
            }
            Reason::Key(KeyError::Empty) => f.write_str("object key is empty"),
            Reason::Key(error) => error.fmt(f),
            Reason::Missing(what) => f.write_str(what),
            Reason::NotARecord => f.write_str("not an S3 or SNS record (no s3 field)"),
            Reason::InvalidWork(problem) => write!(f, "work message is invalid: {problem}"),
            Reason::UntrustedWork { from } => write!(
                f,
                "work message refused: it came from {from}, and the function reads its own messages only from its work queue (WORK_QUEUE_ARN)"
            ),
            Reason::RootWildcard { key } => write!(
                f,
                "key {:?} can only be invalidated as /*, the whole distribution: set WILDCARD_ALLOW_ROOT=true to allow that, or rename the object",
                abbreviate(key)
            ),
            Reason::UnknownDistribution(id) => write!(
                f,
                "work for distribution {id}, which the configuration no longer names: dropped"
            ),
            Reason::CompletionEventsOff => {
                f.write_str("completion check while COMPLETION_EVENTS is off: dropped")
            }
            Reason::CompletionCheck { invalidation_id } => write!(
                f,
                "completion check of invalidation {invalidation_id}: made when the function runs, not planned"
            ),
            Reason::Unrecognised { what, found } => {
                write!(f, "{what}: {}", shorten(found, MAX_PROBLEM_CHARS))
            }
            Reason::Malformed { what, error } => {
                write!(f, "{what}: {}", shorten(error, MAX_PROBLEM_CHARS))
            }
        }
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A record left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub record: String,
    pub reason: Reason,
    #[serde(skip)]
    pub message_index: Option<usize>,
}

/// Everything read from one payload.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Decoded {
    pub changes: Vec<Change>,
    /// Completion checks of invalidations this function made.
    pub watches: Vec<Watched>,
    /// Records that are fine but change nothing (test events, other event names).
    pub skipped: Vec<Skipped>,
    /// Records that cannot be read: the input is wrong, and the operator should know.
    pub rejected: Vec<Skipped>,
    /// Message ids of an SQS batch, in delivery order; `None` for other shapes.
    pub sqs_message_ids: Option<Vec<String>>,
    /// The queues SQS messages came from (their `eventSourceARN`), as [`Source::Queue`]
    /// indexes them: one for a batch Lambda delivered.
    pub queues: Vec<String>,
}

impl Decoded {
    /// Where a record delivered by `source` came from, judged against `work_queue`.
    pub fn provenance(&self, source: Source, work_queue: Option<&WorkQueueId>) -> Provenance<'_> {
        match source {
            Source::Invoke => Provenance::Invoke,
            Source::Sns => Provenance::Sns,
            Source::Queue(None) => Provenance::OtherQueue(None),
            Source::Queue(Some(index)) => {
                let arn = self.queues[index as usize].as_str();
                if work_queue.is_some_and(|queue| queue.is(arn)) {
                    Provenance::WorkQueue
                } else {
                    Provenance::OtherQueue(Some(arn))
                }
            }
        }
    }

    /// The index in [`Decoded::queues`] of `arn`: the last one seen, or a new one (a batch
    /// Lambda delivered names one queue; a forged one costs no search).
    fn queue_index(&mut self, arn: &str) -> u32 {
        if self.queues.last().is_none_or(|last| last != arn) {
            self.queues.push(arn.to_owned());
        }
        (self.queues.len() - 1) as u32
    }
}

/// A payload that cannot be read at all: the whole invocation fails with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// Not JSON, with the parser's message.
    #[error("event is not JSON: {0}")]
    NotJson(String),
    #[error(
        "event is not an S3 change: expected Records[] of S3, SQS or SNS records, an EventBridge event from aws.s3, or s3:TestEvent; got {0}"
    )]
    /// JSON of no shape the function reads, described without its content.
    Unrecognised(String),
}

/// A string field read leniently: another JSON type does not fail the record around it, so
/// records are read in the same pass as the array that holds them, and a bad field costs
/// only its own record.
#[derive(Debug, Default)]
enum Text<'a> {
    #[default]
    Missing,
    Str(Cow<'a, str>),
    /// Present but not a string.
    Wrong,
}

impl<'a> Text<'a> {
    fn as_deref(&self) -> Option<&str> {
        match self {
            Text::Str(text) => Some(text),
            Text::Missing | Text::Wrong => None,
        }
    }

    fn is_some(&self) -> bool {
        matches!(self, Text::Str(_))
    }

    fn is_wrong(&self) -> bool {
        matches!(self, Text::Wrong)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Lenient<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Lenient<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Text<'a>, E> {
                Ok(Text::Str(Cow::Owned(v)))
            }
            fn visit_unit<E>(self) -> Result<Text<'a>, E> {
                Ok(Text::Missing)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Text<'a>, E> {
                Ok(Text::Wrong)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Text<'a>, E> {
                Ok(Text::Wrong)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Text<'a>, E> {
                Ok(Text::Wrong)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Text<'a>, E> {
                Ok(Text::Wrong)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Text<'a>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Text::Wrong)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Text<'a>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Text::Wrong)
            }
        }
        deserializer.deserialize_any(Lenient(std::marker::PhantomData))
    }
}

/// An object field read leniently, like [`Text`]: read in place (never kept raw and parsed
/// again), and another JSON type costs only the record around it.
#[derive(Debug, Default)]
enum Part<T> {
    #[default]
    Missing,
    Object(T),
    /// Present but not an object.
    Wrong,
}

impl<T> Part<T> {
    fn as_ref(&self) -> Option<&T> {
        match self {
            Part::Object(part) => Some(part),
            Part::Missing | Part::Wrong => None,
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Part<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Lenient<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Lenient<T> {
            type Value = Part<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Part<T>, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Part::Object)
            }
            fn visit_unit<E>(self) -> Result<Part<T>, E> {
                Ok(Part::Missing)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Part<T>, E> {
                Ok(Part::Wrong)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Part<T>, E> {
                Ok(Part::Wrong)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Part<T>, E> {
                Ok(Part::Wrong)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Part<T>, E> {
                Ok(Part::Wrong)
            }
            fn visit_str<E>(self, _: &str) -> Result<Part<T>, E> {
                Ok(Part::Wrong)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Part<T>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Part::Wrong)
            }
        }
        deserializer.deserialize_any(Lenient(std::marker::PhantomData))
    }
}

/// An element of a `Records` array: a record, or something that is not even an object.
type Item<'a> = Part<Record<'a>>;

/// Which envelope field held an embedded payload.
#[derive(Clone, Copy)]
enum Container {
    Body,
    Message,
}

/// Longest problem quoted from a parser: its messages quote what they read.
pub(crate) const MAX_PROBLEM_CHARS: usize = 300;

/// Longest record label: room for an SQS message id, an SNS one and an abbreviated key.
const MAX_LABEL_CHARS: usize = 400;

/// Nesting allowed between envelopes (SQS around SNS around S3 is two).
const MAX_DEPTH: usize = 3;

/// Every top-level field of the shapes a payload (or an SQS body, or an SNS message) can
/// have besides `Records`, which is decoded as it is read; which are present says which
/// shape it is.
#[derive(Default)]
struct Fields<'a> {
    /// A `Records` array was read (and its records decoded).
    records: bool,
    /// `s3:TestEvent`.
    test_event: Text<'a>,
    // An SNS notification ([`sns`]).
    sns_type: Text<'a>,
    sns_message_id: Text<'a>,
    sns_message: Text<'a>,
    // An EventBridge event ([`eventbridge`]).
    source: Text<'a>,
    detail_type: Text<'a>,
    id: Text<'a>,
    time: Option<&'a RawValue>,
    detail: Option<&'a RawValue>,
    // This function's own work message ([`work`]).
    s3cfi_work: Option<u32>,
    deferred: Option<&'a RawValue>,
    watch: Option<&'a RawValue>,
}

/// Every field of the records a `Records` array can hold (SQS messages, SNS records, S3
/// records), read with the array that holds them. (A field duplicated within a record, its
/// `s3` part included, fails the payload that holds it: the event, or that SQS message's
/// body. serde's derive allows no exception, and AWS never writes one.)
#[derive(Deserialize)]
struct Record<'a> {
    // An SQS message ([`sqs`]).
    #[serde(default, rename = "eventSource", borrow)]
    event_source: Text<'a>,
    #[serde(default, rename = "messageId", borrow)]
    message_id: Text<'a>,
    #[serde(default, rename = "eventSourceARN", borrow)]
    event_source_arn: Text<'a>,
    #[serde(default, borrow)]
    body: Text<'a>,
    // An SNS record ([`sns`]).
    #[serde(default, rename = "EventSource", borrow)]
    sns_event_source: Text<'a>,
    #[serde(default, rename = "Sns", borrow)]
    sns: Option<&'a RawValue>,
    // An S3 notification record ([`s3`]).
    #[serde(default, rename = "eventName", borrow)]
    event_name: Text<'a>,
    #[serde(default, rename = "eventTime", borrow)]
    event_time: Text<'a>,
    #[serde(default, rename = "responseElements", borrow)]
    response_elements: Part<s3::ResponseElements<'a>>,
    #[serde(default, borrow)]
    s3: Part<s3::Entity<'a>>,
}

/// The top-level fields a payload is read by.
const FIELDS: [&str; 13] = [
    "Records",
    "Event",
    "Type",
    "MessageId",
    "Message",
    "source",
    "detail-type",
    "id",
    "time",
    "detail",
    "s3cfi_work",
    "deferred",
    "watch",
];

/// Reads one payload's fields, decoding the records of its `Records` array as they are read.
struct PayloadSeed<'d, 's> {
    decoded: &'d mut Decoded,
    scope: &'s Scope<'s>,
}

impl<'de> DeserializeSeed<'de> for PayloadSeed<'_, '_> {
    type Value = Fields<'de>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Fields<'de>, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PayloadSeed<'_, '_> {
    type Value = Fields<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields<'de>, A::Error> {
        let mut fields = Fields::default();
        // A field given twice is refused, never read one way or the other: AWS never writes
        // one, and a reader that kept the first or the last could be made to see nothing.
        let mut seen: Vec<&'static str> = Vec::new();
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if let Some(&known) = FIELDS.iter().find(|&&name| name == key.as_ref()) {
                if seen.contains(&known) {
                    return Err(serde::de::Error::duplicate_field(known));
                }
                seen.push(known);
            }
            match key.as_ref() {
                "Records" => {
                    fields.records = true;
                    map.next_value_seed(RecordsSeed {
                        decoded: &mut *self.decoded,
                        scope: self.scope,
                    })?;
                }
                "Event" => fields.test_event = map.next_value()?,
                "Type" => fields.sns_type = map.next_value()?,
                "MessageId" => fields.sns_message_id = map.next_value()?,
                "Message" => fields.sns_message = map.next_value()?,
                "source" => fields.source = map.next_value()?,
                "detail-type" => fields.detail_type = map.next_value()?,
                "id" => fields.id = map.next_value()?,
                "time" => fields.time = map.next_value()?,
                "detail" => fields.detail = map.next_value()?,
                "s3cfi_work" => fields.s3cfi_work = map.next_value()?,
                "deferred" => fields.deferred = map.next_value()?,
                "watch" => fields.watch = map.next_value()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(fields)
    }
}

/// Decodes the elements of a `Records` array one by one as they are read.
struct RecordsSeed<'d, 's> {
    decoded: &'d mut Decoded,
    scope: &'s Scope<'s>,
}

impl<'de> DeserializeSeed<'de> for RecordsSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RecordsSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of records")
    }
    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        // Only the Lambda event itself is an SQS batch; its first object says whether it is.
        // The elements before that are not even objects; they wait for the answer: in an SQS
        // batch they are failed messages, elsewhere records of no known shape.
        let mut batch = if self.scope.depth == 0 {
            Batch::Undecided
        } else {
            Batch::Records
        };
        let mut index = 0;
        while let Some(item) = seq.next_element::<Item>()? {
            if let Batch::Undecided = batch {
                let Part::Object(record) = &item else {
                    index += 1;
                    continue;
                };
                batch = self.decide(record.event_source.as_deref() == Some("aws:sqs"), index);
            }
            match &mut batch {
                Batch::Sqs(ids) => sqs::decode_message(self.decoded, item, index, ids),
                _ => self.decoded.record(item, index, self.scope),
            }
            index += 1;
        }
        match batch {
            Batch::Undecided => {
                self.decide(false, index);
            }
            Batch::Sqs(ids) => self.decoded.sqs_message_ids = Some(ids),
            Batch::Records => {}
        }
        Ok(())
    }
}

impl RecordsSeed<'_, '_> {
    /// What the array is, now that it is known, with its first `not_objects` elements (none
    /// of them an object) decoded as that.
    fn decide(&mut self, sqs: bool, not_objects: usize) -> Batch {
        if sqs {
            let mut ids = Vec::new();
            for index in 0..not_objects {
                sqs::decode_message(self.decoded, Part::Wrong, index, &mut ids);
            }
            Batch::Sqs(ids)
        } else {
            for index in 0..not_objects {
                self.decoded.record(Part::Wrong, index, self.scope);
            }
            Batch::Records
        }
    }
}

/// What a `Records` array holds, as far as read.
enum Batch {
    /// No object read yet: all elements so far are not objects.
    Undecided,
    /// SQS messages, with the ids of those read so far.
    Sqs(Vec<String>),
    /// S3 or SNS records.
    Records,
}

/// Parses raw bytes: the Lambda payload, or a file for the `plan` command.
pub fn decode(raw: &[u8]) -> Result<Decoded, EventError> {
    let mut decoded = Decoded::default();
    let root = Scope::default();
    // Validated as UTF-8 once, as JSON must be, rather than string by string as it is read.
    let text = std::str::from_utf8(raw).map_err(|e| EventError::NotJson(e.to_string()))?;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let fields = PayloadSeed {
        decoded: &mut decoded,
        scope: &root,
    }
    .deserialize(&mut deserializer)
    .and_then(|fields| deserializer.end().map(|()| fields))
    .map_err(|e| match e.classify() {
        serde_json::error::Category::Data if e.to_string().starts_with("duplicate field") => {
            EventError::Unrecognised(format!("{}, refused: {e}", describe(raw)))
        }
        serde_json::error::Category::Data => EventError::Unrecognised(describe(raw)),
        _ => EventError::NotJson(e.to_string()),
    })?;
    if decoded.decode_fields(&fields, &root) {
        Ok(decoded)
    } else {
        Err(EventError::Unrecognised(describe(raw)))
    }
}

/// A short description of an unrecognised payload, without echoing its content.
fn describe(raw: &[u8]) -> String {
    if let Ok(map) = serde_json::from_slice::<BTreeMap<Cow<str>, IgnoredAny>>(raw) {
        let keys: Vec<&str> = map.keys().take(6).map(|k| k.as_ref()).collect();
        return format!("an object with keys {keys:?}");
    }
    match raw.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => "an array".into(),
        Some(b'"') => "a string".into(),
        Some(b't' | b'f') => "a boolean".into(),
        Some(b'n') => "null".into(),
        _ => "a number".into(),
    }
}

/// Where in the event the decoder is: the envelopes around the payload being read, each
/// pointing to the one outside it. Labels and identities are written out only for what is
/// kept, so reading a message costs no strings.
#[derive(Default)]
struct Scope<'s> {
    outer: Option<&'s Scope<'s>>,
    envelope: Option<Envelope<'s>>,
    message_index: Option<usize>,
    depth: usize,
    /// Which source delivered the payload: an envelope's own.
    source: Source,
}

/// An SQS message or SNS notification around a payload.
struct Envelope<'s> {
    /// Written before the id in labels: "message", "sns", "Records[2] sns".
    label: &'s str,
    /// Names the channel in identities: "sqs", "sns".
    channel: &'static str,
    id: &'s str,
}

impl<'s> Scope<'s> {
    /// The scope of a payload inside `envelope`, delivered by `source`, within this one.
    fn nested(
        &'s self,
        envelope: Envelope<'s>,
        message_index: Option<usize>,
        source: Source,
    ) -> Scope<'s> {
        Scope {
            outer: Some(self),
            envelope: Some(envelope),
            message_index: message_index.or(self.message_index),
            depth: self.depth + 1,
            source,
        }
    }

    fn write_label(&self, out: &mut String) {
        if let Some(outer) = self.outer {
            outer.write_label(out);
        }
        if let Some(envelope) = &self.envelope {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(envelope.label);
            out.push(' ');
            out.push_str(envelope.id);
        }
    }

    /// The operator's label for a record at `label` within this scope, at most
    /// [`MAX_LABEL_CHARS`] characters: envelope ids and references are the sender's.
    fn record(&self, label: impl fmt::Display) -> String {
        let mut out = String::with_capacity(96);
        self.write_label(&mut out);
        let outer = out.len();
        if outer > 0 {
            out.push(' ');
        }
        let _ = write!(out, "{label}");
        if out.len() == outer + 1 {
            out.truncate(outer);
        }
        if let Some((end, _)) = out.char_indices().nth(MAX_LABEL_CHARS) {
            out.truncate(end);
            out.push('…');
        }
        out
    }

    /// Feeds the envelopes' channels and ids, outermost first, to `identity`.
    fn hash_envelopes(&self, identity: &mut IdentityHasher) {
        if let Some(outer) = self.outer {
            outer.hash_envelopes(identity);
        }
        if let Some(envelope) = &self.envelope {
            identity.field(envelope.channel);
            identity.field(envelope.id);
        }
    }

    /// An object change read at `label` within this scope.
    fn change(
        &self,
        label: impl fmt::Display,
        bucket: &str,
        key: String,
        kind: ChangeKind,
        identity: Identity,
    ) -> Change {
        Change {
            bucket: bucket.to_owned(),
            key,
            kind,
            identity,
            record: self.record(label),
            message_index: self.message_index,
            second_reading: false,
            routed: None,
            source: self.source,
        }
    }
}

/// The label of an object change within its payload: where it sits, then the object as sent.
struct ObjectLabel<'a> {
    at: &'a dyn fmt::Display,
    bucket: &'a str,
    key: &'a str,
}

impl fmt::Display for ObjectLabel<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { at, bucket, key } = self;
        write!(f, "{at} s3://{bucket}/{}", abbreviate(key))
    }
}

/// SHA-256 over fields, each prefixed with its length so no two field lists collide.
struct IdentityHasher(Sha256);

impl IdentityHasher {
    fn new() -> IdentityHasher {
        IdentityHasher(Sha256::new())
    }

    fn field(&mut self, field: &str) {
        // Four bytes of length: no field of a Lambda payload (6 MB at most) needs more, and a
        // record's identity then fits three SHA-256 blocks instead of four.
        self.0.update((field.len() as u32).to_le_bytes());
        self.0.update(field.as_bytes());
    }

    fn finish(self) -> Identity {
        self.0.finalize().into()
    }
}

/// The identity of one S3 change: channel, event, bucket and key as sent, then what tells
/// two changes of one key apart. Only when the record carries none of the distinguishing
/// fields does the envelopes' identity (SQS message id, SNS message id, EventBridge id) stand
/// in for them, with `fallback` (where the record sits in its payload).
fn change_identity(
    scope: &Scope,
    fixed: [&str; 4],
    distinguishing: [Option<&str>; 5],
    fallback: impl fmt::Display,
) -> Identity {
    let mut identity = IdentityHasher::new();
    fixed.into_iter().for_each(|field| identity.field(field));
    if distinguishing.iter().all(Option::is_none) {
        scope.hash_envelopes(&mut identity);
        identity.field(&fallback.to_string());
    } else {
        distinguishing
            .into_iter()
            .for_each(|field| identity.field(field.unwrap_or_default()));
    }
    identity.finish()
}

/// `ObjectCreated:*`, `ObjectRemoved:*` and `LifecycleExpiration:*`, with or without `s3:`.
fn change_kind(event_name: &str) -> Option<ChangeKind> {
    let name = event_name.strip_prefix("s3:").unwrap_or(event_name);
    if name.starts_with("ObjectCreated:") {
        Some(ChangeKind::Created)
    } else if name.starts_with("ObjectRemoved:") || name.starts_with("LifecycleExpiration:") {
        Some(ChangeKind::Removed)
    } else {
        None
    }
}

impl Decoded {
    fn reject(&mut self, scope: &Scope, label: impl fmt::Display, reason: Reason) {
        self.rejected.push(Skipped {
            record: scope.record(label),
            reason,
            message_index: scope.message_index,
        });
    }

    fn skip(&mut self, scope: &Scope, label: impl fmt::Display, reason: Reason) {
        self.skipped.push(Skipped {
            record: scope.record(label),
            reason,
            message_index: scope.message_index,
        });
    }

    /// Decodes element `index` of a `Records` array that is not an SQS batch.
    fn record(&mut self, item: Item, index: usize, scope: &Scope) {
        let label = format_args!("Records[{index}]");
        let Part::Object(record) = item else {
            return self.reject(scope, label, Reason::NotARecord);
        };
        if record.sns_event_source.as_deref() == Some("aws:sns") {
            return sns::decode_record(self, &record, scope, index);
        }
        match &record.s3 {
            Part::Object(entity) => s3::decode_record(self, &record, entity, scope, index),
            Part::Wrong => self.reject(
                scope,
                label,
                Reason::Malformed {
                    what: "S3 record is malformed",
                    error: "s3 is not an object".into(),
                },
            ),
            Part::Missing => self.reject(scope, label, Reason::NotARecord),
        }
    }

    /// Acts on a payload's fields once it is read; false when it is of no shape of ours.
    fn decode_fields(&mut self, fields: &Fields, scope: &Scope) -> bool {
        if fields.records {
            return true;
        }
        if let Some(version) = fields.s3cfi_work {
            work::decode_work(self, version, fields.deferred, fields.watch, scope);
            return true;
        }
        if fields.test_event.as_deref() == Some("s3:TestEvent") {
            self.skip(scope, "s3:TestEvent", Reason::TestEvent);
            return true;
        }
        if fields.sns_type.as_deref() == Some("Notification") {
            return sns::decode_envelope(self, fields, scope);
        }
        if fields.source.as_deref() == Some("aws.s3") && fields.detail_type.is_some() {
            eventbridge::decode_event(self, fields, scope);
            return true;
        }
        false
    }

    /// A payload carried as a JSON string inside an envelope: an SQS `body` or an SNS
    /// `message`, as `container` names it. When it cannot be read, whatever it yielded
    /// before the error is taken back and the whole of it is rejected.
    fn decode_embedded(&mut self, text: &str, scope: &Scope, container: Container) {
        let (not_json, not_ours) = match container {
            Container::Body => (
                "body is not JSON",
                "body is not an S3, SNS or EventBridge S3 notification",
            ),
            Container::Message => ("message is not JSON", "message is not an S3 notification"),
        };
        if scope.depth > MAX_DEPTH {
            let found = format!("envelopes nested more than {MAX_DEPTH} deep");
            return self.reject(
                scope,
                "",
                Reason::Unrecognised {
                    what: not_ours,
                    found,
                },
            );
        }
        let before = (
            self.changes.len(),
            self.watches.len(),
            self.skipped.len(),
            self.rejected.len(),
        );
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let read = PayloadSeed {
            decoded: self,
            scope,
        }
        .deserialize(&mut deserializer)
        .and_then(|fields| deserializer.end().map(|()| fields));
        if read.is_err() {
            self.changes.truncate(before.0);
            self.watches.truncate(before.1);
            self.skipped.truncate(before.2);
            self.rejected.truncate(before.3);
        }
        let reason = match read {
            Ok(fields) if self.decode_fields(&fields, scope) => return,
            Ok(_) => Reason::Unrecognised {
                what: not_ours,
                found: describe(text.as_bytes()),
            },
            Err(e) if e.classify() == serde_json::error::Category::Data => Reason::Unrecognised {
                what: not_ours,
                found: e.to_string(),
            },
            Err(e) => Reason::Malformed {
                what: not_json,
                error: e.to_string(),
            },
        };
        self.reject(scope, "", reason);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn decode_value(event: &Value) -> Result<Decoded, EventError> {
        decode(event.to_string().as_bytes())
    }

    fn sample(name: &str) -> Decoded {
        let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
        decode(&std::fs::read(&path).unwrap()).unwrap()
    }

    fn keys(decoded: &Decoded) -> Vec<(&str, ChangeKind)> {
        decoded
            .changes
            .iter()
            .map(|c| (c.key.as_str(), c.kind))
            .collect()
    }

    #[test]
    fn direct_s3_events_of_every_change_kind() {
        use ChangeKind::*;
        let cases = [
            ("s3-put.json", "index.html", Created),
            ("s3-copy.json", "assets/app.css", Created),
            ("s3-multipart.json", "videos/intro.mp4", Created),
            ("s3-delete.json", "old/page.html", Removed),
            ("s3-delete-marker.json", "old/versioned.html", Removed),
            ("s3-lifecycle-expiration.json", "tmp/preview.html", Removed),
        ];
        for (file, key, kind) in cases {
            let decoded = sample(file);
            assert_eq!(keys(&decoded), [(key, kind)], "{file}");
            assert_eq!(decoded.changes[0].bucket, "example-site");
            assert!(decoded.sqs_message_ids.is_none());
            assert!(decoded.rejected.is_empty() && decoded.skipped.is_empty());
        }
    }

    #[test]
    fn several_records_and_non_changes() {
        let decoded = sample("s3-several-records.json");
        assert_eq!(decoded.changes.len(), 4);
        assert_eq!(decoded.skipped.len(), 1);
        assert_eq!(
            decoded.skipped[0].reason,
            Reason::NoContentChange {
                event: "ObjectRestore:Completed".into()
            }
        );
        assert!(
            decoded.skipped[0]
                .record
                .starts_with("Records[4] s3://example-site/photos/raw.jpg")
        );
        let identities: std::collections::HashSet<_> =
            decoded.changes.iter().map(|c| &c.identity).collect();
        assert_eq!(identities.len(), 4, "each record has its own identity");
    }

    #[test]
    fn special_keys_are_decoded() {
        let decoded = sample("s3-special-keys.json");
        let keys: Vec<&str> = decoded.changes.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "docs/getting started.html",
                "downloads/c++ guide.pdf",
                "blog/café/menü.html",
                "people/~alice/profile.html",
                "reports/100% done?.html"
            ]
        );
    }

    #[test]
    fn sqs_batches_keep_message_ids() {
        let decoded = sample("sqs-batch.json");
        let messages = decoded.sqs_message_ids.as_ref().unwrap();
        assert_eq!(messages.len(), 3);
        assert_eq!(decoded.changes.len(), 3);
        for (i, change) in decoded.changes.iter().enumerate() {
            assert_eq!(change.message_index, Some(i));
        }
    }

    #[test]
    fn sqs_around_sns_and_plain_sns() {
        let decoded = sample("sqs-sns.json");
        assert_eq!(
            keys(&decoded),
            [
                ("news/today.html", ChangeKind::Created),
                ("news/yesterday.html", ChangeKind::Removed)
            ]
        );
        assert!(decoded.changes[0].record.contains(" sns "));
        let decoded = sample("sns.json");
        assert_eq!(keys(&decoded), [("feeds/rss.xml", ChangeKind::Created)]);
    }

    fn sqs_of(bodies: &[Value]) -> Value {
        let records: Vec<Value> = bodies
            .iter()
            .enumerate()
            .map(|(i, body)| serde_json::json!({"messageId": format!("m-{i}"), "body": body.to_string(), "eventSource": "aws:sqs"}))
            .collect();
        serde_json::json!({ "Records": records })
    }

    #[test]
    fn a_duplicate_s3_sends_through_other_envelopes_has_one_identity() {
        let notification = serde_json::json!({"Records": [s3_record("a.html", 7)]});
        let through_sns = serde_json::json!({"Type": "Notification", "MessageId": "sns-2", "Message": notification.to_string()});
        let decoded = decode_value(&sqs_of(&[notification, through_sns])).unwrap();
        assert_eq!(decoded.changes.len(), 2);
        assert_eq!(decoded.changes[0].identity, decoded.changes[1].identity);
        assert_ne!(
            decoded.changes[0].message_index,
            decoded.changes[1].message_index
        );
    }

    #[test]
    fn uploads_of_one_key_are_told_apart_by_whatever_the_record_carries() {
        let bare = serde_json::json!({"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, "object": {"key": "a.html"}}});
        let with = |field: &str, value: &str| {
            let mut record = bare.clone();
            match field {
                "eventTime" => record["eventTime"] = value.into(),
                "x-amz-request-id" => {
                    record["responseElements"] = serde_json::json!({field: value})
                }
                _ => record["s3"]["object"][field] = value.into(),
            }
            record
        };
        let variants = [
            with("sequencer", "01"),
            with("sequencer", "02"),
            with("x-amz-request-id", "R1"),
            with("versionId", "v1"),
            with("eTag", "e1"),
            with("eventTime", "2026-11-24T10:00:00.000Z"),
        ];
        let decoded = decode_value(&serde_json::json!({ "Records": variants })).unwrap();
        let identities: std::collections::HashSet<_> =
            decoded.changes.iter().map(|c| &c.identity).collect();
        assert_eq!(identities.len(), variants.len());
        // With none of them, the envelope tells deliveries apart: each message is its own change.
        let bare_notification = serde_json::json!({"Records": [bare]});
        let decoded =
            decode_value(&sqs_of(&[bare_notification.clone(), bare_notification])).unwrap();
        assert_ne!(decoded.changes[0].identity, decoded.changes[1].identity);
    }

    #[test]
    fn records_need_only_event_name_bucket_and_key() {
        let minimal = serde_json::json!({"Records": [
            {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, "object": {"key": "a+b.html"}}},
            {"eventName": "ObjectRemoved:Delete", "eventSource": "aws:s3", "s3": {"bucket": {"name": "b", "arn": "arn:aws:s3:::b"}, "object": {"key": "c.html", "size": null}}},
        ]});
        let decoded = decode_value(&minimal).unwrap();
        assert_eq!(
            keys(&decoded),
            [
                ("a b.html", ChangeKind::Created),
                ("c.html", ChangeKind::Removed)
            ]
        );
        assert!(decoded.rejected.is_empty());
    }

    #[test]
    fn sqs_around_eventbridge_for_existing_buckets() {
        let path = format!(
            "{}/events/eventbridge-created.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let body: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let decoded = decode_value(&sqs_of(&[body])).unwrap();
        assert_eq!(
            keys(&decoded),
            [("assets/main script.js", ChangeKind::Created)]
        );
        assert_eq!(decoded.sqs_message_ids, Some(vec!["m-0".to_string()]));
    }

    #[test]
    fn eventbridge_created_and_deleted() {
        let decoded = sample("eventbridge-created.json");
        assert_eq!(
            keys(&decoded),
            [("assets/main script.js", ChangeKind::Created)]
        );
        let decoded = sample("eventbridge-deleted.json");
        assert_eq!(keys(&decoded), [("assets/legacy.js", ChangeKind::Removed)]);
    }

    fn eventbridge_with_key(key: &str) -> Value {
        let mut event = serde_json::from_slice::<Value>(
            &std::fs::read(format!(
                "{}/events/eventbridge-created.json",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap(),
        )
        .unwrap();
        event["detail"]["object"]["key"] = key.into();
        event
    }

    #[test]
    fn eventbridge_keys_are_raw_and_a_clean_form_decoding_is_covered_too() {
        let decoded = decode_value(&eventbridge_with_key("downloads/c++ guide.pdf")).unwrap();
        assert_eq!(
            keys(&decoded),
            [
                ("downloads/c++ guide.pdf", ChangeKind::Created),
                ("downloads/c   guide.pdf", ChangeKind::Created)
            ]
        );
        assert!(!decoded.changes[0].second_reading && decoded.changes[1].second_reading);
        assert_eq!(decoded.changes[0].identity, decoded.changes[1].identity);
        // Not form-decodable: taken as it is, never rejected.
        let decoded = decode_value(&eventbridge_with_key("reports/100%.html")).unwrap();
        assert_eq!(keys(&decoded), [("reports/100%.html", ChangeKind::Created)]);
        assert!(decoded.rejected.is_empty());
        let decoded = decode_value(&eventbridge_with_key("plain/a.html")).unwrap();
        assert_eq!(decoded.changes.len(), 1);
    }

    #[test]
    fn test_events_are_acknowledged() {
        for file in ["s3-test-event.json", "sqs-test-event.json"] {
            let decoded = sample(file);
            assert!(
                decoded.changes.is_empty() && decoded.rejected.is_empty(),
                "{file}"
            );
            assert_eq!(decoded.skipped.len(), 1, "{file}");
        }
    }

    #[test]
    fn bad_records_are_rejected_without_losing_good_ones() {
        let decoded = sample("bad-undecodable-key.json");
        assert_eq!(keys(&decoded), [("good.html", ChangeKind::Created)]);
        assert_eq!(decoded.rejected.len(), 1);
        assert!(matches!(
            decoded.rejected[0].reason,
            Reason::Key(KeyError::MalformedEscape(_, 3))
        ));

        let decoded = sample("bad-sqs-partial.json");
        assert_eq!(decoded.changes.len(), 2);
        assert_eq!(decoded.rejected[0].message_index, Some(1));
        assert!(matches!(
            decoded.rejected[0].reason,
            Reason::Malformed {
                what: "body is not JSON",
                ..
            }
        ));

        let decoded = sample("bad-missing-key.json");
        assert_eq!(
            decoded.rejected[0].reason,
            Reason::Missing("S3 record has no s3.bucket.name or s3.object.key")
        );
        let decoded = sample("bad-empty-key.json");
        assert_eq!(decoded.rejected[0].reason, Reason::Key(KeyError::Empty));
        assert_eq!(
            decoded.rejected[0].reason.to_string(),
            "object key is empty"
        );
    }

    #[test]
    fn unrecognised_and_non_json_events_are_errors() {
        let path = format!(
            "{}/events/bad-other-service.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let err = decode(&std::fs::read(path).unwrap()).unwrap_err();
        assert!(matches!(err, EventError::Unrecognised(_)));
        assert!(matches!(decode(b"not json"), Err(EventError::NotJson(_))));
        assert!(matches!(decode(b"[1,2]"), Err(EventError::Unrecognised(_))));
    }

    use proptest::prelude::*;

    /// JSON built from the words the decoder looks for, so random events reach deep paths.
    fn event_like_json() -> impl Strategy<Value = Value> {
        let words = prop::sample::select(vec![
            "Records",
            "s3",
            "eventSource",
            "aws:sqs",
            "aws:sns",
            "EventSource",
            "body",
            "Sns",
            "Message",
            "Type",
            "Notification",
            "MessageId",
            "messageId",
            "source",
            "aws.s3",
            "detail-type",
            "detail",
            "Object Created",
            "bucket",
            "name",
            "object",
            "key",
            "eventName",
            "ObjectCreated:Put",
            "Event",
            "s3:TestEvent",
            "%zz",
            "a+b",
            "",
        ]);
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            words.clone().prop_map(Value::from),
            "\\PC{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(5, 64, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map(
                    words.clone().prop_map(str::to_owned),
                    inner.clone(),
                    0..5
                )
                .prop_map(|map| Value::Object(map.into_iter().collect())),
                // A JSON string holding JSON, as SQS bodies and SNS messages do.
                inner.prop_map(|value| Value::from(value.to_string())),
            ]
        })
    }

    fn s3_record(key: &str, sequencer: usize) -> Value {
        serde_json::json!({
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2026-11-24T10:00:00.000Z", "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "A"}, "requestParameters": {"sourceIPAddress": "203.0.113.1"},
            "responseElements": {"x-amz-request-id": "R"},
            "s3": {"bucket": {"name": "b"}, "object": {"key": key, "sequencer": format!("{sequencer:X}")}}
        })
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_events_never_panics(event in event_like_json()) {
            if let Ok(decoded) = decode_value(&event) {
                prop_assert!(decoded.changes.iter().all(|c| !c.key.is_empty()));
            }
            let _ = decode(event.to_string().as_bytes());
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(raw in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&raw);
        }

        #[test]
        fn any_key_s3_can_hold_decodes_to_valid_paths(keys in prop::collection::vec("\\PC{1,80}", 1..20)) {
            const FORM: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
                .remove(b'-').remove(b'_').remove(b'.').remove(b'*').remove(b' ').remove(b'/');
            let records: Vec<Value> = keys
                .iter()
                .enumerate()
                .map(|(i, key)| s3_record(&percent_encoding::utf8_percent_encode(key, FORM).to_string().replace(' ', "+"), i))
                .collect();
            let decoded = decode_value(&serde_json::json!({ "Records": records })).unwrap();
            let decoded_keys: Vec<&str> = decoded.changes.iter().map(|c| c.key.as_str()).collect();
            prop_assert_eq!(decoded_keys, keys.iter().map(String::as_str).collect::<Vec<_>>());
            // Every decoded key becomes valid CloudFront paths, in every spelling.
            for change in &decoded.changes {
                let path = crate::path::cloudfront_path(&format!("/{}", change.key)).unwrap();
                for spelling in crate::path::spellings(path, true) {
                    prop_assert!(crate::path::is_valid_cloudfront_path(&spelling), "{}", spelling);
                }
            }
        }
    }

    #[test]
    fn elements_before_the_first_sqs_message_are_failed_messages() {
        let mut batch = sqs_of(&[serde_json::json!({"Records": [s3_record("a.html", 1)]})]);
        let records = batch["Records"].as_array_mut().unwrap();
        records.insert(0, Value::from(5));
        let decoded = decode_value(&batch).unwrap();
        assert_eq!(
            decoded.sqs_message_ids,
            Some(vec!["Records[0]".to_string(), "m-0".to_string()])
        );
        assert_eq!(decoded.rejected.len(), 1);
        assert_eq!(decoded.rejected[0].message_index, Some(0));
        assert_eq!(keys(&decoded), [("a.html", ChangeKind::Created)]);
        assert_eq!(decoded.changes[0].message_index, Some(1));
        // Outside an SQS batch the same element is a record of no known shape.
        let event = serde_json::json!({"Records": [5, s3_record("b.html", 2)]});
        let decoded = decode_value(&event).unwrap();
        assert_eq!(decoded.rejected[0].reason, Reason::NotARecord);
        assert_eq!(decoded.rejected[0].record, "Records[0]");
        assert_eq!(keys(&decoded), [("b.html", ChangeKind::Created)]);
        assert!(decoded.sqs_message_ids.is_none());
    }

    #[test]
    fn a_body_that_breaks_after_good_records_yields_none_of_them() {
        let good = serde_json::json!({"Records": [s3_record("good.html", 1)]});
        let broken_after = format!(
            r#"{{"Records":[{}],"trailing":tru}}"#,
            s3_record("lost.html", 2)
        );
        let batch = serde_json::json!({"Records": [
            {"messageId": "m-0", "body": good.to_string(), "eventSource": "aws:sqs"},
            {"messageId": "m-1", "body": broken_after, "eventSource": "aws:sqs"},
        ]});
        let decoded = decode_value(&batch).unwrap();
        assert_eq!(keys(&decoded), [("good.html", ChangeKind::Created)]);
        assert_eq!(decoded.rejected.len(), 1);
        assert_eq!(decoded.rejected[0].message_index, Some(1));
        assert_eq!(decoded.rejected[0].record, "message m-1");
        assert!(matches!(
            decoded.rejected[0].reason,
            Reason::Malformed {
                what: "body is not JSON",
                ..
            }
        ));
    }

    #[test]
    fn labels_name_every_envelope_around_a_record() {
        let notification = serde_json::json!({"Records": [s3_record("a+b.html", 1)]});
        let through_sns = serde_json::json!({"Type": "Notification", "MessageId": "sns-2", "Message": notification.to_string()});
        let decoded = decode_value(&sqs_of(&[through_sns])).unwrap();
        assert_eq!(
            decoded.changes[0].record,
            "message m-0 sns sns-2 Records[0] s3://b/a+b.html"
        );
    }

    #[test]
    fn deep_nesting_is_refused_not_recursed() {
        let mut event = serde_json::json!({"Records": []});
        for i in 0..10 {
            event = serde_json::json!({"Type": "Notification", "MessageId": format!("m{i}"), "Message": event.to_string()});
        }
        let decoded = decode_value(&event).unwrap();
        assert!(decoded.changes.is_empty());
        assert_eq!(decoded.rejected.len(), 1);
    }
}
