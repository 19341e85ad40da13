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
        assert!(
            output.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let json: Value = serde_json::from_slice(&output.stdout).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["invalidations", "skipped", "summary"], "{name}");
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
        for skipped in json["skipped"].as_array().unwrap() {
            assert!(
                skipped["record"].is_string() && skipped["reason"].is_string(),
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
    let mut child = Command::new(env!("CARGO_BIN_EXE_s3-cloudfront-invalidator"))
        .args(["plan", "-"])
        .env_clear()
        .envs(SITE.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/events/sns.json")).unwrap())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
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
