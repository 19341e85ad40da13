use aws_config::BehaviorVersion;
use lambda_runtime::{LambdaEvent, service_fn};
use s3_cloudfront_invalidator::cli::plan_command;
use s3_cloudfront_invalidator::config::Config;
use s3_cloudfront_invalidator::handler::{Handler, Metrics, Watching, deadline_from};
use s3_cloudfront_invalidator::publish::EventBridge;
use s3_cloudfront_invalidator::queue::Sqs;
use s3_cloudfront_invalidator::send::{CloudFront, https_client};
use serde_json::value::RawValue;

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
        let config = Config::from_env().unwrap_or_else(|e| {
            eprintln!("error: {e}");
            std::process::exit(1);
        });
        match plan_command(args.next().as_deref(), &config) {
            Ok(json) => println!("{json}"),
            Err(error) => {
                eprintln!("error: {error}");
                std::process::exit(1);
            }
        }
        return Ok(());
    }

    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env().unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2);
    });
    let sdk_config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .load()
        .await;
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
        ..Handler::new(config, CloudFront::new(&sdk_config))
    };
    let handler = &handler;
    // The payload stays raw JSON: the handler deserialises it once, borrowing from it.
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<Box<RawValue>>| async move {
            handler
                .handle_request(
                    event.payload.get().as_bytes(),
                    deadline_from(event.context.deadline()),
                    &event.context.request_id,
                )
                .await
        },
    ))
    .await
}
