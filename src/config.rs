//! Configuration: read once from the environment, validated before the first event. This
//! module owns every configuration value type and its parsing; the rest of the crate only
//! reads them.

use serde::Deserialize;

/// CloudFront accepts at most this many paths in one request (and in progress).
pub const MAX_PATHS_PER_REQUEST: usize = 3000;
/// CloudFront allows at most this many wildcard paths in progress per distribution.
pub const MAX_WILDCARDS_IN_PROGRESS: usize = 15;

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
}

/// Deferral of invalidations to the function's own queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defer {
    /// The SQS queue whose messages invoke this function.
    pub queue_url: String,
    /// Delay of a first deferral; the n-th deferral of the same paths waits n times as long,
    /// up to SQS's 900 s.
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
                Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
                    Some(Defer {
                        queue_url: url,
                        first_delay_seconds: parse_number(
                            get("DEFER_DELAY_SECONDS"),
                            "DEFER_DELAY_SECONDS",
                            60,
                            0..=900,
                        )? as u64,
                    })
                }
                Some(other) => {
                    return Err(invalid(
                        "DEFER_QUEUE_URL",
                        format!(
                            "{other:?} is not a queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)"
                        ),
                    ));
                }
            },
        })
    }
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
