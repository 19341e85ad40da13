//! What each of doctor's answers means, without I/O: facts read from AWS in, a verdict and
//! the command that fixes it out.

use crate::discover::{key_prefix, serves_bucket};

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail,
    /// Worth knowing, never a failure (the last invalidations, what could not be checked).
    Info,
}

/// One line of doctor's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub status: Status,
    /// What was checked, like `distribution EDFDVBD6EXAMPLE`.
    pub subject: String,
    pub detail: String,
    /// For a failure, the command that fixes it.
    pub fix: Option<String>,
}

impl Check {
    pub fn pass(subject: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            status: Status::Pass,
            subject: subject.into(),
            detail: detail.into(),
            fix: None,
        }
    }

    pub fn info(subject: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            status: Status::Info,
            ..Check::pass(subject, detail)
        }
    }

    pub fn fail(
        subject: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            status: Status::Fail,
            fix: Some(fix.into()),
            ..Check::pass(subject, detail)
        }
    }
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = match self.status {
            Status::Pass => "ok  ",
            Status::Fail => "FAIL",
            Status::Info => "info",
        };
        write!(f, "{status} {}: {}", self.subject, self.detail)?;
        if let Some(fix) = &self.fix {
            write!(f, " -- fix: {fix}")?;
        }
        Ok(())
    }
}

/// Where the settings came from, which decides how a setting is changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deployment {
    /// The operator's environment.
    Environment,
    /// A function of a CloudFormation (SAM) stack: changed with `sam deploy`.
    Stack { name: String, region: String },
    /// A function deployed otherwise: its environment, whole, as it would be after the fix.
    Function {
        name: String,
        variables: Vec<(String, String)>,
    },
}

/// The template parameter that sets each single-site setting.
fn parameter(setting: &str) -> Option<&'static str> {
    Some(match setting {
        "DISTRIBUTION_ID" => "DistributionId",
        "SOURCE_BUCKET" => "BucketName",
        "KEY_PREFIX" => "KeyPrefix",
        "PATH_PREFIX" => "PathPrefix",
        "TENANT_ID" => "DistributionTenantId",
        _ => return None,
    })
}

/// Quotes `text` for a POSIX shell when it needs it.
pub fn shell_quote(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@,+%".contains(&b));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

impl Deployment {
    /// The command that deploys the stack again with `overrides` (`Name=value`).
    pub fn redeploy(&self, overrides: &str) -> String {
        match self {
            Deployment::Stack { name, region } => format!(
                "sam deploy --stack-name {name} --region {region} --parameter-overrides {}",
                shell_quote(overrides)
            ),
            _ => format!(
                "sam deploy --parameter-overrides {}",
                shell_quote(overrides)
            ),
        }
    }

    /// The command that sets `setting` to `value`.
    pub fn set(&self, setting: &str, value: &str) -> String {
        self.rename(setting, setting, value)
    }

    /// The command that removes `from` and sets `to` to `value` (the same name to change a
    /// value).
    pub fn rename(&self, from: &str, to: &str, value: &str) -> String {
        let set = format!("{to}={}", shell_quote(value));
        match self {
            Deployment::Environment if from == to => format!("export {set}"),
            Deployment::Environment => format!("unset {from} && export {set}"),
            Deployment::Stack { name, .. } => match parameter(to) {
                // SAM reads `Name=""` for an empty value (or one with spaces).
                Some(parameter) if value.is_empty() || value.contains(char::is_whitespace) => {
                    self.redeploy(&format!("{parameter}=\"{value}\""))
                }
                Some(parameter) => self.redeploy(&format!("{parameter}={value}")),
                None => format!("set {set} in the environment of stack {name}'s function"),
            },
            Deployment::Function { name, variables } => {
                let mut variables = variables.clone();
                variables.retain(|(name, _)| name != from && name != to);
                let setting = to;
                variables.push((setting.to_owned(), value.to_owned()));
                variables.sort();
                let map: serde_json::Map<String, serde_json::Value> = variables
                    .into_iter()
                    .map(|(name, value)| (name, value.into()))
                    .collect();
                let environment = serde_json::json!({ "Variables": map });
                format!(
                    "aws lambda update-function-configuration --function-name {name} --environment {}",
                    shell_quote(&environment.to_string())
                )
            }
        }
    }

    /// The command that deploys the function in `region` instead.
    pub fn move_to(&self, region: &str) -> String {
        match self {
            Deployment::Stack { name, region: old } => format!(
                "sam delete --stack-name {name} --region {old} && sam deploy --stack-name {name} --region {region}"
            ),
            _ => format!("sam deploy --region {region}"),
        }
    }
}

/// The region of a bucket from GetBucketLocation's `LocationConstraint`: none (or empty) is
/// us-east-1, and the legacy `EU` is eu-west-1.
pub fn bucket_region(location_constraint: Option<&str>) -> String {
    match location_constraint.unwrap_or_default() {
        "" => "us-east-1".to_owned(),
        "EU" => "eu-west-1".to_owned(),
        region => region.to_owned(),
    }
}

/// A distribution's origin, as GetDistribution describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub domain_name: String,
    pub origin_path: String,
}

/// What a route expects of its distribution's origins.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub bucket: &'a str,
    pub key_prefix: &'a str,
    pub path_prefix: &'a str,
}

/// The key prefix that makes the function's paths those the origin serves: a request for
/// `/PATH_PREFIX/rest` reaches key `ORIGIN_PATH/PATH_PREFIX/rest`, which the function must
/// read as `KEY_PREFIX` + `rest`.
pub fn consistent_key_prefix(origin_path: &str, path_prefix: &str) -> String {
    let mut prefix = key_prefix(origin_path);
    let path = path_prefix.trim_matches('/');
    if !path.is_empty() {
        prefix.push_str(path);
        prefix.push('/');
    }
    prefix
}

/// Whether the distribution serves the bucket where the route says it does. `Err` holds the
/// failure's detail and, when only the key prefix is off, the key prefix that fits.
pub fn origin_verdict(
    expected: Expected<'_>,
    origins: &[Origin],
) -> Result<String, (String, Option<String>)> {
    let in_bucket: Vec<&Origin> = origins
        .iter()
        .filter(|origin| serves_bucket(&origin.domain_name, expected.bucket))
        .collect();
    let Some(first) = in_bucket.first() else {
        let names: Vec<&str> = origins.iter().map(|o| o.domain_name.as_str()).collect();
        return Err((
            format!(
                "has no origin in bucket {} (its origins: {}): nothing the function invalidates is served by it",
                expected.bucket,
                names.join(", ")
            ),
            None,
        ));
    };
    if let Some(origin) = in_bucket.iter().find(|origin| {
        consistent_key_prefix(&origin.origin_path, expected.path_prefix) == expected.key_prefix
    }) {
        let path = match origin.origin_path.as_str() {
            "" => String::new(),
            path => format!(", origin path {path}"),
        };
        return Ok(format!(
            "serves bucket {} through {}{path}",
            expected.bucket, origin.domain_name
        ));
    }
    let fits = consistent_key_prefix(&first.origin_path, expected.path_prefix);
    Err((
        format!(
            "serves bucket {} through {} with origin path {:?}, which needs KEY_PREFIX {fits:?} (with PATH_PREFIX {:?}), not {:?}: the paths invalidated are not those served",
            expected.bucket,
            first.domain_name,
            first.origin_path,
            expected.path_prefix,
            expected.key_prefix
        ),
        Some(fits),
    ))
}

/// The bucket's notification configuration, as GetBucketNotificationConfiguration answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notifications {
    pub eventbridge: bool,
    /// Each SQS destination's ARN, with its event names.
    pub queues: Vec<(String, Vec<String>)>,
    /// Each Lambda destination's ARN, with its event names.
    pub functions: Vec<(String, Vec<String>)>,
}

/// How the bucket's changes reach the function, or why they do not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// A notification sends both creations and removals to one of the targets.
    Direct(String),
    /// A notification reaches a target, but not for both kinds of change.
    Partial { target: String, missing: String },
    /// EventBridge is on; the rule is still to be found.
    EventBridge,
    /// Neither.
    None,
}

/// Whether `arn` is `target`, or `target` with a version or alias.
fn is_target(arn: &str, target: &str) -> bool {
    arn == target
        || arn
            .strip_prefix(target)
            .is_some_and(|rest| rest.starts_with(':') && !rest[1..].contains(':'))
}

/// How `notifications` reach `targets` (the function's queues and the function).
pub fn reach(notifications: &Notifications, targets: &[String]) -> Reach {
    let destinations = notifications
        .queues
        .iter()
        .chain(&notifications.functions)
        .filter(|(arn, _)| targets.iter().any(|target| is_target(arn, target)));
    let mut partial = None;
    for (arn, events) in destinations {
        let covers = |kind: &str| events.iter().any(|event| event.starts_with(kind));
        let missing: Vec<&str> = ["s3:ObjectCreated", "s3:ObjectRemoved"]
            .into_iter()
            .filter(|kind| !covers(kind))
            .collect();
        if missing.is_empty() {
            return Reach::Direct(arn.clone());
        }
        partial.get_or_insert(Reach::Partial {
            target: arn.clone(),
            missing: missing
                .iter()
                .map(|kind| format!("{kind}:*"))
                .collect::<Vec<_>>()
                .join(" and "),
        });
    }
    match (partial, notifications.eventbridge) {
        (_, true) => Reach::EventBridge,
        (Some(partial), false) => partial,
        (None, false) => Reach::None,
    }
}

/// The commands that turn on a bucket's EventBridge notifications and keep every other
/// notification: get, merge, put (PutBucketNotificationConfiguration replaces the whole
/// configuration, and the CLI prints nothing for an empty one, hence the `{}`).
pub fn eventbridge_on(bucket: &str, region: &str) -> String {
    let bucket = shell_quote(bucket);
    format!(
        "(aws s3api get-bucket-notification-configuration --bucket {bucket} --region {region}; echo '{{}}') | jq -s '.[0] + {{EventBridgeConfiguration: {{}}}}' > notification.json && aws s3api put-bucket-notification-configuration --bucket {bucket} --region {region} --notification-configuration file://notification.json"
    )
}

/// The region of an ARN (`arn:PARTITION:SERVICE:REGION:...`).
pub fn region_of_arn(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|region| !region.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::queue_of_arn;

    fn origin(domain_name: &str, origin_path: &str) -> Origin {
        Origin {
            domain_name: domain_name.into(),
            origin_path: origin_path.into(),
        }
    }

    fn expected<'a>(key_prefix: &'a str, path_prefix: &'a str) -> Expected<'a> {
        Expected {
            bucket: "site",
            key_prefix,
            path_prefix,
        }
    }

    #[test]
    fn regions_from_location_constraints() {
        assert_eq!(bucket_region(None), "us-east-1");
        assert_eq!(bucket_region(Some("")), "us-east-1");
        assert_eq!(bucket_region(Some("EU")), "eu-west-1");
        assert_eq!(bucket_region(Some("ap-south-2")), "ap-south-2");
    }

    #[test]
    fn an_origin_serves_the_route_when_its_path_gives_the_key_prefix() {
        let root = [origin("site.s3.us-east-1.amazonaws.com", "")];
        assert!(origin_verdict(expected("", ""), &root).is_ok());
        let under = [
            origin("api.example.com", ""),
            origin("site.s3-website-eu-west-1.amazonaws.com", "/www"),
        ];
        let served = origin_verdict(expected("www/", ""), &under).unwrap();
        assert!(served.contains("origin path /www"), "{served}");
        // Behind the path prefix /blog, keys are read under blog/ as well.
        assert!(origin_verdict(expected("www/blog/", "/blog"), &under).is_ok());

        let (detail, fits) = origin_verdict(expected("", ""), &under).unwrap_err();
        assert_eq!(fits.as_deref(), Some("www/"));
        assert!(detail.contains("origin path \"/www\""), "{detail}");

        let (detail, fits) =
            origin_verdict(expected("", ""), &[origin("other.s3.amazonaws.com", "")]).unwrap_err();
        assert_eq!(fits, None);
        assert!(
            detail
                .starts_with("has no origin in bucket site (its origins: other.s3.amazonaws.com)"),
            "{detail}"
        );
    }

    #[test]
    fn notifications_reach_a_target_for_both_kinds_of_change() {
        let queue = "arn:aws:sqs:us-east-1:123456789012:buffer".to_owned();
        let function = "arn:aws:lambda:us-east-1:123456789012:function:inv".to_owned();
        let both = vec!["s3:ObjectCreated:*".into(), "s3:ObjectRemoved:*".into()];
        let to_queue = Notifications {
            queues: vec![(queue.clone(), both.clone())],
            ..Notifications::default()
        };
        assert_eq!(
            reach(&to_queue, std::slice::from_ref(&queue)),
            Reach::Direct(queue.clone())
        );
        assert_eq!(
            reach(&to_queue, std::slice::from_ref(&function)),
            Reach::None
        );
        let to_alias = Notifications {
            functions: vec![(format!("{function}:live"), both)],
            ..Notifications::default()
        };
        assert!(matches!(
            reach(&to_alias, std::slice::from_ref(&function)),
            Reach::Direct(_)
        ));
        let created_only = Notifications {
            queues: vec![(queue.clone(), vec!["s3:ObjectCreated:Put".into()])],
            ..Notifications::default()
        };
        assert_eq!(
            reach(&created_only, std::slice::from_ref(&queue)),
            Reach::Partial {
                target: queue.clone(),
                missing: "s3:ObjectRemoved:*".into()
            }
        );
        let eventbridge = Notifications {
            eventbridge: true,
            ..Notifications::default()
        };
        assert_eq!(reach(&eventbridge, &[queue]), Reach::EventBridge);
        assert_eq!(reach(&Notifications::default(), &[]), Reach::None);
    }

    #[test]
    fn fixes_speak_the_deployments_language() {
        assert_eq!(
            Deployment::Environment.set("KEY_PREFIX", "site/"),
            "export KEY_PREFIX=site/"
        );
        assert_eq!(
            Deployment::Environment.rename("SKIP_KEY", "SKIP_KEYS", "static/**"),
            "unset SKIP_KEY && export SKIP_KEYS='static/**'"
        );
        let stack = Deployment::Stack {
            name: "blog".into(),
            region: "eu-west-1".into(),
        };
        assert_eq!(
            stack.set("KEY_PREFIX", "site/"),
            "sam deploy --stack-name blog --region eu-west-1 --parameter-overrides KeyPrefix=site/"
        );
        assert_eq!(
            stack.set("KEY_PREFIX", ""),
            r#"sam deploy --stack-name blog --region eu-west-1 --parameter-overrides 'KeyPrefix=""'"#
        );
        assert_eq!(
            stack.move_to("us-west-2"),
            "sam delete --stack-name blog --region eu-west-1 && sam deploy --stack-name blog --region us-west-2"
        );
        let function = Deployment::Function {
            name: "inv".into(),
            variables: vec![
                ("SKIP_KEYS".into(), "a/**,it's".into()),
                ("KEY_PREFIX".into(), String::new()),
                ("CLEAN_URL".into(), "true".into()),
            ],
        };
        assert!(
            function
                .rename("CLEAN_URL", "CLEAN_URLS", "true")
                .contains(r#"{"Variables":{"CLEAN_URLS":"true","KEY_PREFIX":"","SKIP_KEYS""#)
        );
        assert_eq!(
            function.set("KEY_PREFIX", "site/"),
            r#"aws lambda update-function-configuration --function-name inv --environment '{"Variables":{"CLEAN_URL":"true","KEY_PREFIX":"site/","SKIP_KEYS":"a/**,it'\''s"}}'"#
        );
        assert!(eventbridge_on("site", "eu-west-1").contains(
            "jq -s '.[0] + {EventBridgeConfiguration: {}}' > notification.json && aws s3api put-bucket-notification-configuration --bucket site --region eu-west-1"
        ));
    }

    #[test]
    fn arns_give_their_parts() {
        assert_eq!(
            queue_of_arn("arn:aws:sqs:eu-west-1:123456789012:failures"),
            Some(("123456789012", "failures"))
        );
        assert_eq!(queue_of_arn("arn:aws:sns:eu-west-1:123456789012:t"), None);
        assert_eq!(
            region_of_arn("arn:aws:lambda:eu-west-1:123456789012:function:f"),
            Some("eu-west-1")
        );
    }
}
