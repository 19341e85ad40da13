//! `doctor`: checks a deployment with the operator's credentials, read-only, one line per
//! check, each failure with the command that fixes it. The settings are the function's, from
//! the environment or from the deployed function (`--function`). What each answer means is
//! decided in `checks`, without I/O; this module asks AWS.
//!
//! Its SDK clients (S3, Lambda, SQS, EventBridge, CloudFront) are built here, when doctor
//! runs: the function's cold start never pays for them.

mod checks;

use std::collections::BTreeSet;
use std::process::ExitCode;

use aws_config::{Region, SdkConfig};
use aws_sdk_sqs::types::QueueAttributeName;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::cli::{DoctorArgs, misspelling_warnings, print_quietly};
use crate::config::{Config, Route, misspelled_settings, queue_of_arn};
use crate::discover::{discover, routes_for, serves_bucket};
use crate::send::{CloudFront, one_line};
pub use checks::{Check, Status};
use checks::{
    Deployment, Expected, Notifications, Origin, Reach, bucket_region, eventbridge_on,
    origin_verdict, reach, region_of_arn,
};

/// The tag CloudFormation puts on every resource of a stack.
const STACK_TAG: &str = "aws:cloudformation:stack-name";

/// An SDK error in one line: the service's code and message, or the chain of causes.
fn sdk_error<E, R>(error: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    match (error.code(), error.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => one_line(error),
    }
}

/// Prints each check as it is made, and remembers whether one failed.
#[derive(Default)]
struct Report {
    failed: usize,
}

impl Report {
    fn add(&mut self, check: Check) {
        if check.status == Status::Fail {
            self.failed += 1;
        }
        print_quietly(&format!("{check}\n"));
    }

    fn exit(&self) -> ExitCode {
        match self.failed {
            0 => ExitCode::SUCCESS,
            _ => ExitCode::FAILURE,
        }
    }
}

/// The function's settings, and what else its deployment says.
struct Settings {
    variables: Vec<(String, String)>,
    deployment: Deployment,
    /// The function's region.
    region: Option<String>,
    function_arn: Option<String>,
    /// Direct mode's on-failure destination.
    on_failure: Option<String>,
}

impl Settings {
    fn get(&self, name: &str) -> Option<String> {
        self.variables
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    }
}

/// Runs every check and prints one line each; exit 0 when all pass, 1 otherwise.
pub async fn run(args: &DoctorArgs, sdk: &SdkConfig) -> ExitCode {
    let sdk = &match &args.region {
        Some(region) => sdk.to_builder().region(Region::new(region.clone())).build(),
        None => sdk.clone(),
    };
    let mut report = Report::default();
    let Some(settings) = settings(args, sdk, &mut report).await else {
        return report.exit();
    };
    for (name, meant) in misspelled_settings(settings.variables.iter().map(|(n, _)| n.as_str())) {
        let value = settings.get(name).unwrap_or_default();
        let warning = misspelling_warnings([name]).remove(0);
        report.add(Check::fail(
            format!("setting {name}"),
            warning,
            settings.deployment.rename(name, meant, &value),
        ));
    }
    let Some(config) = config(&settings, sdk, &mut report).await else {
        return report.exit();
    };
    let Some(region) = settings
        .region
        .clone()
        .or_else(|| sdk.region().map(ToString::to_string))
    else {
        report.add(Check::fail(
            "region",
            "no region is configured for the function",
            "export AWS_REGION=REGION",
        ));
        return report.exit();
    };
    let doctor = Doctor {
        sdk: sdk.to_builder().region(Region::new(region.clone())).build(),
        region,
        settings,
        config,
        bucket: args.bucket.clone(),
    };
    let queues = doctor.queues().await;
    doctor.buckets(&queues, &mut report).await;
    doctor.distributions(&mut report).await;
    doctor.failure_queues(&queues, &mut report).await;
    doctor.invalidations(&mut report).await;
    report.exit()
}

/// The settings from the deployed function, or from the environment.
async fn settings(args: &DoctorArgs, sdk: &SdkConfig, report: &mut Report) -> Option<Settings> {
    let Some(name) = &args.function else {
        let variables = std::env::vars_os()
            .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
            .collect();
        return Some(Settings {
            variables,
            deployment: Deployment::Environment,
            region: None,
            function_arn: None,
            on_failure: None,
        });
    };
    let lambda = aws_sdk_lambda::Client::new(sdk);
    let function = match lambda
        .get_function_configuration()
        .function_name(name)
        .send()
        .await
    {
        Ok(function) => function,
        Err(error) => {
            report.add(Check::fail(
                format!("function {name}"),
                format!("its configuration cannot be read: {}", sdk_error(&error)),
                "aws lambda list-functions --query 'Functions[].FunctionName' (and give the function's --region)",
            ));
            return None;
        }
    };
    let mut variables: Vec<(String, String)> = function
        .environment()
        .and_then(|environment| environment.variables())
        .map(|variables| variables.clone().into_iter().collect())
        .unwrap_or_default();
    variables.sort();
    let function_arn = function.function_arn().map(str::to_owned);
    let region = function_arn
        .as_deref()
        .and_then(region_of_arn)
        .map(str::to_owned);
    let stack = match &function_arn {
        Some(arn) => lambda
            .list_tags()
            .resource(arn)
            .send()
            .await
            .ok()
            .and_then(|tags| tags.tags()?.get(STACK_TAG).cloned()),
        None => None,
    };
    // No configuration at all is answered ResourceNotFoundException: no destination.
    let on_failure = lambda
        .get_function_event_invoke_config()
        .function_name(name)
        .send()
        .await
        .ok()
        .and_then(|config| {
            Some(
                config
                    .destination_config()?
                    .on_failure()?
                    .destination()?
                    .to_owned(),
            )
        });
    let deployment = match (stack, &region) {
        (Some(stack), Some(region)) => Deployment::Stack {
            name: stack,
            region: region.clone(),
        },
        _ => Deployment::Function {
            name: name.clone(),
            variables: variables.clone(),
        },
    };
    report.add(Check::pass(
        format!("function {name}"),
        format!(
            "{} settings read from {}",
            variables.len(),
            function_arn.as_deref().unwrap_or(name)
        ),
    ));
    Some(Settings {
        variables,
        deployment,
        region,
        function_arn,
        on_failure,
    })
}

/// The configuration the function would start with, distributions found.
async fn config(settings: &Settings, sdk: &SdkConfig, report: &mut Report) -> Option<Config> {
    let config = match Config::from_lookup(|name| settings.get(name)) {
        Ok(config) => config,
        Err(error) => {
            let fix = settings.deployment.set(error.variable, "VALUE");
            report.add(Check::fail("settings", error.to_string(), fix));
            return None;
        }
    };
    if config.to_discover.is_empty() {
        report.add(Check::pass(
            "settings",
            format!("valid, {} route(s)", config.routes.len()),
        ));
        return Some(config);
    }
    match discover(config, &CloudFront::new(sdk), None).await {
        Ok(config) => {
            let found: Vec<&str> = config
                .routes
                .iter()
                .filter(|route| route.origin_path.is_some())
                .map(|route| route.distribution_id.as_str())
                .collect();
            report.add(Check::pass(
                "settings",
                format!("valid; DISTRIBUTION_ID auto finds {}", found.join(", ")),
            ));
            Some(config)
        }
        Err(error) => {
            let fix = settings.deployment.set("DISTRIBUTION_ID", "ID");
            report.add(Check::fail("settings", error.to_string(), fix));
            None
        }
    }
}

/// A queue of the function's (DEFER_QUEUE_URL, WATCH_QUEUE_URL), as SQS describes it.
struct Queue {
    variable: &'static str,
    url: String,
    /// `None` when SQS did not answer; the error is in `error`.
    arn: Option<String>,
    dead_letter_arn: Option<String>,
    error: Option<String>,
}

struct Doctor {
    /// The operator's SDK configuration in the function's region.
    sdk: SdkConfig,
    region: String,
    settings: Settings,
    config: Config,
    bucket: Option<String>,
}

impl Doctor {
    /// The routes as configured and found, each distribution once per bucket and prefixes.
    fn routes(&self) -> Vec<&Route> {
        let mut seen = BTreeSet::new();
        self.config
            .routes
            .iter()
            .filter(|route| {
                seen.insert((
                    &route.distribution_id,
                    &route.tenant_id,
                    &route.bucket,
                    &route.key_prefix,
                    &route.path_prefix,
                ))
            })
            .collect()
    }

    /// The command that sets a route's `setting`: the variable, or the `ROUTES` field.
    fn set(&self, route: &Route, setting: &str, value: &str) -> String {
        if self.settings.get("ROUTES").is_some() {
            return format!(
                "set {} to {value:?} in the ROUTES entry of distribution {}",
                setting.to_ascii_lowercase(),
                route.distribution_id
            );
        }
        self.settings.deployment.set(setting, value)
    }

    /// The function's queues, read once: their ARNs are notification targets, their
    /// dead-letter queues are failure queues.
    async fn queues(&self) -> Vec<Queue> {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let mut queues: Vec<Queue> = Vec::new();
        for variable in ["DEFER_QUEUE_URL", "WATCH_QUEUE_URL"] {
            let Some(url) = self.settings.get(variable) else {
                continue;
            };
            if queues.iter().any(|queue| queue.url == url) {
                continue;
            }
            let answer = sqs
                .get_queue_attributes()
                .queue_url(&url)
                .attribute_names(QueueAttributeName::QueueArn)
                .attribute_names(QueueAttributeName::RedrivePolicy)
                .send()
                .await;
            let (attributes, error) = match answer {
                Ok(answer) => (answer.attributes().cloned().unwrap_or_default(), None),
                Err(error) => (Default::default(), Some(sdk_error(&error))),
            };
            let dead_letter_arn = attributes
                .get(&QueueAttributeName::RedrivePolicy)
                .and_then(|policy| serde_json::from_str::<serde_json::Value>(policy).ok())
                .and_then(|policy| policy["deadLetterTargetArn"].as_str().map(str::to_owned));
            queues.push(Queue {
                variable,
                url,
                arn: attributes.get(&QueueAttributeName::QueueArn).cloned(),
                dead_letter_arn,
                error,
            });
        }
        queues
    }

    /// Each bucket: in the function's region, and its notifications reaching the function.
    async fn buckets(&self, queues: &[Queue], report: &mut Report) {
        let mut buckets: BTreeSet<&str> = self
            .config
            .routes
            .iter()
            .filter_map(|route| route.bucket.as_deref())
            .collect();
        buckets.extend(self.bucket.as_deref());
        if buckets.is_empty() {
            report.add(Check::info(
                "bucket",
                "the settings name no bucket (SOURCE_BUCKET is unset, as for a stack that made its own): give it with --bucket NAME to check it",
            ));
        }
        let mut targets: Vec<String> = queues.iter().filter_map(|q| q.arn.clone()).collect();
        targets.extend(self.settings.function_arn.clone());
        let s3 = aws_sdk_s3::Client::new(&self.sdk);
        for bucket in buckets {
            let subject = format!("bucket {bucket}");
            let location = match s3.get_bucket_location().bucket(bucket).send().await {
                Ok(location) => bucket_region(location.location_constraint().map(|l| l.as_str())),
                Err(error) => {
                    report.add(Check::fail(
                        &subject,
                        format!("its region cannot be read: {}", sdk_error(&error)),
                        format!("aws s3api head-bucket --bucket {bucket} (is the name right, and may you read it?)"),
                    ));
                    continue;
                }
            };
            if location == self.region {
                report.add(Check::pass(
                    &subject,
                    format!("in {location}, the function's region"),
                ));
            } else {
                report.add(Check::fail(
                    &subject,
                    format!(
                        "in {location}, but the function is in {}: S3 delivers notifications and EventBridge events only within the bucket's region, so nothing reaches the function",
                        self.region
                    ),
                    self.settings.deployment.move_to(&location),
                ));
            }
            let in_bucket_region = aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&self.sdk)
                    .region(Region::new(location.clone()))
                    .build(),
            );
            let check = self
                .notifications(&in_bucket_region, bucket, &location, &targets)
                .await;
            report.add(check);
        }
    }

    async fn notifications(
        &self,
        s3: &aws_sdk_s3::Client,
        bucket: &str,
        bucket_region: &str,
        targets: &[String],
    ) -> Check {
        let subject = format!("notifications of bucket {bucket}");
        let answer = match s3
            .get_bucket_notification_configuration()
            .bucket(bucket)
            .send()
            .await
        {
            Ok(answer) => answer,
            Err(error) => {
                return Check::fail(
                    subject,
                    format!("cannot be read: {}", sdk_error(&error)),
                    format!(
                        "aws s3api get-bucket-notification-configuration --bucket {bucket} (needs s3:GetBucketNotification)"
                    ),
                );
            }
        };
        let events = |events: &[aws_sdk_s3::types::Event]| {
            events.iter().map(|e| e.as_str().to_owned()).collect()
        };
        let notifications = Notifications {
            eventbridge: answer.event_bridge_configuration().is_some(),
            queues: answer
                .queue_configurations()
                .iter()
                .map(|q| (q.queue_arn().to_owned(), events(q.events())))
                .collect(),
            functions: answer
                .lambda_function_configurations()
                .iter()
                .map(|f| (f.lambda_function_arn().to_owned(), events(f.events())))
                .collect(),
        };
        let function = match targets.is_empty() {
            true => "the function".to_owned(),
            false => format!("the function ({})", targets.join(", ")),
        };
        match reach(&notifications, targets) {
            Reach::Direct(target) => Check::pass(
                subject,
                format!("objects created and removed are sent to {target}"),
            ),
            Reach::Partial { target, missing } => Check::fail(
                subject,
                format!("sent to {target}, but not for {missing}: those changes stay cached"),
                format!(
                    "aws s3api get-bucket-notification-configuration --bucket {bucket} > notification.json, add {missing} to the Events of {target}, then aws s3api put-bucket-notification-configuration --bucket {bucket} --notification-configuration file://notification.json"
                ),
            ),
            Reach::EventBridge if targets.is_empty() => Check::pass(
                subject,
                "EventBridge notifications are on (give --function NAME to check that a rule sends them to the function)",
            ),
            Reach::EventBridge => self.rule(bucket, targets, subject).await,
            Reach::None => Check::fail(
                subject,
                format!(
                    "neither reach {function} nor go to EventBridge: no change is ever invalidated"
                ),
                eventbridge_on(bucket, bucket_region),
            ),
        }
    }

    /// With EventBridge on: a rule of the function's region that sends the bucket's events
    /// to one of `targets`.
    async fn rule(&self, bucket: &str, targets: &[String], subject: String) -> Check {
        let events = aws_sdk_eventbridge::Client::new(&self.sdk);
        let quoted = format!("\"{bucket}\"");
        for target in targets {
            let names = match events
                .list_rule_names_by_target()
                .target_arn(target)
                .send()
                .await
            {
                Ok(names) => names.rule_names().to_vec(),
                Err(error) => {
                    return Check::info(
                        subject,
                        format!(
                            "EventBridge notifications are on; the rules cannot be listed: {}",
                            sdk_error(&error)
                        ),
                    );
                }
            };
            for name in names {
                let Ok(rule) = events.describe_rule().name(&name).send().await else {
                    continue;
                };
                let enabled = rule.state().is_none_or(|state| state.as_str() == "ENABLED");
                if enabled && rule.event_pattern().is_some_and(|p| p.contains(&quoted)) {
                    return Check::pass(
                        subject,
                        format!(
                            "EventBridge notifications are on, and rule {name} sends them to {target}"
                        ),
                    );
                }
            }
        }
        Check::fail(
            subject,
            format!(
                "EventBridge notifications are on, but no enabled rule in {} sends the bucket's events to the function ({})",
                self.region,
                targets.join(", ")
            ),
            self.settings
                .deployment
                .redeploy(&format!("BucketName={bucket}")),
        )
    }

    /// Each distribution: it exists, and an origin serves the route's bucket at its prefix.
    async fn distributions(&self, report: &mut Report) {
        let cloudfront = aws_sdk_cloudfront::Client::new(&self.sdk);
        for route in self.routes() {
            let id = &route.distribution_id;
            let subject = match &route.tenant_id {
                Some(tenant) => format!("distribution {id} (tenant {tenant})"),
                None => format!("distribution {id}"),
            };
            let bucket = route.bucket.as_deref().or(self.bucket.as_deref());
            let answer = cloudfront.get_distribution().id(id).send().await;
            let distribution = match answer {
                Ok(answer) => answer,
                Err(error) if route.role.is_some() => {
                    report.add(Check::info(
                        subject,
                        format!(
                            "in another account (through {}): your credentials cannot read it ({})",
                            route.role.as_ref().map_or("", |role| role.arn.as_str()),
                            sdk_error(&error)
                        ),
                    ));
                    continue;
                }
                Err(error) => {
                    let fix = self.other_distribution(route, bucket).await;
                    report.add(Check::fail(
                        subject,
                        format!("cannot be read: {}", sdk_error(&error)),
                        fix,
                    ));
                    continue;
                }
            };
            let Some(bucket) = bucket else {
                report.add(Check::info(
                    subject,
                    "exists; the settings name no bucket to compare its origins with (give --bucket NAME)",
                ));
                continue;
            };
            let origins: Vec<Origin> = distribution
                .distribution()
                .and_then(|d| d.distribution_config())
                .and_then(|c| c.origins())
                .map(|origins| {
                    origins
                        .items()
                        .iter()
                        .map(|origin| Origin {
                            domain_name: origin.domain_name().to_owned(),
                            origin_path: origin.origin_path().unwrap_or_default().to_owned(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let expected = Expected {
                bucket,
                key_prefix: &route.key_prefix,
                path_prefix: &route.path_prefix,
            };
            report.add(match origin_verdict(expected, &origins) {
                Ok(detail) => Check::pass(subject, detail),
                Err((detail, Some(key_prefix))) => {
                    Check::fail(subject, detail, self.set(route, "KEY_PREFIX", &key_prefix))
                }
                Err((detail, None)) => {
                    let fix = self.other_distribution(route, Some(bucket)).await;
                    let fix = match buckets_served(&origins).first() {
                        Some(served) if fix.starts_with("aws cloudfront") => {
                            self.set(route, "SOURCE_BUCKET", served)
                        }
                        _ => fix,
                    };
                    Check::fail(subject, detail, fix)
                }
            });
        }
    }

    /// The fix for a route whose distribution does not serve its bucket: the distribution
    /// that does, found with ListDistributions, or the command that lists them.
    async fn other_distribution(&self, route: &Route, bucket: Option<&str>) -> String {
        let list = "aws cloudfront list-distributions --query 'DistributionList.Items[].[Id,Origins.Items[].DomainName]' --output text".to_owned();
        let Some(bucket) = bucket else { return list };
        let Ok(listed) = CloudFront::new(&self.sdk)
            .list_distributions(route.role.as_ref(), None)
            .await
        else {
            return list;
        };
        let template = Route {
            bucket: Some(bucket.to_owned()),
            ..Route::default()
        };
        let (found, _) = routes_for(&template, &listed);
        match found.first() {
            Some(found) => self.set(route, "DISTRIBUTION_ID", &found.distribution_id),
            None => list,
        }
    }

    /// Each failure queue is empty: the dead-letter queues of the function's queues, and
    /// Direct mode's on-failure destination.
    async fn failure_queues(&self, queues: &[Queue], report: &mut Report) {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let mut failure_queues: Vec<(String, Option<&str>)> = Vec::new();
        for queue in queues {
            if let Some(error) = &queue.error {
                report.add(Check::fail(
                    format!("queue {}", queue.url),
                    format!("{} cannot be read: {error}", queue.variable),
                    self.settings.deployment.set(queue.variable, "QUEUE_URL"),
                ));
            }
            if let Some(dead_letter) = &queue.dead_letter_arn
                && !failure_queues.iter().any(|(arn, _)| arn == dead_letter)
            {
                failure_queues.push((dead_letter.clone(), queue.arn.as_deref()));
            }
        }
        if let Some(destination) = &self.settings.on_failure
            && queue_of_arn(destination).is_some()
            && !failure_queues.iter().any(|(arn, _)| arn == destination)
        {
            failure_queues.push((destination.clone(), None));
        }
        if failure_queues.is_empty() {
            report.add(Check::info(
                "failure queues",
                "none in the settings (in Direct mode, give --function NAME to read its on-failure destination)",
            ));
        }
        for (arn, source) in failure_queues {
            let subject = format!("failure queue {arn}");
            let Some((account, name)) = queue_of_arn(&arn) else {
                continue;
            };
            let url = sqs
                .get_queue_url()
                .queue_name(name)
                .queue_owner_aws_account_id(account)
                .send()
                .await
                .map_err(|error| sdk_error(&error))
                .map(|answer| answer.queue_url().unwrap_or_default().to_owned());
            let waiting = match url {
                Ok(url) => sqs
                    .get_queue_attributes()
                    .queue_url(&url)
                    .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
                    .send()
                    .await
                    .map_err(|error| sdk_error(&error))
                    .map(|answer| {
                        let count = answer
                            .attributes()
                            .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
                            .and_then(|count| count.parse::<u64>().ok())
                            .unwrap_or_default();
                        (url, count)
                    }),
                Err(error) => Err(error),
            };
            report.add(match waiting {
                Ok((_, 0)) => Check::pass(subject, "empty"),
                Ok((url, count)) => {
                    let fix = match source {
                        Some(source) => format!(
                            "fix the cause (the function's log), then aws sqs start-message-move-task --source-arn {arn} --destination-arn {source}"
                        ),
                        None => format!(
                            "fix the cause (each message's responseContext), then read them with aws sqs receive-message --queue-url {url} --max-number-of-messages 10 and replay each requestPayload with aws lambda invoke (docs/cli.md)"
                        ),
                    };
                    Check::fail(
                        subject,
                        format!("{count} event(s) the function could not process wait here"),
                        fix,
                    )
                }
                Err(error) => Check::info(subject, format!("cannot be read: {error}")),
            });
        }
    }

    /// The function's last invalidation of each distribution of its own account.
    async fn invalidations(&self, report: &mut Report) {
        let cloudfront = aws_sdk_cloudfront::Client::new(&self.sdk);
        let mut seen = BTreeSet::new();
        for route in self.routes() {
            let id = &route.distribution_id;
            if route.tenant_id.is_some() || route.role.is_some() || !seen.insert(id) {
                continue;
            }
            let subject = format!("invalidations of {id}");
            let listed = match cloudfront
                .list_invalidations()
                .distribution_id(id)
                .max_items(10)
                .send()
                .await
            {
                Ok(listed) => listed,
                Err(error) => {
                    report.add(Check::info(
                        subject,
                        format!("cannot be listed: {}", sdk_error(&error)),
                    ));
                    continue;
                }
            };
            let mut summaries: Vec<_> = listed
                .invalidation_list()
                .map(|list| list.items().to_vec())
                .unwrap_or_default();
            summaries.sort_by(|a, b| b.create_time().cmp(a.create_time()));
            let mut last = None;
            for summary in summaries.iter().take(5) {
                let Ok(got) = cloudfront
                    .get_invalidation()
                    .distribution_id(id)
                    .id(summary.id())
                    .send()
                    .await
                else {
                    continue;
                };
                let Some(batch) = got.invalidation().and_then(|i| i.invalidation_batch()) else {
                    continue;
                };
                if batch.caller_reference().starts_with("s3cfi-") {
                    let paths = batch.paths().map_or(0, |paths| paths.quantity());
                    last = Some(format!(
                        "the function's last is {} ({}, created {}, {paths} path(s))",
                        summary.id(),
                        summary.status(),
                        summary.create_time()
                    ));
                    break;
                }
            }
            let bucket = route
                .bucket
                .as_deref()
                .or(self.bucket.as_deref())
                .unwrap_or("BUCKET");
            report.add(Check::info(
                subject,
                last.unwrap_or_else(|| format!(
                    "none by the function among the last {}: upload an object (aws s3 cp index.html s3://{bucket}/{}index.html) and run doctor again",
                    summaries.len().min(5),
                    route.key_prefix
                )),
            ));
        }
    }
}

/// The buckets whose S3 endpoints are among `origins`.
fn buckets_served(origins: &[Origin]) -> Vec<String> {
    origins
        .iter()
        .filter_map(|origin| {
            let domain = origin.domain_name.to_ascii_lowercase();
            let (bucket, _) = domain.split_once(".s3")?;
            serves_bucket(&domain, bucket).then(|| bucket.to_owned())
        })
        .collect()
}
