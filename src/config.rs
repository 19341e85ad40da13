//! Configuration: read once from the environment, validated before the first event. This
//! module owns every configuration value type and its parsing; the rest of the crate only
//! reads them.

use serde::Deserialize;

/// CloudFront accepts at most this many paths in one request (and in progress).
pub const MAX_PATHS_PER_REQUEST: usize = 3000;
/// CloudFront allows at most this many wildcard paths in progress per distribution.
pub const MAX_WILDCARDS_IN_PROGRESS: usize = 15;
/// SQS holds a message back at most this long (`DelaySeconds`).
pub const MAX_QUEUE_DELAY_SECONDS: u64 = 900;

/// Where changes of one bucket (or any bucket) under one key prefix are served.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Only events of this bucket; `None` accepts any bucket.
    #[serde(default)]
    pub bucket: Option<String>,
    /// Stripped from keys; keys outside it are skipped.
    #[serde(default)]
    pub key_prefix: String,
    /// Prepended to paths, for a distribution whose origin path is not the bucket root.
    #[serde(default)]
    pub path_prefix: String,
    pub distribution_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub routes: Vec<Route>,
    /// With `index.html`, a change to `a/index.html` also invalidates `/a/` and `/a`.
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

/// Default delay of a first completion check. CloudFront reports most invalidations completed
/// within a minute (AWS's own `invalidation-completed` waiter polls every 20 s and gives up
/// after 10 minutes), so a first look after a minute usually finds it done: one check per
/// invalidation, and a SecondsToComplete that overstates by less than a minute.
const DEFAULT_COMPLETION_CHECK_DELAY_SECONDS: usize = 60;

/// Deferral of invalidations to the function's own queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defer {
    /// The SQS queue whose messages invoke this function.
    pub queue_url: String,
    /// Delay of a first deferral; each further deferral of the same paths doubles it, up to
    /// SQS's 900 s.
    pub first_delay_seconds: u64,
}

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

impl Config {
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
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let routes = match (get("ROUTES"), get("DISTRIBUTION_ID")) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "ROUTES",
                    "and DISTRIBUTION_ID are both set: use ROUTES alone for several distributions, or DISTRIBUTION_ID with SOURCE_BUCKET, KEY_PREFIX and PATH_PREFIX for one",
                ));
            }
            (Some(json), None) => serde_json::from_str::<Vec<Route>>(&json).map_err(|e| {
                invalid(
                    "ROUTES",
                    format!(
                        "is not a JSON array of {{\"distribution_id\", \"bucket\", \"key_prefix\", \"path_prefix\"}} objects: {e}"
                    ),
                )
            })?,
            (None, Some(distribution_id)) => vec![Route {
                bucket: get("SOURCE_BUCKET"),
                key_prefix: get("KEY_PREFIX").unwrap_or_default(),
                path_prefix: get("PATH_PREFIX").unwrap_or_default(),
                distribution_id,
            }],
            (None, None) => {
                return Err(invalid(
                    "DISTRIBUTION_ID",
                    "is not set: set it to the id of the CloudFront distribution to invalidate (like E2QWRUHAPOMQZL), or set ROUTES",
                ));
            }
        };
        if routes.is_empty() {
            return Err(invalid(
                "ROUTES",
                "is an empty list: give at least one route",
            ));
        }
        let routes = routes
            .into_iter()
            .map(normalise_route)
            .collect::<Result<Vec<_>, _>>()?;
        let index_document = get("INDEX_DOCUMENT");
        if let Some(index) = &index_document
            && (index.contains('/') || index.trim() != index)
        {
            return Err(invalid(
                "INDEX_DOCUMENT",
                format!("{index:?} must be a plain file name such as index.html"),
            ));
        }
        Ok(Config {
            routes,
            index_document,
            plus_alias: parse_bool(get("INVALIDATE_PLUS_ALIAS"), "INVALIDATE_PLUS_ALIAS", true)?,
            policy: CollapsePolicy::from_lookup(&get)?,
            metrics_namespace: parse_bool(get("METRICS"), "METRICS", true)?.then(|| {
                get("METRICS_NAMESPACE").unwrap_or_else(|| "S3CloudFrontInvalidator".into())
            }),
            defer: match get("DEFER_QUEUE_URL") {
                None => None,
                Some(url) => Some(Defer {
                    queue_url: queue_url(url, "DEFER_QUEUE_URL")?,
                    first_delay_seconds: parse_number(
                        get("DEFER_DELAY_SECONDS"),
                        "DEFER_DELAY_SECONDS",
                        60,
                        0..=MAX_QUEUE_DELAY_SECONDS as usize,
                    )? as u64,
                }),
            },
            completion: CompletionEvents::from_lookup(&get)?,
        })
    }
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
                first_delay_seconds: parse_number(
                    get("COMPLETION_CHECK_DELAY_SECONDS"),
                    "COMPLETION_CHECK_DELAY_SECONDS",
                    DEFAULT_COMPLETION_CHECK_DELAY_SECONDS,
                    0..=MAX_QUEUE_DELAY_SECONDS as usize,
                )? as u64,
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
                    && account.len() == 12
                    && account.bytes().all(|b| b.is_ascii_digit())
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

fn normalise_route(mut route: Route) -> Result<Route, ConfigError> {
    let id = &route.distribution_id;
    if !is_distribution_id(id) {
        return Err(invalid(
            "DISTRIBUTION_ID",
            format!(
                "{id:?} is not a CloudFront distribution id (upper-case letters and digits, like E2QWRUHAPOMQZL)"
            ),
        ));
    }
    let prefix = route.path_prefix.trim_end_matches('/');
    if !prefix.is_empty()
        && (!prefix.starts_with('/')
            || crate::path::encode(prefix) != prefix
            || prefix.contains(['~', '*']))
    {
        return Err(invalid(
            "PATH_PREFIX",
            format!(
                "{:?} must start with / and hold only characters that need no percent-encoding, and no ~ or *",
                route.path_prefix
            ),
        ));
    }
    route.path_prefix = prefix.to_owned();
    Ok(route)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_vars(vars)
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
                bucket: None,
                key_prefix: "site/".into(),
                path_prefix: "/blog".into(),
                distribution_id: "E2QWRUHAPOMQZL".into()
            }]
        );
        assert_eq!(config.index_document.as_deref(), Some("index.html"));
        assert!(config.plus_alias);
        assert_eq!(
            config.metrics_namespace.as_deref(),
            Some("S3CloudFrontInvalidator")
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
        let err = config(&[]).unwrap_err().to_string();
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
                    first_delay_seconds: 60
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
        ];
        for (vars, expected) in cases {
            let err = config(&vars).unwrap_err().to_string();
            assert!(err.contains(expected), "{vars:?}: {err}");
        }
    }
}
