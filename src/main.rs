//! The Lambda entry point, kept thin: logging, configuration (and discovery) once, the SDK
//! clients once, then the runtime over the handler, the payload handed over as bytes
//! ([`RawPayloads`]); or the offline `plan` command.

use aws_config::BehaviorVersion;
use lambda_runtime::layers::TracingLayer;
use lambda_runtime::{LambdaEvent, Runtime, service_fn};
use s3_cloudfront_invalidator::cli::plan_command;
use s3_cloudfront_invalidator::config::Config;
use s3_cloudfront_invalidator::discover::discover;
use s3_cloudfront_invalidator::handler::{Handler, Metrics, Watching, deadline_from};
use s3_cloudfront_invalidator::invocation::RawPayloads;
use s3_cloudfront_invalidator::publish::EventBridge;
use s3_cloudfront_invalidator::queue::Sqs;
use s3_cloudfront_invalidator::send::{CloudFront, https_client};

/// The SDK configuration, read once: credentials, region and endpoints from the environment.
async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .load()
        .await
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let mut args = std::env::args().skip(1);
    if let Some(command) = args.next() {
        if command != "plan" {
            eprintln!(
                "unknown command {command:?}: run with no arguments as a Lambda function, or `plan EVENT.json`"
            );
            std::process::exit(2);
        }
        let fail = |error: &dyn std::fmt::Display| -> ! {
            eprintln!("error: {error}");
            std::process::exit(1);
        };
        let mut config = Config::from_env().unwrap_or_else(|e| fail(&e));
        // Discovery is the one AWS call `plan` makes: a read-only ListDistributions.
        if !config.to_discover.is_empty() {
            let cloudfront = CloudFront::new(&sdk_config().await);
            config = discover(config, &cloudfront, None)
                .await
                .unwrap_or_else(|e| fail(&e));
        }
        match plan_command(args.next().as_deref(), &config) {
            Ok(json) => println!("{json}"),
            Err(error) => fail(&error),
        }
        return Ok(());
    }

    s3_cloudfront_invalidator::report::init_logging();
    let fail = |error: &dyn std::fmt::Display| -> ! {
        eprintln!("{error}");
        std::process::exit(2);
    };
    let config = Config::from_env().unwrap_or_else(|e| fail(&e));
    let sdk_config = sdk_config().await;
    let cloudfront = CloudFront::new(&sdk_config);
    let config = discover(config, &cloudfront, None)
        .await
        .unwrap_or_else(|e| fail(&e));
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
    Runtime::new(service)
        .layer(payloads)
        .layer(TracingLayer::new())
        .run()
        .await
}
