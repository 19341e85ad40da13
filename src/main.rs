//! The entry point, kept thin: the command line first (`plan`, `doctor`, `--help`); with no
//! command, inside Lambda, logging, configuration (and discovery) once, the SDK clients once,
//! then the runtime over the handler, the payload handed over as bytes ([`RawPayloads`]).

use std::process::ExitCode;

use aws_config::BehaviorVersion;
use lambda_runtime::layers::TracingLayer;
use lambda_runtime::{LambdaEvent, Runtime, service_fn};
use s3_cloudfront_invalidator::cli::{
    Cli, Command, NOT_IN_LAMBDA, misspelling_warnings, plan_command, print_quietly,
};
use s3_cloudfront_invalidator::config::Config;
use s3_cloudfront_invalidator::discover::discover;
use s3_cloudfront_invalidator::doctor;
use s3_cloudfront_invalidator::handler::{Handler, Metrics, Watching, deadline_from};
use s3_cloudfront_invalidator::invocation::RawPayloads;
use s3_cloudfront_invalidator::publish::EventBridge;
use s3_cloudfront_invalidator::queue::Sqs;
use s3_cloudfront_invalidator::send::{CloudFront, https_client, one_line};

/// The SDK configuration, read once: credentials, region and endpoints from the environment.
async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .load()
        .await
}

/// The names of the process's environment variables, sorted, so warnings come in one order.
fn environment_names() -> Vec<String> {
    let mut names: Vec<String> = std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .collect();
    names.sort();
    names
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match Cli::from_args().command {
        Some(Command::Plan { event }) => plan(&event).await,
        Some(Command::Doctor(args)) => doctor::run(&args, &sdk_config().await).await,
        None if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() => serve().await,
        None => {
            eprintln!("{NOT_IN_LAMBDA}");
            ExitCode::from(2)
        }
    }
}

/// `plan EVENT.json`: the plan on stdout; exit 1 when a record would fail or nothing could
/// be planned.
async fn plan(event: &str) -> ExitCode {
    let names = environment_names();
    for warning in misspelling_warnings(names.iter().map(String::as_str)) {
        eprintln!("warning: {warning}");
    }
    let fail = |error: &dyn std::fmt::Display| {
        eprintln!("error: {error}");
        ExitCode::FAILURE
    };
    let mut config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => return fail(&error),
    };
    // Discovery is the one AWS call `plan` makes: a read-only ListDistributions.
    if !config.to_discover.is_empty() {
        let cloudfront = CloudFront::new(&sdk_config().await);
        config = match discover(config, &cloudfront, None).await {
            Ok(config) => config,
            Err(error) => return fail(&error),
        };
    }
    match plan_command(event, &config) {
        Ok(planned) => {
            print_quietly(&format!("{}\n", planned.json));
            match planned.failed {
                0 => ExitCode::SUCCESS,
                _ => ExitCode::FAILURE,
            }
        }
        Err(error) => fail(&error),
    }
}

/// The Lambda function: a setting that stops start-up exits 2 with its one line.
async fn serve() -> ExitCode {
    s3_cloudfront_invalidator::report::init_logging();
    let names = environment_names();
    for warning in misspelling_warnings(names.iter().map(String::as_str)) {
        tracing::warn!("{warning}");
    }
    let refuse = |error: &dyn std::fmt::Display| {
        eprintln!("{error}");
        ExitCode::from(2)
    };
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => return refuse(&error),
    };
    let sdk_config = sdk_config().await;
    let cloudfront = CloudFront::new(&sdk_config);
    let config = match discover(config, &cloudfront, None).await {
        Ok(config) => config,
        Err(error) => return refuse(&error),
    };
    let metrics = config.metrics_namespace.clone().map(|namespace| Metrics {
        namespace,
        function_name: std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default(),
    });
    let queue = config
        .defer
        .as_ref()
        .map(|defer| Sqs::new(&sdk_config, &defer.queue_url));
    let watching = config.completion.as_ref().map(|completion| Watching {
        queue: Sqs::new(&sdk_config, &completion.queue_url),
        publisher: EventBridge::new(&sdk_config, &completion.bus),
    });
    let handler = Handler {
        metrics,
        queue,
        watching,
        ..Handler::new(config, cloudfront)
    };
    let handler = &handler;
    let payloads = RawPayloads::default();
    let taken = payloads.clone();
    // The payload stays bytes: the handler deserialises it once, borrowing from it.
    let service = service_fn(move |event: LambdaEvent<()>| {
        let body = taken.take(&event.context.request_id);
        async move {
            handler
                .handle_request(
                    &body,
                    deadline_from(event.context.deadline()),
                    &event.context.request_id,
                )
                .await
        }
    });
    let served = Runtime::new(service)
        .layer(payloads)
        .layer(TracingLayer::new())
        .run()
        .await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{}", one_line(&*error));
            ExitCode::FAILURE
        }
    }
}
