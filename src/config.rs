//! Configuration: read once from the environment, validated before the first event. This
//! module owns every configuration value type and its parsing; the rest of the crate only
//! reads them.

use std::fmt;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde::Deserialize;

/// CloudFront accepts at most this many paths in one request (and in progress).
pub const MAX_PATHS_PER_REQUEST: usize = 3000;
/// CloudFront allows at most this many wildcard paths in progress per distribution.
pub const MAX_WILDCARDS_IN_PROGRESS: usize = 15;
/// The `DISTRIBUTION_ID` (or route `distribution_id`) that asks for the distributions whose
/// origins are the bucket to be found at start-up.
pub const AUTO: &str = "auto";

/// SQS holds a message back at most this long (`DelaySeconds`).
pub const MAX_QUEUE_DELAY_SECONDS: u64 = 900;

/// Where changes of one bucket (or any bucket) under one key prefix are served, and how.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Route {
    /// Only events of this bucket; `None` accepts any bucket.
    pub bucket: Option<String>,
    /// Stripped from keys; keys outside it are skipped.
    pub key_prefix: String,
    /// Prepended to paths, for a distribution whose origin path is not the bucket root.
    pub path_prefix: String,
    /// The distribution to invalidate (for a tenant, its multi-tenant distribution).
    pub distribution_id: String,
    /// A tenant of a multi-tenant distribution: invalidated on its own, with
    /// CreateInvalidationForDistributionTenant.
    pub tenant_id: Option<String>,
    /// The role to assume to reach a distribution of another account.
    pub role: Option<Role>,
    /// Keys never invalidated (immutable assets, source maps).
    pub skip_keys: SkipKeys,
    /// `blog/post.html` also invalidates `/blog/post`.
    pub clean_urls: bool,
    /// Every path is sent as `path*`, so its query-string variants go too.
    pub query_strings: bool,
    /// For a route found at start-up (`DISTRIBUTION_ID=auto`): the origin's `OriginPath`,
    /// which gave `key_prefix`.
    pub origin_path: Option<String>,
}

impl Route {
    /// How specific the route is, compared when several match a key: the configured key
    /// prefix's length, then naming the bucket over accepting any. A route found from the
    /// bucket stands for its configured `auto` route, whose prefix is empty, so every
    /// distribution found serving a key gets it.
    pub fn rank(&self) -> (usize, bool) {
        let prefix = match self.origin_path {
            Some(_) => 0,
            None => self.key_prefix.len(),
        };
        (prefix, self.bucket.is_some())
    }
}

/// A role in another account, assumed with STS to invalidate its distributions.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Role {
    /// `arn:aws:iam::ACCOUNT:role/NAME`.
    pub arn: String,
    /// The external id the role's trust policy asks for, if any.
    pub external_id: Option<String>,
}

/// Glob patterns on object keys, compiled once: `*` within one path segment, `**` across.
#[derive(Debug, Clone, Default)]
pub struct SkipKeys {
    patterns: Vec<String>,
    set: GlobSet,
}

impl SkipKeys {
    /// Compiles the patterns; an invalid one is returned with its error.
    pub fn new(patterns: Vec<String>) -> Result<SkipKeys, (String, globset::Error)> {
        let mut builder = GlobSetBuilder::new();
        for pattern in &patterns {
            let glob = GlobBuilder::new(pattern)
                .literal_separator(true)
                .build()
                .map_err(|e| (pattern.clone(), e))?;
            builder.add(glob);
        }
        let set = builder.build().map_err(|e| (patterns.join(","), e))?;
        Ok(SkipKeys { patterns, set })
    }

    /// The first pattern, in the configured order, that matches `key`.
    pub fn matching(&self, key: &str) -> Option<&str> {
        if self.patterns.is_empty() {
            return None;
        }
        let first = self.set.matches(key).into_iter().min()?;
        Some(&self.patterns[first])
    }

    /// The patterns as configured, in order.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }
}

// The compiled set follows from the patterns.
impl PartialEq for SkipKeys {
    fn eq(&self, other: &Self) -> bool {
        self.patterns == other.patterns
    }
}

impl Eq for SkipKeys {}

/// The whole configuration: routes to distributions, path rules, planning policy, and the
/// optional features (metrics, deferral, completion events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The routes in force: configured, and found at start-up.
    pub routes: Vec<Route>,
    /// Routes whose distributions are still to be found from their bucket
    /// (`DISTRIBUTION_ID=auto`); [`Config::with_found`] replaces them with what was found.
    pub to_discover: Vec<Route>,
    /// With `index.html` (the default), a change to `a/index.html` also invalidates `/a/`
    /// and `/a`; `None` when turned off.
    pub index_document: Option<String>,
    /// Also invalidate the spellings an S3 origin serves a key under: `+` for a space (both
    /// URLs can be cached) and `%2B` for a literal `+` (S3 reads `+` as a space).
    pub plus_alias: bool,
    pub policy: CollapsePolicy,
    /// CloudWatch namespace of the embedded-format metrics; `None` turns them off.
    pub metrics_namespace: Option<String>,
    /// Where invalidations CloudFront has no room for are deferred; `None` retries them
    /// until the deadline and hands the event back instead.
    pub defer: Option<Defer>,
    /// Where and how completions are announced; `None` (`COMPLETION_EVENTS=off`) watches
    /// nothing.
    pub completion: Option<CompletionEvents>,
    /// What the function trusts and how much one invocation may bill ([`Guards`]).
    pub guards: Guards,
}

/// The trust and cost settings, read in one place (docs/trust.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guards {
    /// The function's own queue (`WORK_QUEUE_ARN`, or the queue the queue URLs name): work
    /// messages are read only from messages Lambda delivered from it. `None` reads none.
    pub work_queue: Option<WorkQueueId>,
    /// Paths one invocation may bill (`MAX_BILLED_PATHS`) before the planner falls back to
    /// the widest wildcards the settings allow.
    pub max_billed_paths: usize,
}

/// Default of `MAX_BILLED_PATHS`: the month's free paths, USD 5 past them.
pub const DEFAULT_MAX_BILLED_PATHS: usize = 1000;

impl Default for Guards {
    fn default() -> Self {
        Guards {
            work_queue: None,
            max_billed_paths: DEFAULT_MAX_BILLED_PATHS,
        }
    }
}

/// The function's work queue, as SQS names it in the `eventSourceARN` Lambda sets on each
/// message (`arn:PARTITION:sqs:REGION:ACCOUNT:NAME`). From a queue URL only the account and
/// name are known, which is what an event source mapping of one region can tell apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkQueueId {
    arn: Option<String>,
    account: String,
    name: String,
}

impl WorkQueueId {
    /// Whether `event_source_arn` (an SQS message's) is this queue.
    pub fn is(&self, event_source_arn: &str) -> bool {
        if let Some(arn) = &self.arn {
            return arn == event_source_arn;
        }
        queue_of_arn(event_source_arn) == Some((&self.account, &self.name))
    }

    fn from_arn(arn: &str) -> Option<WorkQueueId> {
        match arn.splitn(6, ':').collect::<Vec<_>>().as_slice() {
            ["arn", partition, "sqs", region, account, name]
                if partition.starts_with("aws")
                    && !region.is_empty()
                    && is_account_id(account)
                    && !name.is_empty() =>
            {
                Some(WorkQueueId {
                    arn: Some(arn.to_owned()),
                    account: (*account).to_owned(),
                    name: (*name).to_owned(),
                })
            }
            _ => None,
        }
    }

    /// The account and name of `url` (`https://sqs.REGION.amazonaws.com/ACCOUNT/NAME`).
    fn from_url(url: &str) -> Option<WorkQueueId> {
        let mut segments = url.trim_end_matches('/').rsplit('/');
        let name = segments.next()?;
        let account = segments.next()?;
        (is_account_id(account) && !name.is_empty()).then(|| WorkQueueId {
            arn: None,
            account: account.to_owned(),
            name: name.to_owned(),
        })
    }
}

impl fmt::Display for WorkQueueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.arn {
            Some(arn) => f.write_str(arn),
            None => write!(f, "queue {} of account {}", self.name, self.account),
        }
    }
}

impl Guards {
    /// The guards, once the queues the function writes to are known: each must be the work
    /// queue, or the function would refuse its own messages.
    fn from_lookup(
        get: &impl Fn(&str) -> Option<String>,
        queue_urls: &[(&'static str, &str)],
    ) -> Result<Guards, ConfigError> {
        let mut work_queue = match get("WORK_QUEUE_ARN") {
            None => None,
            Some(arn) => Some(WorkQueueId::from_arn(arn.trim()).ok_or_else(|| {
                invalid(
                    "WORK_QUEUE_ARN",
                    format!("{arn:?} is not an SQS queue ARN (arn:aws:sqs:REGION:ACCOUNT:NAME)"),
                )
            })?),
        };
        for &(variable, url) in queue_urls {
            let named = WorkQueueId::from_url(url).ok_or_else(|| {
                invalid(
                    variable,
                    format!("{url:?} does not end in /ACCOUNT/NAME as SQS queue URLs do"),
                )
            })?;
            match &work_queue {
                None => work_queue = Some(named),
                Some(known) if (&known.account, &known.name) == (&named.account, &named.name) => {}
                Some(known) => {
                    return Err(invalid(
                        variable,
                        format!(
                            "names another queue than the work queue ({known}): the function reads its own messages only from one queue it alone writes to; give DEFER_QUEUE_URL, WATCH_QUEUE_URL and WORK_QUEUE_ARN the same queue"
                        ),
                    ));
                }
            }
        }
        Ok(Guards {
            work_queue,
            max_billed_paths: parse_number(
                get("MAX_BILLED_PATHS"),
                "MAX_BILLED_PATHS",
                DEFAULT_MAX_BILLED_PATHS,
                1..=1_000_000,
            )?,
        })
    }
}

/// Completion events: each invalidation is checked through the function's own queue until
/// CloudFront reports it completed, then announced on an EventBridge bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletionEvents {
    /// The bus's name or ARN, as PutEvents takes it.
    pub bus: String,
    /// The SQS queue whose messages invoke this function, where checks wait their turn.
    pub queue_url: String,
    /// Delay of a first check; each further check waits twice as long as the one before.
    pub first_delay_seconds: u64,
}

/// The defaults that set how fast a change is fresh, chosen with `make simulate` at
/// CloudFront's current pace (in effect within 5 s and completed within 25 s at P95, AWS,
/// 2026-04-29); docs/freshness.md gives the figures behind each. The template's parameter
/// defaults match them.
pub mod defaults {
    /// `DEFER_DELAY_SECONDS`: CloudFront frees room as invalidations complete, in 5 to 25 s,
    /// so a first retry after 5 s finds room for most, and the linear growth (5, 10, 15 s...)
    /// reaches the legacy minutes only while the distribution stays busy.
    pub const DEFER_DELAY_SECONDS: u64 = 5;
    /// `COMPLETION_CHECK_DELAY_SECONDS`: the first check falls before most invalidations
    /// complete, and the next ones as often again ([`crate::watch`]), so `Invalidation
    /// Completed` follows CloudFront's completion within seconds, in two or three checks.
    pub const COMPLETION_CHECK_DELAY_SECONDS: u64 = 8;
    /// The template's `BatchingWindowSeconds` (Lambda's, not read by the function).
    pub const BATCHING_WINDOW_SECONDS: u64 = 3;
}

/// The index document S3 website endpoints and most sites serve for a directory.
pub const DEFAULT_INDEX_DOCUMENT: &str = "index.html";

/// Deferral of invalidations to the function's own queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defer {
    /// The SQS queue whose messages invoke this function.
    pub queue_url: String,
    /// Delay of a first deferral; the n-th deferral of the same paths waits n times as long,
    /// up to SQS's 900 s.
    pub first_delay_seconds: u64,
}

/// A setting that stops start-up: the variable, and what is wrong with it and how to fix
/// it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {variable} {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

fn invalid(variable: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        problem: problem.into(),
    }
}

/// A setting the function reads from its environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    pub name: &'static str,
    /// What it does, in one line.
    pub doc: &'static str,
}

/// Every setting, by name: the one list that parsing asks through (an unlisted name is a
/// bug, caught in debug builds and by a test that reads every setting), that names the
/// setting meant by a misspelled one, and that the documentation lists. A new setting is
/// one more line here.
pub const SETTINGS: &[Setting] = &[
    Setting {
        name: "DISTRIBUTION_ID",
        doc: "the distribution to invalidate, or auto to find those whose origin is SOURCE_BUCKET",
    },
    Setting {
        name: "ROUTES",
        doc: "a JSON array of routes, for several buckets, prefixes or distributions",
    },
    Setting {
        name: "SOURCE_BUCKET",
        doc: "only changes of this bucket",
    },
    Setting {
        name: "KEY_PREFIX",
        doc: "only keys under this prefix, stripped from paths",
    },
    Setting {
        name: "PATH_PREFIX",
        doc: "prepended to every path",
    },
    Setting {
        name: "TENANT_ID",
        doc: "a tenant of the multi-tenant distribution DISTRIBUTION_ID",
    },
    Setting {
        name: "ROLE_ARN",
        doc: "the role to assume for a distribution of another account",
    },
    Setting {
        name: "EXTERNAL_ID",
        doc: "the external id ROLE_ARN's trust policy asks for",
    },
    Setting {
        name: "SKIP_KEYS",
        doc: "comma-separated glob patterns of keys never invalidated",
    },
    Setting {
        name: "CLEAN_URLS",
        doc: "true: blog/post.html also invalidates /blog/post",
    },
    Setting {
        name: "QUERY_STRINGS",
        doc: "true: every path is sent as path*, for its query-string variants",
    },
    Setting {
        name: "INDEX_DOCUMENT",
        doc: "a change to a/FILE also invalidates /a/ and /a (index.html; empty or off turns it off)",
    },
    Setting {
        name: "INVALIDATE_PLUS_ALIAS",
        doc: "also invalidate the + and %2B spellings S3 origins serve",
    },
    Setting {
        name: "COLLAPSE",
        doc: "auto or never: whether busy directories become one wildcard",
    },
    Setting {
        name: "COLLAPSE_MIN_CHANGES",
        doc: "a directory becomes dir/* above this many changed paths",
    },
    Setting {
        name: "WILDCARD_MIN_DEPTH",
        doc: "the shallowest directory a wildcard may cover",
    },
    Setting {
        name: "WILDCARD_ALLOW_ROOT",
        doc: "whether /* may be sent",
    },
    Setting {
        name: "WILDCARD_BUDGET",
        doc: "wildcards one invocation may send, of the 15 in progress",
    },
    Setting {
        name: "METRICS",
        doc: "false turns the embedded-format metrics off",
    },
    Setting {
        name: "METRICS_NAMESPACE",
        doc: "the metrics' CloudWatch namespace",
    },
    Setting {
        name: "DEFER_QUEUE_URL",
        doc: "the queue invalidations CloudFront has no room for are deferred to",
    },
    Setting {
        name: "DEFER_DELAY_SECONDS",
        doc: "delay of a first deferral",
    },
    Setting {
        name: "COMPLETION_EVENTS",
        doc: "off, or the EventBridge bus completed invalidations are announced on",
    },
    Setting {
        name: "WATCH_QUEUE_URL",
        doc: "the queue completion checks wait in",
    },
    Setting {
        name: "WORK_QUEUE_ARN",
        doc: "the function's own queue: work messages are read only from it",
    },
    Setting {
        name: "MAX_BILLED_PATHS",
        doc: "paths one invocation may bill before the widest allowed wildcards are used",
    },
    Setting {
        name: "COMPLETION_CHECK_DELAY_SECONDS",
        doc: "delay of a first completion check",
    },
];

/// Whether `name` is one of [`SETTINGS`].
pub fn is_setting(name: &str) -> bool {
    SETTINGS.iter().any(|setting| setting.name == name)
}

/// Each of `names` (an environment's) that is no setting but close to one, with the one
/// meant: `SKIP_KEY` for `SKIP_KEYS`, `distribution_id` or `DISTRIBUTIONID` for
/// `DISTRIBUTION_ID`. Names are compared in upper case without `_` and `-`, allowing one
/// edit in up to 8 letters and two in longer ones, so unrelated variables (`PATH`,
/// `AWS_REGION`) are never taken for settings.
pub fn misspelled_settings<'a>(
    names: impl IntoIterator<Item = &'a str>,
) -> Vec<(&'a str, &'static str)> {
    let squash = |name: &str| -> String {
        name.chars()
            .filter(|c| !matches!(c, '_' | '-'))
            .map(|c| c.to_ascii_uppercase())
            .collect()
    };
    names
        .into_iter()
        .filter(|name| !is_setting(name))
        .filter_map(|name| {
            let squashed = squash(name);
            let allowed = if squashed.len() <= 8 { 1 } else { 2 };
            SETTINGS
                .iter()
                .map(|setting| {
                    let distance = strsim::damerau_levenshtein(&squashed, &squash(setting.name));
                    (distance, setting.name)
                })
                .filter(|(distance, _)| *distance <= allowed)
                .min()
                .map(|(_, meant)| (name, meant))
        })
        .collect()
}

/// The variables that describe the one route of the single-site case; with `ROUTES` each is a
/// field of every entry instead.
const ROUTE_VARIABLES: [(&str, &str); 9] = [
    ("SOURCE_BUCKET", "bucket"),
    ("KEY_PREFIX", "key_prefix"),
    ("PATH_PREFIX", "path_prefix"),
    ("TENANT_ID", "tenant_id"),
    ("ROLE_ARN", "role_arn"),
    ("EXTERNAL_ID", "external_id"),
    ("SKIP_KEYS", "skip_keys"),
    ("CLEAN_URLS", "clean_urls"),
    ("QUERY_STRINGS", "query_strings"),
];

/// A route as written: a `ROUTES` entry, or the single-site variables.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteSpec {
    #[serde(default)]
    bucket: Option<String>,
    #[serde(default)]
    key_prefix: String,
    #[serde(default)]
    path_prefix: String,
    distribution_id: String,
    #[serde(default)]
    tenant_id: Option<String>,
    #[serde(default)]
    role_arn: Option<String>,
    #[serde(default)]
    external_id: Option<String>,
    #[serde(default, deserialize_with = "patterns")]
    skip_keys: Vec<String>,
    #[serde(default)]
    clean_urls: bool,
    #[serde(default)]
    query_strings: bool,
}

/// `skip_keys` as a comma-separated string (like `SKIP_KEYS`) or an array of patterns.
fn patterns<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    struct Patterns;
    impl<'de> serde::de::Visitor<'de> for Patterns {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a comma-separated string or an array of glob patterns")
        }
        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
            Ok(split_patterns(text))
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut all = Vec::new();
            while let Some(pattern) = seq.next_element::<String>()? {
                all.extend(split_patterns(&pattern));
            }
            Ok(all)
        }
    }
    deserializer.deserialize_any(Patterns)
}

/// Patterns from a comma-separated list; blanks (a trailing comma) are dropped.
fn split_patterns(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|pattern| !pattern.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Where a route was written, so that an error names what to fix.
#[derive(Clone, Copy)]
enum Place {
    /// The single-site variables.
    Variables,
    /// An entry of `ROUTES`, counted from 1.
    Entry(usize),
}

impl Place {
    fn error(self, variable: &'static str, problem: impl fmt::Display) -> ConfigError {
        match self {
            Place::Variables => invalid(variable, problem.to_string()),
            Place::Entry(n) => {
                let field = ROUTE_VARIABLES
                    .iter()
                    .chain(&[("DISTRIBUTION_ID", "distribution_id")])
                    .find(|(name, _)| *name == variable)
                    .map_or(variable, |(_, field)| field);
                invalid("ROUTES", format!("entry {n}: {field} {problem}"))
            }
        }
    }
}

impl Config {
    /// The routes to `distribution_id` and `tenant_id`, for work that names a destination
    /// (deferred paths, completion checks) rather than an object. Those of one distribution
    /// share one role (`check_roles`).
    pub fn routes_to<'a>(
        &'a self,
        distribution_id: &'a str,
        tenant_id: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Route> {
        self.routes.iter().filter(move |route| {
            route.distribution_id == distribution_id && route.tenant_id.as_deref() == tenant_id
        })
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration from name-value pairs, as the environment would hold them: the one
    /// way tests, benchmarks and tools build a configuration.
    pub fn from_vars(vars: &[(&str, &str)]) -> Result<Self, ConfigError> {
        Self::from_lookup(|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    /// Reads configuration through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            debug_assert!(
                is_setting(name),
                "{name} is not in config::SETTINGS: add it there"
            );
            lookup(name).filter(|value| !value.trim().is_empty())
        };
        let policy = CollapsePolicy::from_lookup(&get)?;
        let specs: Vec<(Place, RouteSpec)> = match (get("ROUTES"), get("DISTRIBUTION_ID")) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "ROUTES",
                    "and DISTRIBUTION_ID are both set: use ROUTES alone for several distributions, or DISTRIBUTION_ID with SOURCE_BUCKET, KEY_PREFIX and PATH_PREFIX for one",
                ));
            }
            (Some(json), None) => {
                if let Some((variable, field)) =
                    ROUTE_VARIABLES.iter().find(|(name, _)| get(name).is_some())
                {
                    return Err(invalid(
                        variable,
                        format!(
                            "is set together with ROUTES, which replaces it: give each route its {field} field instead"
                        ),
                    ));
                }
                let specs = serde_json::from_str::<Vec<RouteSpec>>(&json).map_err(|e| {
                    invalid(
                        "ROUTES",
                        format!(
                            "is not a JSON array of route objects ({{\"distribution_id\", \"bucket\", \"key_prefix\", \"path_prefix\", \"skip_keys\", \"clean_urls\", \"query_strings\", \"tenant_id\", \"role_arn\", \"external_id\"}}): {e}"
                        ),
                    )
                })?;
                if specs.is_empty() {
                    return Err(invalid(
                        "ROUTES",
                        "is an empty list: give at least one route",
                    ));
                }
                specs
                    .into_iter()
                    .enumerate()
                    .map(|(i, spec)| (Place::Entry(i + 1), spec))
                    .collect()
            }
            (None, Some(distribution_id)) => vec![(
                Place::Variables,
                RouteSpec {
                    bucket: get("SOURCE_BUCKET"),
                    key_prefix: get("KEY_PREFIX").unwrap_or_default(),
                    path_prefix: get("PATH_PREFIX").unwrap_or_default(),
                    distribution_id,
                    tenant_id: get("TENANT_ID"),
                    role_arn: get("ROLE_ARN"),
                    external_id: get("EXTERNAL_ID"),
                    skip_keys: get("SKIP_KEYS")
                        .map(|text| split_patterns(&text))
                        .unwrap_or_default(),
                    clean_urls: parse_bool(get("CLEAN_URLS"), "CLEAN_URLS", false)?,
                    query_strings: parse_bool(get("QUERY_STRINGS"), "QUERY_STRINGS", false)?,
                },
            )],
            (None, None) => {
                return Err(invalid(
                    "DISTRIBUTION_ID",
                    "is not set: set it to the id of the CloudFront distribution to invalidate (like E2QWRUHAPOMQZL), to auto to find them from SOURCE_BUCKET, or set ROUTES",
                ));
            }
        };
        let mut routes = Vec::new();
        let mut to_discover = Vec::new();
        for (place, spec) in specs {
            let route = build_route(place, spec, &policy)?;
            if route.distribution_id == AUTO {
                to_discover.push(route);
            } else {
                routes.push(route);
            }
        }
        check_roles(&routes)?;
        // On unless turned off, as the template deploys it: set but empty, or `off`.
        let index_document = match lookup("INDEX_DOCUMENT") {
            None => Some(DEFAULT_INDEX_DOCUMENT.to_owned()),
            Some(off) if off.trim().is_empty() || off.trim().eq_ignore_ascii_case("off") => None,
            Some(index) => Some(index),
        };
        if let Some(index) = &index_document
            && (index.contains('/') || index.trim() != index)
        {
            return Err(invalid(
                "INDEX_DOCUMENT",
                format!("{index:?} must be a plain file name such as index.html"),
            ));
        }
        let defer = match get("DEFER_QUEUE_URL") {
            None => None,
            Some(url) => Some(Defer {
                queue_url: queue_url(url, "DEFER_QUEUE_URL")?,
                first_delay_seconds: parse_delay(
                    get("DEFER_DELAY_SECONDS"),
                    "DEFER_DELAY_SECONDS",
                    defaults::DEFER_DELAY_SECONDS,
                )?,
            }),
        };
        let completion = CompletionEvents::from_lookup(&get)?;
        let queue_urls: Vec<(&'static str, &str)> = [
            defer
                .as_ref()
                .map(|d| ("DEFER_QUEUE_URL", d.queue_url.as_str())),
            completion
                .as_ref()
                .map(|c| ("WATCH_QUEUE_URL", c.queue_url.as_str())),
        ]
        .into_iter()
        .flatten()
        .collect();
        let guards = Guards::from_lookup(&get, &queue_urls)?;
        Ok(Config {
            routes,
            to_discover,
            index_document,
            plus_alias: parse_bool(get("INVALIDATE_PLUS_ALIAS"), "INVALIDATE_PLUS_ALIAS", true)?,
            policy,
            metrics_namespace: parse_bool(get("METRICS"), "METRICS", true)?.then(|| {
                get("METRICS_NAMESPACE").unwrap_or_else(|| "S3CloudFrontInvalidator".into())
            }),
            defer,
            completion,
            guards,
        })
    }

    /// The configuration with the routes found at start-up in place of those to discover.
    pub fn with_found(mut self, found: Vec<Route>) -> Result<Config, ConfigError> {
        self.routes.extend(found);
        self.to_discover.clear();
        check_roles(&self.routes)?;
        Ok(self)
    }
}

/// Validates a route as written and normalises it.
fn build_route(
    place: Place,
    spec: RouteSpec,
    policy: &CollapsePolicy,
) -> Result<Route, ConfigError> {
    let auto = spec.distribution_id.eq_ignore_ascii_case(AUTO);
    let id = &spec.distribution_id;
    if !auto && !is_distribution_id(id) {
        return Err(place.error(
            "DISTRIBUTION_ID",
            format!(
                "{id:?} is not a CloudFront distribution id (upper-case letters and digits, like E2QWRUHAPOMQZL), nor auto"
            ),
        ));
    }
    if auto {
        if spec.bucket.is_none() {
            return Err(place.error(
                "SOURCE_BUCKET",
                "is not set, but auto needs it: name the bucket whose distributions are to be found",
            ));
        }
        if !spec.key_prefix.is_empty() {
            return Err(place.error(
                "KEY_PREFIX",
                "must be empty with auto: the origin path of each distribution found gives its key prefix",
            ));
        }
        if spec.tenant_id.is_some() {
            return Err(place.error(
                "TENANT_ID",
                "cannot be used with auto: name the multi-tenant distribution instead",
            ));
        }
    }
    if let Some(tenant) = &spec.tenant_id
        && (tenant.len() > 128
            || !tenant
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
    {
        return Err(place.error(
            "TENANT_ID",
            format!(
                "{tenant:?} is not a distribution tenant id (letters, digits, _ and -, like dt_2wjDZi3hD1ivOXf6rpZJO1AB)"
            ),
        ));
    }
    let role = match (spec.role_arn, spec.external_id) {
        (None, Some(_)) => {
            return Err(place.error(
                "EXTERNAL_ID",
                "is set without a role ARN: give the role whose trust policy asks for it, or remove the external id",
            ));
        }
        (None, None) => None,
        (Some(arn), external_id) => {
            if !is_role_arn(&arn) {
                return Err(place.error(
                    "ROLE_ARN",
                    format!(
                        "{arn:?} is not an IAM role ARN (like arn:aws:iam::111122223333:role/site-invalidator)"
                    ),
                ));
            }
            if let Some(id) = &external_id
                && !is_external_id(id)
            {
                return Err(place.error(
                    "EXTERNAL_ID",
                    "must be 2 to 1224 characters: letters, digits and + = , . @ : / -",
                ));
            }
            Some(Role { arn, external_id })
        }
    };
    let path_prefix = spec.path_prefix.trim_end_matches('/');
    if !path_prefix.is_empty()
        && (!path_prefix.starts_with('/')
            || crate::path::encode(path_prefix) != path_prefix
            || path_prefix.contains(['~', '*']))
    {
        return Err(place.error(
            "PATH_PREFIX",
            format!(
                "{:?} must start with / and hold only characters that need no percent-encoding, and no ~ or *",
                spec.path_prefix
            ),
        ));
    }
    if let Some(pattern) = spec.skip_keys.iter().find(|p| p.starts_with('/')) {
        return Err(place.error(
            "SKIP_KEYS",
            format!(
                "pattern {pattern:?} starts with /, but object keys do not: write {:?}",
                pattern.trim_start_matches('/')
            ),
        ));
    }
    let skip_keys = SkipKeys::new(spec.skip_keys).map_err(|(pattern, error)| {
        place.error(
            "SKIP_KEYS",
            format!("pattern {pattern:?} is not a glob pattern ({error}): * matches within a path segment, ** across segments, as in assets/**,**/*.map"),
        )
    })?;
    if spec.query_strings && policy.wildcard_budget == 0 {
        return Err(place.error(
            "QUERY_STRINGS",
            "sends every path as a wildcard, but WILDCARD_BUDGET is 0: set WILDCARD_BUDGET to 1 or more",
        ));
    }
    Ok(Route {
        bucket: spec.bucket,
        key_prefix: spec.key_prefix,
        path_prefix: path_prefix.to_owned(),
        distribution_id: if auto {
            AUTO.to_owned()
        } else {
            spec.distribution_id
        },
        tenant_id: spec.tenant_id,
        role,
        skip_keys,
        clean_urls: spec.clean_urls,
        query_strings: spec.query_strings,
        origin_path: None,
    })
}

/// `arn:PARTITION:sqs:REGION:ACCOUNT:NAME` as (account, name).
pub fn queue_of_arn(arn: &str) -> Option<(&str, &str)> {
    match arn.splitn(6, ':').collect::<Vec<_>>().as_slice() {
        ["arn", _, "sqs", _, account, name] => Some((account, name)),
        _ => None,
    }
}

/// An AWS account id: twelve digits.
fn is_account_id(account: &str) -> bool {
    account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())
}

/// `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`.
fn is_role_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ["arn", partition, "iam", "", account, resource] = parts.as_slice() else {
        return false;
    };
    partition.starts_with("aws")
        && partition
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'-')
        && is_account_id(account)
        && resource.strip_prefix("role/").is_some_and(|name| {
            !name.is_empty()
                && name.len() <= 512
                && !name.starts_with('/')
                && !name.ends_with('/')
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-/".contains(&b))
        })
}

/// What STS accepts as an external id.
fn is_external_id(id: &str) -> bool {
    (2..=1224).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@:/-_".contains(&b))
}

/// A distribution belongs to one account, so every route to it takes the same way in.
fn check_roles(routes: &[Route]) -> Result<(), ConfigError> {
    let way = |role: &Option<Role>| match role {
        Some(role) => format!("role {}", role.arn),
        None => "the function's own credentials".to_owned(),
    };
    for (i, route) in routes.iter().enumerate() {
        if let Some(other) = routes[..i].iter().find(|other| {
            other.distribution_id == route.distribution_id && other.role != route.role
        }) {
            return Err(invalid(
                "ROUTES",
                format!(
                    "reach distribution {} through {} and through {}: give every route to one distribution the same role_arn and external_id",
                    route.distribution_id,
                    way(&other.role),
                    way(&route.role)
                ),
            ));
        }
    }
    Ok(())
}

fn queue_url(url: String, variable: &'static str) -> Result<String, ConfigError> {
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(url)
    } else {
        Err(invalid(
            variable,
            format!("{url:?} is not a queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)"),
        ))
    }
}

impl CompletionEvents {
    fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Option<Self>, ConfigError> {
        let queue = get("WATCH_QUEUE_URL");
        let bus = match get("COMPLETION_EVENTS").map(|bus| bus.trim().to_owned()) {
            None => None,
            Some(off) if off.eq_ignore_ascii_case("off") => None,
            Some(bus) => Some(event_bus(bus)?),
        };
        match (bus, queue) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(invalid(
                "WATCH_QUEUE_URL",
                "is set but COMPLETION_EVENTS is off: set COMPLETION_EVENTS to an EventBridge bus, or unset WATCH_QUEUE_URL",
            )),
            (Some(_), None) => Err(invalid(
                "WATCH_QUEUE_URL",
                "is not set: COMPLETION_EVENTS needs the URL of an SQS queue whose messages invoke this function (in Queued mode, its buffer queue)",
            )),
            (Some(bus), Some(url)) => Ok(Some(CompletionEvents {
                bus,
                queue_url: queue_url(url, "WATCH_QUEUE_URL")?,
                first_delay_seconds: parse_delay(
                    get("COMPLETION_CHECK_DELAY_SECONDS"),
                    "COMPLETION_CHECK_DELAY_SECONDS",
                    defaults::COMPLETION_CHECK_DELAY_SECONDS,
                )?,
            })),
        }
    }
}

/// An EventBridge bus as PutEvents takes it: a name (up to 256 of `A-Za-z0-9._-/`), or an
/// `arn:PARTITION:events:REGION:ACCOUNT:event-bus/NAME`. A yes/no word is refused rather than
/// read as the name of a bus nobody made.
fn event_bus(bus: String) -> Result<String, ConfigError> {
    let is_name = |name: &str| {
        (1..=256).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b))
    };
    let is_arn = |arn: &str| {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        matches!(
            parts.as_slice(),
            ["arn", partition, "events", region, account, resource]
                if partition.starts_with("aws")
                    && !region.is_empty()
                    && is_account_id(account)
                    && resource.strip_prefix("event-bus/").is_some_and(is_name)
        )
    };
    let yes_no = ["on", "true", "yes", "1", "false", "no", "0"];
    if yes_no.iter().any(|word| bus.eq_ignore_ascii_case(word))
        || !(is_arn(&bus) || (!bus.starts_with("arn:") && is_name(&bus)))
    {
        return Err(invalid(
            "COMPLETION_EVENTS",
            format!(
                "{bus:?} is not an EventBridge bus: set it to off, or to the name or ARN of a bus (default for the account's default bus)"
            ),
        ));
    }
    Ok(bus)
}

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
    fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let default = CollapsePolicy::default();
        let collapse = match get("COLLAPSE")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("auto") => true,
            Some("never") => false,
            Some(other) => {
                return Err(invalid(
                    "COLLAPSE",
                    format!("{other:?} is neither auto nor never"),
                ));
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

/// Upper-case letters and digits, like E2QWRUHAPOMQZL.
pub fn is_distribution_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn parse_bool(
    value: Option<String>,
    variable: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    match value.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("true" | "1" | "yes") => Ok(true),
        Some("false" | "0" | "no") => Ok(false),
        Some(other) => Err(invalid(variable, format!("{other:?} is not true or false"))),
    }
}

fn parse_number(
    value: Option<String>,
    variable: &'static str,
    default: usize,
    range: std::ops::RangeInclusive<usize>,
) -> Result<usize, ConfigError> {
    let Some(raw) = value else { return Ok(default) };
    match raw.trim().parse::<usize>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(invalid(
            variable,
            format!(
                "{raw:?} is not a whole number from {} to {}",
                range.start(),
                range.end()
            ),
        )),
    }
}

/// A queue delay in seconds: what SQS's `DelaySeconds` accepts.
fn parse_delay(
    value: Option<String>,
    variable: &'static str,
    default: u64,
) -> Result<u64, ConfigError> {
    parse_number(
        value,
        variable,
        default as usize,
        0..=MAX_QUEUE_DELAY_SECONDS as usize,
    )
    .map(|seconds| seconds as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_vars(vars)
    }

    fn error(vars: &[(&str, &str)]) -> String {
        config(vars).unwrap_err().to_string()
    }

    #[test]
    fn single_distribution_from_plain_variables() {
        let config = config(&[
            ("DISTRIBUTION_ID", "E2QWRUHAPOMQZL"),
            ("KEY_PREFIX", "site/"),
            ("PATH_PREFIX", "/blog/"),
            ("INDEX_DOCUMENT", "index.html"),
        ])
        .unwrap();
        assert_eq!(
            config.routes,
            vec![Route {
                key_prefix: "site/".into(),
                path_prefix: "/blog".into(),
                distribution_id: "E2QWRUHAPOMQZL".into(),
                ..Route::default()
            }]
        );
        assert!(config.to_discover.is_empty());
        assert_eq!(config.index_document.as_deref(), Some("index.html"));
        assert!(config.plus_alias);
        assert_eq!(
            config.metrics_namespace.as_deref(),
            Some("S3CloudFrontInvalidator")
        );
    }

    #[test]
    fn parsing_asks_for_every_listed_setting_and_no_other() {
        let asked = std::cell::RefCell::new(std::collections::BTreeSet::new());
        let record = |vars: &[(&str, &str)]| {
            Config::from_lookup(|name| {
                asked.borrow_mut().insert(name.to_owned());
                vars.iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| (*value).to_owned())
            })
            .unwrap()
        };
        // Every optional branch taken: deferral, completion events, metrics on.
        record(&[
            ("DISTRIBUTION_ID", "EA"),
            (
                "DEFER_QUEUE_URL",
                "https://sqs.us-east-1.amazonaws.com/123456789012/q",
            ),
            ("COMPLETION_EVENTS", "default"),
            (
                "WATCH_QUEUE_URL",
                "https://sqs.us-east-1.amazonaws.com/123456789012/q",
            ),
        ]);
        record(&[("ROUTES", r#"[{"distribution_id":"EA"}]"#)]);
        let listed: std::collections::BTreeSet<String> =
            SETTINGS.iter().map(|s| s.name.to_owned()).collect();
        assert_eq!(asked.into_inner(), listed);
    }

    #[test]
    fn a_name_close_to_a_setting_names_the_one_meant() {
        let environment = [
            "SKIP_KEY",
            "CLEAN_URL",
            "DISTRIBUTIONID",
            "distribution_id",
            "INDEX_DOCUMENTS",
            "SKIP_KEYS",
            "PATH",
            "HOME",
            "LANG",
            "TZ",
            "AWS_REGION",
            "AWS_LAMBDA_FUNCTION_NAME",
            "AWS_LAMBDA_RUNTIME_API",
            "_HANDLER",
            "LAMBDA_TASK_ROOT",
            "LD_LIBRARY_PATH",
            "AWS_ENDPOINT_URL",
        ];
        assert_eq!(
            misspelled_settings(environment),
            [
                ("SKIP_KEY", "SKIP_KEYS"),
                ("CLEAN_URL", "CLEAN_URLS"),
                ("DISTRIBUTIONID", "DISTRIBUTION_ID"),
                ("distribution_id", "DISTRIBUTION_ID"),
                ("INDEX_DOCUMENTS", "INDEX_DOCUMENT"),
            ]
        );
    }

    #[test]
    fn index_document_is_on_unless_turned_off() {
        let on = config(&[("DISTRIBUTION_ID", "EA")]).unwrap();
        assert_eq!(on.index_document.as_deref(), Some("index.html"));
        for off in ["", " ", "off", "OFF"] {
            let config = config(&[("DISTRIBUTION_ID", "EA"), ("INDEX_DOCUMENT", off)]).unwrap();
            assert_eq!(config.index_document, None, "{off:?}");
        }
        let other = config(&[("DISTRIBUTION_ID", "EA"), ("INDEX_DOCUMENT", "default.htm")]);
        assert_eq!(
            other.unwrap().index_document.as_deref(),
            Some("default.htm")
        );
    }

    #[test]
    fn metrics_can_be_renamed_or_turned_off() {
        let renamed = config(&[
            ("DISTRIBUTION_ID", "EA"),
            ("METRICS_NAMESPACE", "Sites/Blog"),
        ])
        .unwrap();
        assert_eq!(renamed.metrics_namespace.as_deref(), Some("Sites/Blog"));
        let off = config(&[("DISTRIBUTION_ID", "EA"), ("METRICS", "off")]);
        assert_eq!(
            off.unwrap_err().to_string(),
            "invalid configuration: METRICS \"off\" is not true or false"
        );
        let off = config(&[("DISTRIBUTION_ID", "EA"), ("METRICS", "false")]).unwrap();
        assert_eq!(off.metrics_namespace, None);
    }

    #[test]
    fn missing_distribution_names_the_variable_and_the_fix() {
        let err = error(&[]);
        assert!(err.contains("DISTRIBUTION_ID is not set"), "{err}");
        assert!(err.contains("E2QWRUHAPOMQZL"), "{err}");
    }

    #[test]
    fn several_routes_from_json() {
        let config = config(&[(
            "ROUTES",
            r#"[{"bucket":"a","distribution_id":"EA"},{"bucket":"b","key_prefix":"www/","distribution_id":"EB"}]"#,
        )])
        .unwrap();
        assert_eq!(config.routes.len(), 2);
        assert_eq!(config.routes[1].key_prefix, "www/");
    }

    #[test]
    fn skip_keys_name_the_first_matching_pattern() {
        let config = config(&[
            ("DISTRIBUTION_ID", "EA"),
            ("SKIP_KEYS", " assets/** , **/*.map,"),
        ])
        .unwrap();
        let skip = &config.routes[0].skip_keys;
        assert_eq!(skip.patterns(), ["assets/**", "**/*.map"]);
        assert_eq!(skip.matching("assets/app.js.map"), Some("assets/**"));
        assert_eq!(skip.matching("assets/deep/er/a.js"), Some("assets/**"));
        assert_eq!(skip.matching("js/app.js.map"), Some("**/*.map"));
        assert_eq!(skip.matching("app.map"), Some("**/*.map"));
        assert_eq!(skip.matching("js/app.js"), None);
        assert_eq!(skip.matching("assets"), None);
        // `*` stays within a segment.
        let star = SkipKeys::new(vec!["img/*.png".into()]).unwrap();
        assert_eq!(star.matching("img/a.png"), Some("img/*.png"));
        assert_eq!(star.matching("img/2024/a.png"), None);
        assert_eq!(SkipKeys::default().matching("anything"), None);
    }

    #[test]
    fn route_fields_mirror_the_variables() {
        let single = config(&[
            ("DISTRIBUTION_ID", "EA"),
            ("SKIP_KEYS", "assets/**,**/*.map"),
            ("CLEAN_URLS", "true"),
            ("QUERY_STRINGS", "yes"),
            ("TENANT_ID", "dt_2wjDZi3hD1ivOXf6rpZJO1AB"),
            (
                "ROLE_ARN",
                "arn:aws:iam::111122223333:role/site/invalidator",
            ),
            ("EXTERNAL_ID", "shared-4f1c"),
        ])
        .unwrap();
        let routes = config(&[(
            "ROUTES",
            r#"[{"distribution_id":"EA","skip_keys":["assets/**","**/*.map"],"clean_urls":true,"query_strings":true,
                 "tenant_id":"dt_2wjDZi3hD1ivOXf6rpZJO1AB","role_arn":"arn:aws:iam::111122223333:role/site/invalidator","external_id":"shared-4f1c"}]"#,
        )])
        .unwrap();
        assert_eq!(single.routes, routes.routes);
        let route = &single.routes[0];
        assert!(route.clean_urls && route.query_strings);
        assert_eq!(
            route.tenant_id.as_deref(),
            Some("dt_2wjDZi3hD1ivOXf6rpZJO1AB")
        );
        assert_eq!(
            route.role,
            Some(Role {
                arn: "arn:aws:iam::111122223333:role/site/invalidator".into(),
                external_id: Some("shared-4f1c".into())
            })
        );
        let text = config(&[(
            "ROUTES",
            r#"[{"distribution_id":"EA","skip_keys":"a/**,b/**"}]"#,
        )])
        .unwrap();
        assert_eq!(text.routes[0].skip_keys.patterns(), ["a/**", "b/**"]);
    }

    #[test]
    fn auto_routes_wait_for_discovery() {
        let config = config(&[
            ("DISTRIBUTION_ID", "auto"),
            ("SOURCE_BUCKET", "example-site"),
            ("CLEAN_URLS", "true"),
        ])
        .unwrap();
        assert!(config.routes.is_empty());
        assert_eq!(config.to_discover.len(), 1);
        assert_eq!(
            config.to_discover[0].bucket.as_deref(),
            Some("example-site")
        );
        let found = Route {
            distribution_id: "EFOUND".into(),
            key_prefix: "site/".into(),
            origin_path: Some("/site".into()),
            ..config.to_discover[0].clone()
        };
        let ready = config.with_found(vec![found.clone()]).unwrap();
        assert_eq!(ready.routes, [found]);
        assert!(ready.to_discover.is_empty());
    }

    #[test]
    fn the_readmes_three_sites_parse() {
        let config = config(&[(
            "ROUTES",
            r#"[
  {"bucket": "my-site", "distribution_id": "auto", "skip_keys": ["static/**", "**/*.map"], "clean_urls": true},
  {"bucket": "shop-assets", "distribution_id": "E3MULTITENANT01", "tenant_id": "dt_2wjDZi3hD1ivOXf6rpZJO1AB", "query_strings": true},
  {"bucket": "partner-site", "distribution_id": "E1PARTNER0001", "role_arn": "arn:aws:iam::111122223333:role/site-invalidator", "external_id": "site-4f1c"}
]"#,
        )])
        .unwrap();
        assert_eq!(config.to_discover.len(), 1);
        assert_eq!(config.routes.len(), 2);
        assert!(config.routes[0].query_strings && config.routes[1].role.is_some());
    }

    #[test]
    fn one_distribution_is_reached_one_way() {
        let err = error(&[(
            "ROUTES",
            r#"[{"distribution_id":"EA","key_prefix":"a/"},{"distribution_id":"EA","key_prefix":"b/","role_arn":"arn:aws:iam::111122223333:role/x"}]"#,
        )]);
        assert!(
            err.contains("ROUTES reach distribution EA through the function's own credentials and through role arn:aws:iam::111122223333:role/x"),
            "{err}"
        );
    }

    #[test]
    fn completion_events_need_a_bus_and_a_queue() {
        let off = config(&[("DISTRIBUTION_ID", "EA"), ("COMPLETION_EVENTS", "OFF")]).unwrap();
        assert_eq!(off.completion, None);
        let queue = "https://sqs.us-east-1.amazonaws.com/123456789012/watch";
        for bus in [
            "default",
            "site-events",
            "arn:aws:events:eu-west-1:123456789012:event-bus/site-events",
        ] {
            let on = config(&[
                ("DISTRIBUTION_ID", "EA"),
                ("COMPLETION_EVENTS", bus),
                ("WATCH_QUEUE_URL", queue),
            ])
            .unwrap();
            assert_eq!(
                on.completion,
                Some(CompletionEvents {
                    bus: bus.into(),
                    queue_url: queue.into(),
                    first_delay_seconds: defaults::COMPLETION_CHECK_DELAY_SECONDS
                })
            );
        }
        let cases = [
            (
                vec![("COMPLETION_EVENTS", "site-events")],
                "WATCH_QUEUE_URL is not set: COMPLETION_EVENTS needs",
            ),
            (
                vec![("WATCH_QUEUE_URL", queue)],
                "WATCH_QUEUE_URL is set but COMPLETION_EVENTS is off",
            ),
            (
                vec![("COMPLETION_EVENTS", "on"), ("WATCH_QUEUE_URL", queue)],
                "COMPLETION_EVENTS \"on\" is not an EventBridge bus: set it to off, or to the name or ARN",
            ),
            (
                vec![("COMPLETION_EVENTS", "my bus"), ("WATCH_QUEUE_URL", queue)],
                "COMPLETION_EVENTS \"my bus\" is not an EventBridge bus",
            ),
            (
                vec![
                    (
                        "COMPLETION_EVENTS",
                        "arn:aws:events:eu-west-1:1234:event-bus/x",
                    ),
                    ("WATCH_QUEUE_URL", queue),
                ],
                "is not an EventBridge bus",
            ),
            (
                vec![
                    ("COMPLETION_EVENTS", "default"),
                    ("WATCH_QUEUE_URL", "watch"),
                ],
                "WATCH_QUEUE_URL \"watch\" is not a queue URL",
            ),
            (
                vec![
                    ("COMPLETION_EVENTS", "default"),
                    ("WATCH_QUEUE_URL", queue),
                    ("COMPLETION_CHECK_DELAY_SECONDS", "901"),
                ],
                "COMPLETION_CHECK_DELAY_SECONDS \"901\" is not a whole number from 0 to 900",
            ),
        ];
        for (mut vars, expected) in cases {
            vars.push(("DISTRIBUTION_ID", "EA"));
            let err = config(&vars).unwrap_err().to_string();
            assert!(err.contains(expected), "{vars:?}: {err}");
        }
    }

    #[test]
    fn invalid_values_are_named() {
        let cases = [
            (
                vec![("DISTRIBUTION_ID", "e-lower")],
                "DISTRIBUTION_ID \"e-lower\" is not a CloudFront",
            ),
            (vec![("ROUTES", "{}")], "ROUTES is not a JSON array"),
            (vec![("ROUTES", "[]")], "ROUTES is an empty list"),
            (
                vec![
                    ("ROUTES", "[{\"distribution_id\":\"EA\"}]"),
                    ("DISTRIBUTION_ID", "EB"),
                ],
                "ROUTES and DISTRIBUTION_ID are both set",
            ),
            (
                vec![
                    ("ROUTES", "[{\"distribution_id\":\"EA\"}]"),
                    ("SKIP_KEYS", "a/**"),
                ],
                "SKIP_KEYS is set together with ROUTES, which replaces it: give each route its skip_keys field instead",
            ),
            (
                vec![("DISTRIBUTION_ID", "EA"), ("PATH_PREFIX", "no-slash")],
                "PATH_PREFIX \"no-slash\" must start with /",
            ),
            (
                vec![("DISTRIBUTION_ID", "EA"), ("PATH_PREFIX", "/a b")],
                "PATH_PREFIX \"/a b\"",
            ),
            (
                vec![
                    ("DISTRIBUTION_ID", "EA"),
                    ("INDEX_DOCUMENT", "a/index.html"),
                ],
                "INDEX_DOCUMENT \"a/index.html\"",
            ),
            (
                vec![
                    ("DISTRIBUTION_ID", "EA"),
                    ("INVALIDATE_PLUS_ALIAS", "maybe"),
                ],
                "INVALIDATE_PLUS_ALIAS \"maybe\" is not true or false",
            ),
            (
                vec![("DISTRIBUTION_ID", "EA"), ("SKIP_KEYS", "assets/[")],
                "SKIP_KEYS pattern \"assets/[\" is not a glob pattern (",
            ),
            (
                vec![("DISTRIBUTION_ID", "EA"), ("SKIP_KEYS", "/assets/**")],
                "SKIP_KEYS pattern \"/assets/**\" starts with /, but object keys do not: write \"assets/**\"",
            ),
            (
                vec![("DISTRIBUTION_ID", "EA"), ("CLEAN_URLS", "sometimes")],
                "CLEAN_URLS \"sometimes\" is not true or false",
            ),
            (
                vec![
                    ("DISTRIBUTION_ID", "EA"),
                    ("QUERY_STRINGS", "true"),
                    ("WILDCARD_BUDGET", "0"),
                ],
                "QUERY_STRINGS sends every path as a wildcard, but WILDCARD_BUDGET is 0",
            ),
            (
                vec![("DISTRIBUTION_ID", "EA"), ("EXTERNAL_ID", "shared")],
                "EXTERNAL_ID is set without a role ARN",
            ),
            (
                vec![("DISTRIBUTION_ID", "EA"), ("ROLE_ARN", "invalidator")],
                "ROLE_ARN \"invalidator\" is not an IAM role ARN",
            ),
            (
                vec![
                    ("DISTRIBUTION_ID", "EA"),
                    ("ROLE_ARN", "arn:aws:iam::1111:role/x"),
                ],
                "ROLE_ARN \"arn:aws:iam::1111:role/x\" is not an IAM role ARN",
            ),
            (
                vec![
                    ("DISTRIBUTION_ID", "EA"),
                    ("ROLE_ARN", "arn:aws:iam::111122223333:user/x"),
                ],
                "is not an IAM role ARN",
            ),
            (
                vec![
                    ("DISTRIBUTION_ID", "EA"),
                    ("ROLE_ARN", "arn:aws:iam::111122223333:role/x"),
                    ("EXTERNAL_ID", "has space"),
                ],
                "EXTERNAL_ID must be 2 to 1224 characters",
            ),
            (
                vec![("DISTRIBUTION_ID", "EA"), ("TENANT_ID", "dt/1")],
                "TENANT_ID \"dt/1\" is not a distribution tenant id",
            ),
            (
                vec![("DISTRIBUTION_ID", "auto")],
                "SOURCE_BUCKET is not set, but auto needs it",
            ),
            (
                vec![
                    ("DISTRIBUTION_ID", "auto"),
                    ("SOURCE_BUCKET", "b"),
                    ("KEY_PREFIX", "site/"),
                ],
                "KEY_PREFIX must be empty with auto",
            ),
            (
                vec![
                    ("DISTRIBUTION_ID", "auto"),
                    ("SOURCE_BUCKET", "b"),
                    ("TENANT_ID", "dt_1"),
                ],
                "TENANT_ID cannot be used with auto",
            ),
            (
                vec![(
                    "ROUTES",
                    r#"[{"distribution_id":"EA"},{"distribution_id":"auto"}]"#,
                )],
                "ROUTES entry 2: bucket is not set, but auto needs it",
            ),
            (
                vec![("ROUTES", r#"[{"distribution_id":"EA","skip_keys":"a/["}]"#)],
                "ROUTES entry 1: skip_keys pattern \"a/[\" is not a glob pattern",
            ),
            (
                vec![("ROUTES", r#"[{"distribution_id":"EA","skip_keys":7}]"#)],
                "a comma-separated string or an array of glob patterns",
            ),
        ];
        for (vars, expected) in cases {
            let err = error(&vars);
            assert!(err.contains(expected), "{vars:?}: {err}");
            assert_eq!(err.lines().count(), 1, "{err}");
        }
    }
}
