//! `s3-cloudfront-invalidator plan EVENT.json`: the documented JSON for every sample.

use std::process::{Command, Output};

use serde_json::Value;

fn plan(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_s3-cloudfront-invalidator"))
        .arg("plan")
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

const SITE: &[(&str, &str)] = &[
    ("DISTRIBUTION_ID", "EDFDVBD6EXAMPLE"),
    ("SOURCE_BUCKET", "example-site"),
    ("INDEX_DOCUMENT", "index.html"),
];

#[test]
fn every_readable_sample_plans_to_the_documented_shape() {
    let mut planned = 0;
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/events")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if !name.ends_with(".json") || name == "bad-other-service.json" {
            continue;
        }
        let output = plan(&[path.to_str().unwrap()], SITE);
        let text = String::from_utf8(output.stdout.clone()).unwrap();
        let json: Value = serde_json::from_str(&text).unwrap();
        // The fields in the documented order (a `Value` keeps no order).
        let at: Vec<usize> = ["invalidations", "skipped", "failed", "summary"]
            .iter()
            .map(|key| text.find(&format!("\n  \"{key}\": ")).unwrap())
            .collect();
        assert!(at.is_sorted(), "{name}: {text}");
        // Exit 1 exactly when a record would fail.
        let failing = !json["failed"].as_array().unwrap().is_empty();
        assert_eq!(
            output.status.code(),
            Some(failing as i32),
            "{name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(json.as_object().unwrap().len(), 4, "{name}");
        for invalidation in json["invalidations"].as_array().unwrap() {
            let fields: Vec<&str> = invalidation
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(
                fields,
                ["caller_reference", "distribution_id", "paths"],
                "{name}"
            );
            assert_eq!(invalidation["distribution_id"], "EDFDVBD6EXAMPLE");
            assert!(
                invalidation["caller_reference"]
                    .as_str()
                    .unwrap()
                    .starts_with("s3cfi-")
            );
        }
        for left_out in json["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .chain(json["failed"].as_array().unwrap())
        {
            assert!(
                left_out["record"].is_string() && left_out["reason"].is_string(),
                "{name}"
            );
        }
        planned += 1;
    }
    assert!(planned >= 20, "only {planned} samples planned");
}

#[test]
fn plan_output_for_a_put() {
    let output = plan(&["events/s3-put.json"], SITE);
    let text = String::from_utf8(output.stdout).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        json["invalidations"][0]["paths"],
        serde_json::json!(["/", "/index.html"])
    );
    assert_eq!(
        json["summary"],
        serde_json::json!({"changed_paths": 2, "billed_paths": 2, "wildcards": 0})
    );
    // Fields appear in the documented order.
    let distribution = text.find("\"distribution_id\"").unwrap();
    assert!(distribution < text.find("\"caller_reference\"").unwrap());
    assert!(text.find("\"caller_reference\"").unwrap() < text.find("\"paths\"").unwrap());
}

#[test]
fn plan_reads_stdin() {
    let sns = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/events/sns.json")).unwrap();
    let json = plan_input(&sns, SITE);
    assert_eq!(
        json["invalidations"][0]["paths"],
        serde_json::json!(["/feeds/rss.xml"])
    );
}

#[test]
fn unreadable_events_exit_non_zero_with_one_line() {
    let cases = [
        (
            "events/bad-not-json.txt",
            "error: event is not JSON: expected ident at line 1 column 2",
        ),
        (
            "events/bad-other-service.json",
            "error: event is not an S3 change",
        ),
        (
            "events/no-such-file.json",
            "error: cannot read events/no-such-file.json",
        ),
    ];
    for (file, expected) in cases {
        let output = plan(&[file], SITE);
        assert_eq!(output.status.code(), Some(1), "{file}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{file}: {stderr}");
        assert!(stderr.starts_with(expected), "{file}: {stderr}");
        assert!(output.stdout.is_empty());
    }
    let output = plan(&["events/s3-put.json"], &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8(output.stderr)
            .unwrap()
            .starts_with("error: invalid configuration: DISTRIBUTION_ID is not set")
    );
}

fn planned(env: &[(&str, &str)]) -> Value {
    let output = plan(&["events/s3-site-release.json"], env);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn paths_of(json: &Value) -> Vec<&str> {
    json["invalidations"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| i["paths"].as_array().unwrap())
        .map(|p| p.as_str().unwrap())
        .collect()
}

#[test]
fn plan_shows_what_each_option_does() {
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut env = SITE.to_vec();
        env.extend_from_slice(extra);
        planned(&env)
    };
    let plain = with(&[]);
    assert_eq!(
        paths_of(&plain),
        [
            "/",
            "/blog/hello-world.html",
            "/css/site.css",
            "/index.html",
            "/js/app.js.map",
            "/static/app.3f9a2c.js"
        ]
    );

    let skipping = with(&[("SKIP_KEYS", "static/**,**/*.map")]);
    assert_eq!(
        paths_of(&skipping),
        [
            "/",
            "/blog/hello-world.html",
            "/css/site.css",
            "/index.html"
        ]
    );
    let reasons: Vec<&str> = skipping["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "key \"static/app.3f9a2c.js\" matches SKIP_KEYS pattern \"static/**\": not invalidated",
            "key \"js/app.js.map\" matches SKIP_KEYS pattern \"**/*.map\": not invalidated",
        ]
    );

    let clean = with(&[("CLEAN_URLS", "true")]);
    assert!(paths_of(&clean).contains(&"/blog/hello-world"));
    assert_eq!(paths_of(&clean).len(), paths_of(&plain).len() + 1);

    let query = with(&[("QUERY_STRINGS", "true")]);
    assert_eq!(
        paths_of(&query),
        [
            "/",
            "/blog/hello-world.html*",
            "/css/site.css*",
            "/index.html*",
            "/js/app.js.map*",
            "/static/app.3f9a2c.js*"
        ]
    );
    assert_eq!(
        query["summary"],
        serde_json::json!({"changed_paths": 6, "billed_paths": 6, "wildcards": 5})
    );
    // Over the budget, the wildcards fold into what the policy allows.
    let folded = with(&[
        ("QUERY_STRINGS", "true"),
        ("WILDCARD_BUDGET", "1"),
        ("WILDCARD_ALLOW_ROOT", "true"),
    ]);
    assert_eq!(paths_of(&folded), ["/*"]);
    assert_eq!(folded["summary"]["wildcards"], 1);

    let tenant = with(&[
        ("TENANT_ID", "dt_2wjDZi3hD1ivOXf6rpZJO1AB"),
        (
            "ROLE_ARN",
            "arn:aws:iam::111122223333:role/site-invalidator",
        ),
        ("EXTERNAL_ID", "site-4f1c"),
    ]);
    let invalidation = &tenant["invalidations"][0];
    assert_eq!(invalidation["tenant_id"], "dt_2wjDZi3hD1ivOXf6rpZJO1AB");
    assert_eq!(
        invalidation["role_arn"],
        "arn:aws:iam::111122223333:role/site-invalidator"
    );
    assert!(!tenant.to_string().contains("site-4f1c"));
    assert_ne!(
        invalidation["caller_reference"],
        plain["invalidations"][0]["caller_reference"]
    );
}

#[test]
fn plan_refuses_bad_options_in_one_line() {
    let mut env = SITE.to_vec();
    env.push(("SKIP_KEYS", "static/[oops"));
    let output = plan(&["events/s3-site-release.json"], &env);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(
            "error: invalid configuration: SKIP_KEYS pattern \"static/[oops\" is not a glob pattern"
        ),
        "{stderr}"
    );
}

/// `plan` with `input` on stdin.
fn plan_input(input: &[u8], env: &[(&str, &str)]) -> Value {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_s3-cloudfront-invalidator"))
        .args(["plan", "-"])
        .env_clear()
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    serde_json::from_slice(&output.stdout).unwrap()
}

/// A work queue nothing listens on: a dry run never calls anything.
const WATCH_URL: &str = "http://127.0.0.1:9/123456789012/watch";

#[test]
fn completion_checks_leave_the_plan_unchanged() {
    let batch = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/events/sqs-batch.json"
    ))
    .unwrap();
    let mut with_check: Value = serde_json::from_slice(&batch).unwrap();
    let watch = serde_json::json!({"s3cfi_work": 1, "watch": {
        "distribution_id": "EDFDVBD6EXAMPLE", "invalidation_id": "I2J0I21PCUYOIK",
        "caller_reference": "s3cfi-8ba4276d88916780f8428079bd17d356", "billed_paths": 3,
        "created_at": "2026-11-30T05:11:10.123Z", "checks": 0, "delay_seconds": 60
    }});
    with_check["Records"]
        .as_array_mut()
        .unwrap()
        .push(crate::common::queue_message("check", &watch, WATCH_URL));
    let with_check = with_check.to_string();
    // Nothing listens on the queue's port: a dry run never calls anything.
    let on: Vec<(&str, &str)> = SITE
        .iter()
        .copied()
        .chain([
            ("COMPLETION_EVENTS", "site-events"),
            ("WATCH_QUEUE_URL", WATCH_URL),
        ])
        .collect();
    let work_queue_arn = crate::common::queue_arn(WATCH_URL);
    let off: Vec<(&str, &str)> = SITE
        .iter()
        .copied()
        .chain([("WORK_QUEUE_ARN", work_queue_arn.as_str())])
        .collect();
    let alone = plan_input(&batch, SITE);
    for (env, reason) in [
        (
            on.as_slice(),
            "completion check of invalidation I2J0I21PCUYOIK: made when the function runs, not planned",
        ),
        (
            off.as_slice(),
            "completion check while COMPLETION_EVENTS is off: dropped",
        ),
    ] {
        let planned = plan_input(with_check.as_bytes(), env);
        assert_eq!(planned["invalidations"], alone["invalidations"]);
        assert_eq!(planned["summary"], alone["summary"]);
        assert_eq!(
            planned["skipped"],
            serde_json::json!([{"record": "message check watch I2J0I21PCUYOIK", "reason": reason}])
        );
    }
}

#[test]
fn records_the_function_would_fail_are_listed_apart_and_exit_1() {
    let output = plan(&["events/bad-sqs-partial.json"], SITE);
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stderr.is_empty());
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    let failed = json["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{json:#}");
    assert!(
        failed[0]["record"]
            .as_str()
            .unwrap()
            .starts_with("message 5f2b6a9e-3c1d-4e8f-9a7b-000000000001"),
        "{json:#}"
    );
    assert!(failed[0]["reason"].is_string());
    // Not listed twice, and the good messages are still planned.
    let skipped = json["skipped"].to_string();
    assert!(!skipped.contains("000000000001"), "{skipped}");
    assert!(!json["invalidations"].as_array().unwrap().is_empty());
    // A plan that fails nothing exits 0.
    assert_eq!(
        plan(&["events/sqs-batch.json"], SITE).status.code(),
        Some(0)
    );
}

#[test]
fn a_misspelled_setting_is_named_with_the_one_meant() {
    let mut env = SITE.to_vec();
    env.push(("SKIP_KEY", "static/**"));
    env.push(("CLEAN_URL", "true"));
    let output = plan(&["events/s3-site-release.json"], &env);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        "warning: CLEAN_URL is not a setting, and is ignored: did you mean CLEAN_URLS?\n\
         warning: SKIP_KEY is not a setting, and is ignored: did you mean SKIP_KEYS?\n"
    );
    // Ignored, as the function ignores it: the bundle is still invalidated.
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(paths_of(&json).contains(&"/static/app.3f9a2c.js"));
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    use std::io::{Read, Write};
    // Far more output than a pipe holds, so the writes meet the closed end.
    let keys: Vec<String> = (0..3000).map(|i| format!("pages/p{i}.html")).collect();
    let event = devtools::events::s3_event(&keys).to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_s3-cloudfront-invalidator"))
        .args(["plan", "-"])
        .env_clear()
        .envs(SITE.iter().copied())
        .env("COLLAPSE", "never")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(event.as_bytes())
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0; 10];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "",
        "a closed pipe is no error"
    );
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn help_version_and_usage_errors() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_s3-cloudfront-invalidator"))
            .args(args)
            .env_clear()
            .output()
            .unwrap()
    };
    let help = run(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    let help = String::from_utf8(help.stdout).unwrap();
    for command in ["plan", "doctor"] {
        assert!(help.contains(&format!("  {command} ")), "{help}");
    }
    for setting in s3_cloudfront_invalidator::config::SETTINGS {
        assert!(help.contains(&format!("  {} ", setting.name)), "{help}");
    }
    let version = run(&["--version"]);
    assert_eq!(version.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(version.stdout).unwrap(),
        format!("s3-cloudfront-invalidator {}\n", env!("CARGO_PKG_VERSION"))
    );
    let doctor_help = String::from_utf8(run(&["doctor", "--help"]).stdout).unwrap();
    assert!(doctor_help.contains("--function <NAME>"), "{doctor_help}");
    for wrong in [&["plan"][..], &["deploy"], &["plan", "a.json", "b.json"]] {
        let output = run(wrong);
        assert_eq!(output.status.code(), Some(2), "{wrong:?}");
        assert!(output.stdout.is_empty());
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.starts_with("error: "), "{wrong:?}: {stderr}");
    }
}

#[test]
fn an_sdk_failure_is_one_short_line() {
    // Nothing listens on port 9: the listing of `auto` fails to connect.
    let output = plan(
        &["events/s3-put.json"],
        &[
            ("DISTRIBUTION_ID", "auto"),
            ("SOURCE_BUCKET", "example-site"),
            ("AWS_ENDPOINT_URL_CLOUDFRONT", "http://127.0.0.1:9"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDTEST"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(
            "error: invalid configuration: DISTRIBUTION_ID is auto, but the distributions could not be listed: "
        ) && stderr.contains("Connection refused"),
        "{stderr}"
    );
    // The chain of causes, not the SDK's Debug dump of them.
    assert!(!stderr.contains('{') && stderr.len() < 400, "{stderr}");
}
