//! `make bench`: cold starts, invocations and memory of the Rust function and of a Python
//! boto3 peer, side by side under the same local Lambda Runtime API, both talking to the
//! CloudFront fake on loopback, over plain HTTP and over HTTPS (a local CA both trust, in a
//! bundle with the system's roots). Writes bench/RESULTS.md and the samples for the plot.
//!
//! Usage: bench RUST_BINARY PYTHON ARM64_BOOTSTRAP RUNS

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use devtools::events::{s3_event, site_keys, sqs_event};
use devtools::fake_cloudfront::FakeCloudFront;
use devtools::runtime_api::{Reply, RuntimeApi};
use devtools::tls::LocalCa;
use tokio::process::Child;

const DISTRIBUTION: &str = "EBENCH1EXAMPLE";
const TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Peer {
    Rust,
    Python,
}

impl Peer {
    fn name(self) -> &'static str {
        match self {
            Peer::Rust => "Rust",
            Peer::Python => "Python boto3",
        }
    }
}

struct Events {
    put: Vec<u8>,
    warm: Vec<u8>,
    sqs_3000: Vec<u8>,
    records_10000: Vec<u8>,
    /// As many bytes as the batch, all in one string the function skips: what the runtime
    /// alone costs for a payload of that size.
    padded_3000: Vec<u8>,
}

/// One cold start and the invocations that follow it; times in milliseconds.
#[derive(Default, Clone, Copy)]
struct Sample {
    init: f64,
    first_invocation: f64,
    first_response: f64,
    warm: f64,
    sqs_3000: f64,
    records_10000: f64,
    /// After the cold start and two one-record invocations.
    peak_rss_mb: f64,
    /// After the 3,000-message batch as well.
    peak_rss_batch_mb: f64,
    /// After the 10,000-record event as well.
    peak_rss_large_mb: f64,
    /// Spawn to first response (one-record put) with the fake on HTTPS.
    tls_first_response: f64,
    /// Of the resident set after the one-record invocations: pages mapped from files (the
    /// binary, shared libraries) and anonymous memory (heap, stacks).
    rss_file_mb: f64,
    rss_anon_mb: f64,
    /// Page faults the process took during the 3,000-message batch.
    batch_page_faults: f64,
    /// The padded payload, in a cold process of its own after two one-record invocations, as
    /// the batch is (Rust only), and what it adds to the peak resident set.
    padded_3000: f64,
    padded_rss_added_mb: f64,
}

/// Minor page faults of process `pid` so far (/proc/PID/stat, field 10).
fn minor_faults(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    after_name
        .split_whitespace()
        .nth(7)
        .and_then(|field| field.parse().ok())
        .unwrap_or(f64::NAN)
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

struct Setup {
    rust: PathBuf,
    python: PathBuf,
    peer_dir: PathBuf,
    ca: LocalCa,
    /// The system's roots plus the local CA.
    ca_bundle: PathBuf,
}

fn spawn(
    peer: Peer,
    setup: &Setup,
    runtime: &RuntimeApi,
    fake: &FakeCloudFront,
) -> std::io::Result<Child> {
    let mut command = match peer {
        Peer::Rust => {
            let mut command = runtime.function_command(&setup.rust, &fake.endpoint());
            command.env("SSL_CERT_FILE", &setup.ca_bundle);
            command
        }
        Peer::Python => {
            let mut command = runtime.function_command(&setup.python, &fake.endpoint());
            command
                .args(["-m", "awslambdaric", "lambda_function.handler"])
                .env("AWS_CA_BUNDLE", &setup.ca_bundle)
                .current_dir(&setup.peer_dir);
            command
        }
    };
    command
        .env("AWS_LAMBDA_LOG_LEVEL", "ERROR")
        .env("DISTRIBUTION_ID", DISTRIBUTION)
        .env("METRICS", "false")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
}

fn peak_rss_mb(pid: u32) -> f64 {
    status_mb(pid, "VmHWM:")
}

/// A field of /proc/PID/status given in kB (`VmHWM:`, `RssFile:`, ...), in MB.
fn status_mb(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

async fn invoke(runtime: &RuntimeApi, event: &[u8], what: &str) -> Result<Duration, String> {
    let invoked = runtime.invoke(event.to_vec(), TIMEOUT).await?;
    match invoked.reply {
        Reply::Response(_) => Ok(invoked.handled_in),
        Reply::Error(body) => Err(format!("{what}: the function failed: {body}")),
    }
}

/// A fresh runtime API and a fresh process of `peer` calling `fake`, and when it was spawned.
async fn start(
    peer: Peer,
    setup: &Setup,
    fake: &FakeCloudFront,
) -> Result<(RuntimeApi, Child, Instant), String> {
    let runtime = RuntimeApi::start().await.map_err(|e| e.to_string())?;
    let spawned = Instant::now();
    let child = spawn(peer, setup, &runtime, fake).map_err(|e| format!("{}: {e}", peer.name()))?;
    Ok((runtime, child, spawned))
}

async fn cold_start(peer: Peer, setup: &Setup, events: &Events) -> Result<Sample, String> {
    let fake = FakeCloudFront::start(&[DISTRIBUTION], Duration::ZERO)
        .await
        .map_err(|e| e.to_string())?;
    let (runtime, mut child, spawned) = start(peer, setup, &fake).await?;
    let first = invoke(&runtime, &events.put, "put").await?;
    let first_response = spawned.elapsed();
    let polled = runtime
        .first_poll(Duration::ZERO)
        .await
        .ok_or("no poll recorded")?;
    let warm = invoke(&runtime, &events.warm, "warm put").await?;
    let pid = child.id().unwrap_or_default();
    let peak_rss = peak_rss_mb(pid);
    let (rss_file_mb, rss_anon_mb) = (status_mb(pid, "RssFile:"), status_mb(pid, "RssAnon:"));
    let faults_before = minor_faults(pid);
    let sqs_3000 = invoke(&runtime, &events.sqs_3000, "3,000-message batch").await?;
    let batch_page_faults = minor_faults(pid) - faults_before;
    let peak_rss_batch = child.id().map_or(f64::NAN, peak_rss_mb);
    let records_10000 = invoke(&runtime, &events.records_10000, "10,000-record event").await?;
    let peak_rss_large_mb = child.id().map_or(f64::NAN, peak_rss_mb);
    child.kill().await.map_err(|e| e.to_string())?;
    let tls_first_response = tls_first_response(peer, setup, events).await?;
    let (padded_3000, padded_rss_added_mb) = match peer {
        Peer::Rust => padded(peer, setup, events).await?,
        Peer::Python => (f64::NAN, f64::NAN),
    };
    let sample = Sample {
        tls_first_response,
        init: ms(polled.duration_since(spawned)),
        first_invocation: ms(first),
        first_response: ms(first_response),
        warm: ms(warm),
        sqs_3000: ms(sqs_3000),
        records_10000: ms(records_10000),
        peak_rss_mb: peak_rss,
        peak_rss_batch_mb: peak_rss_batch,
        peak_rss_large_mb,
        rss_file_mb,
        rss_anon_mb,
        batch_page_faults,
        padded_3000,
        padded_rss_added_mb,
    };
    Ok(sample)
}

/// A cold process given the padded payload where the batch comes: two one-record invocations,
/// then as many bytes as the batch, which the function receives and skips. Its time, and what
/// it adds to the peak resident set.
async fn padded(peer: Peer, setup: &Setup, events: &Events) -> Result<(f64, f64), String> {
    let fake = FakeCloudFront::start(&[DISTRIBUTION], Duration::ZERO)
        .await
        .map_err(|e| e.to_string())?;
    let (runtime, mut child, _) = start(peer, setup, &fake).await?;
    invoke(&runtime, &events.put, "put").await?;
    invoke(&runtime, &events.warm, "warm put").await?;
    let pid = child.id().unwrap_or_default();
    let before = peak_rss_mb(pid);
    let padded = invoke(&runtime, &events.padded_3000, "padded payload").await?;
    let added = peak_rss_mb(pid) - before;
    child.kill().await.map_err(|e| e.to_string())?;
    Ok((ms(padded), added))
}

/// `{"Records":[],"padding":"xx…"}` of `size` bytes: an S3 event of no records, which the
/// function reads, skipping the string, and answers.
fn padded_event(size: usize) -> Vec<u8> {
    let mut event = br#"{"Records":[],"padding":""#.to_vec();
    let closing = br#""}"#;
    event.resize(size.saturating_sub(closing.len()).max(event.len()), b'x');
    event.extend_from_slice(closing);
    event
}

/// A second cold start with the fake on HTTPS: spawn to the first response, which includes
/// loading the trusted roots and the TLS handshake, as every real cold start does.
async fn tls_first_response(peer: Peer, setup: &Setup, events: &Events) -> Result<f64, String> {
    let fake = FakeCloudFront::start_tls(&[DISTRIBUTION], Duration::ZERO, setup.ca.server.clone())
        .await
        .map_err(|e| e.to_string())?;
    let (runtime, mut child, spawned) = start(peer, setup, &fake).await?;
    invoke(&runtime, &events.put, "put over HTTPS").await?;
    let elapsed = spawned.elapsed();
    if fake.invalidations().is_empty() {
        return Err(format!(
            "{}: no invalidation reached the HTTPS fake",
            peer.name()
        ));
    }
    child.kill().await.map_err(|e| e.to_string())?;
    Ok(ms(elapsed))
}

/// What the Rust function's first HTTPS request pays for trusting the system store (read
/// and parse the bundle), against building the same roots from memory, which is the most a
/// compiled-in store (webpki-roots) would cost: medians of 20, in milliseconds.
fn root_store_costs() -> (f64, f64, usize) {
    let mut read = Vec::new();
    let mut from_memory = Vec::new();
    let mut count = 0;
    for _ in 0..20 {
        let started = Instant::now();
        let loaded = rustls_native_certs::load_native_certs();
        let mut store = rustls::RootCertStore::empty();
        let (added, _) = store.add_parsable_certificates(loaded.certs.iter().cloned());
        read.push(ms(started.elapsed()));
        count = added;
        let started = Instant::now();
        let mut store = rustls::RootCertStore::empty();
        store.add_parsable_certificates(loaded.certs);
        from_memory.push(ms(started.elapsed()));
    }
    (
        median(read.into_iter()),
        median(from_memory.into_iter()),
        count,
    )
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// `plan` over a 100,000-key event: keys per second, median of five runs.
fn plan_throughput(rust: &Path) -> Result<f64, String> {
    let keys = site_keys(100_000, 1000);
    let file = std::env::temp_dir().join("invalidator-bench-100k.json");
    std::fs::write(&file, s3_event(&keys).to_string()).map_err(|e| e.to_string())?;
    let mut times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let output = std::process::Command::new(rust)
            .args(["plan", file.to_str().unwrap_or_default()])
            .env_clear()
            .env("DISTRIBUTION_ID", DISTRIBUTION)
            .output()
            .map_err(|e| e.to_string())?;
        times.push(started.elapsed().as_secs_f64());
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).into_owned());
        }
    }
    let _ = std::fs::remove_file(&file);
    Ok(keys.len() as f64 / median(times.into_iter()))
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|line| {
            line.strip_prefix("model name")
                .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:").map(|v| v.trim().to_owned()))
        .unwrap_or_default();
    format!(
        "{cpu}, {cores} cores, {memory} memory, {}",
        std::env::consts::ARCH
    )
}

/// The median of a criterion benchmark of this run (`cargo bench --bench plan`), in ms.
fn criterion_ms(root: &Path, group: &str, name: &str) -> f64 {
    let path = root.join(format!(
        "target/criterion/{group}/{name}/new/estimates.json"
    ));
    std::fs::read(path)
        .ok()
        .and_then(|raw| serde_json::from_slice::<serde_json::Value>(&raw).ok())
        .and_then(|estimates| estimates["median"]["point_estimate"].as_f64())
        .map_or(f64::NAN, |ns| ns / 1e6)
}

fn size_mb(path: &Path) -> f64 {
    std::fs::metadata(path).map_or(f64::NAN, |m| m.len() as f64 / 1_000_000.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [rust, python, arm64, runs] = args.as_slice() else {
        eprintln!("usage: bench RUST_BINARY PYTHON ARM64_BOOTSTRAP RUNS");
        std::process::exit(2);
    };
    let runs: usize = runs.parse().unwrap_or(20);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::create_dir_all(root.join("bench/out")).expect("bench/out");
    let ca = LocalCa::new().expect("a local CA");
    let ca_bundle = std::path::absolute(root.join("bench/out/ca-bundle.pem")).expect("a path");
    ca.write_bundle(&ca_bundle)
        .expect("the CA bundle is written");
    let setup = Setup {
        // Absolute, not canonical: a venv's python is a symlink that must stay one.
        rust: std::path::absolute(rust).expect("an absolute path"),
        python: std::path::absolute(python).expect("an absolute path"),
        peer_dir: root.join("bench/peer"),
        ca,
        ca_bundle,
    };
    let events = Events {
        put: std::fs::read(root.join("events/s3-put.json")).expect("events/s3-put.json"),
        warm: std::fs::read(root.join("events/s3-copy.json")).expect("events/s3-copy.json"),
        sqs_3000: sqs_event(&site_keys(3000, 150)).to_string().into_bytes(),
        records_10000: s3_event(&site_keys(10_000, 500)).to_string().into_bytes(),
        padded_3000: Vec::new(),
    };
    let events = Events {
        padded_3000: padded_event(events.sqs_3000.len()),
        ..events
    };

    let mut samples: Vec<(Peer, Sample)> = Vec::new();
    // Interleaved, so drift on the machine touches both alike.
    for run in 0..runs {
        for peer in [Peer::Rust, Peer::Python] {
            match cold_start(peer, &setup, &events).await {
                Ok(sample) => samples.push((peer, sample)),
                Err(message) => {
                    eprintln!("bench failed: {message}");
                    std::process::exit(1);
                }
            }
        }
        eprint!("\rcold starts: {}/{runs}", run + 1);
    }
    eprintln!();
    let throughput = plan_throughput(&setup.rust).unwrap_or_else(|e| {
        eprintln!("plan throughput failed: {e}");
        std::process::exit(1);
    });

    let csv: String =
        std::iter::once("peer,init_ms,first_response_ms\n".to_string())
            .chain(samples.iter().map(|(peer, s)| {
                format!("{},{:.3},{:.3}\n", peer.name(), s.init, s.first_response)
            }))
            .collect();
    std::fs::write(root.join("bench/out/coldstarts.csv"), csv).expect("write samples");

    let of = |peer: Peer, metric: fn(&Sample) -> f64| {
        median(
            samples
                .iter()
                .filter(|(p, _)| *p == peer)
                .map(|(_, s)| metric(s)),
        )
    };
    type Row = (
        &'static str,
        fn(&Sample) -> f64,
        &'static str,
        Option<f64>,
        Option<f64>,
    );
    // Each row: name, metric, unit, target for Rust, and the least Python / Rust ratio.
    let rows: [Row; 10] = [
        (
            "init: spawn to first /next",
            |s| s.init,
            "ms",
            Some(3.0),
            Some(50.0),
        ),
        (
            "first invocation (one-record put)",
            |s| s.first_invocation,
            "ms",
            None,
            None,
        ),
        (
            "spawn to first response (one-record put)",
            |s| s.first_response,
            "ms",
            Some(15.0),
            None,
        ),
        (
            "spawn to first response over HTTPS (one-record put)",
            |s| s.tls_first_response,
            "ms",
            None,
            None,
        ),
        (
            "warm invocation (one-record copy)",
            |s| s.warm,
            "ms",
            None,
            None,
        ),
        (
            "3,000-message SQS batch",
            |s| s.sqs_3000,
            "ms",
            Some(12.0),
            Some(5.0),
        ),
        (
            "10,000-record event",
            |s| s.records_10000,
            "ms",
            None,
            Some(5.0),
        ),
        (
            "peak RSS (VmHWM) after the one-record invocations",
            |s| s.peak_rss_mb,
            "MB",
            Some(12.0),
            Some(4.0),
        ),
        (
            "peak RSS (VmHWM) after the 3,000-message batch too",
            |s| s.peak_rss_batch_mb,
            "MB",
            Some(12.0),
            None,
        ),
        (
            "peak RSS (VmHWM) after the 10,000-record event too",
            |s| s.peak_rss_large_mb,
            "MB",
            Some(30.0),
            None,
        ),
    ];
    let mut table = String::from(
        "| metric (median) | Rust | Python boto3 | Python / Rust | target | met |\n|---|---|---|---|---|---|\n",
    );
    for (name, metric, unit, target, ratio) in rows {
        let (r, p) = (of(Peer::Rust, metric), of(Peer::Python, metric));
        let mut targets = Vec::new();
        let mut met = true;
        if let Some(t) = target {
            targets.push(format!("≤ {t} {unit}"));
            met &= r <= t;
        }
        if let Some(least) = ratio {
            targets.push(format!("≥ {least}×"));
            met &= p / r >= least;
        }
        let met = match (targets.is_empty(), met) {
            (true, _) => "",
            (false, true) => "yes",
            (false, false) => "**no**",
        };
        let _ = writeln!(
            table,
            "| {name} | {r:.2} {unit} | {p:.2} {unit} | {:.1}× | {} | {met} |",
            p / r,
            targets.join(", ")
        );
    }
    let (store_read, store_memory, roots) = root_store_costs();
    let memory = std::fs::read_to_string(root.join("bench/out/memory.md")).unwrap_or_else(|_| {
        "(run `cargo bench --bench plan` first for the allocation figures)\n".into()
    });
    let batch = "3,000-message SQS batch";
    let (decoding, parsing, planning) = (
        criterion_ms(&root, "decode", batch),
        criterion_ms(&root, "parse", batch),
        criterion_ms(&root, "plan", batch),
    );
    let end_to_end = of(Peer::Rust, |s| s.sqs_3000);
    let breakdown = format!(
        "Where the 3,000-message batch's {end_to_end:.1} ms go (end to end, median above; the parts from\n\
         `cargo bench --bench plan` in this run, warm and in-process):\n\n\
         | part | ms |\n|---|---|\n\
         | the runtime alone: a payload of the same size, one string the function skips (cold process, after two one-record invocations) | {runtime_alone:.1} |\n\
         | decoding the payload into changes | {decoding:.1} |\n\
         | of which serde_json's own typed, borrowed parse of the same bytes, doing nothing with them | {parsing:.1} |\n\
         | planning the invalidations | {planning:.1} |\n\
         | the rest: decoding and planning in a cold process (first touch of fresh memory: {faults:.0} page faults during the batch), the CloudFront request | {rest:.1} |\n\n\
         Resident set after the one-record invocations: {file:.2} MB mapped from files (the binary and\n\
         shared libraries), {anon:.2} MB anonymous (heap, stacks); the batch then adds {added:.2} MB, of\n\
         which the runtime alone, receiving a payload of the same size, adds {runtime_added:.2} MB.\n",
        runtime_added = of(Peer::Rust, |s| s.padded_rss_added_mb),
        faults = of(Peer::Rust, |s| s.batch_page_faults),
        runtime_alone = of(Peer::Rust, |s| s.padded_3000),
        rest = end_to_end - of(Peer::Rust, |s| s.padded_3000) - decoding - planning,
        file = of(Peer::Rust, |s| s.rss_file_mb),
        anon = of(Peer::Rust, |s| s.rss_anon_mb),
        added = of(Peer::Rust, |s| s.peak_rss_batch_mb) - of(Peer::Rust, |s| s.peak_rss_mb),
    );
    let large = "100,000-key event";
    let whole = 100_000.0 / throughput * 1000.0;
    let (large_decoding, large_parsing, large_planning) = (
        criterion_ms(&root, "decode", large),
        criterion_ms(&root, "parse", large),
        criterion_ms(&root, "plan", large),
    );
    let plan_breakdown = format!(
        "Where `plan`'s {whole:.0} ms on the 100,000-key event (61 MB) go (whole process, median of 5;\n\
         the parts from `cargo bench --bench plan` in this run, warm and in-process); 400,000 keys/s\n\
         is 250 ms:\n\n\
         | part | ms |\n|---|---|\n\
         | decoding the event into changes | {large_decoding:.0} |\n\
         | of which serde_json's own typed, borrowed parse of the same bytes | {large_parsing:.0} |\n\
         | planning the invalidations | {large_planning:.0} |\n\
         | the rest: starting, reading the file into memory, writing the plan, freeing, exiting | {rest:.0} |\n",
        rest = whole - large_decoding - large_planning,
    );
    let arm64 = size_mb(Path::new(arm64));
    let x86 = size_mb(&setup.rust);
    let report = format!(
        "# Benchmark results\n\n\
         Generated by `make bench` on {date}. Machine: {machine}.\n\
         {runs} cold starts of each function, interleaved, under the same local Lambda Runtime API\n\
         (`devtools/src/bin/bench.rs`), both calling the CloudFront fake on loopback. The peer is\n\
         `bench/peer/lambda_function.py` (boto3 client created at import) under `awslambdaric`.\n\
         Invocation times run from the event being handed out to the answer being posted. The endpoint\n\
         is plain HTTP on loopback, except in the HTTPS row: there a second cold start of each function\n\
         talks to the fake over TLS, trusting a local CA through a bundle that also holds the system's\n\
         {roots} roots (`SSL_CERT_FILE` for Rust, `AWS_CA_BUNDLE` for boto3), so loading the roots and the\n\
         handshake are counted as in a real cold start.\n\n\
         {table}\n\
         {breakdown}\n\
         Trusted roots for the Rust function's first HTTPS request: reading and parsing the system store\n\
         takes {store_read:.2} ms (median of 20); building the same {roots} roots from memory, the most a\n\
         compiled-in store would cost, {store_memory:.2} ms.\n\n\
         Allocations of decoding and planning alone (`cargo bench --bench plan`, counting allocator):\n\n\
         {memory}\n\
         | artefact | size | target |\n|---|---|---|\n\
         | arm64 `bootstrap` (cargo lambda build --release --arm64) | {arm64:.2} MB | ≤ 5 MB: {arm_met} |\n\
         | x86_64 release binary | {x86:.2} MB | |\n\n\
         `plan` throughput on a 100,000-key event (whole process, JSON in and out, median of 5): {throughput:.0} keys/s (target ≥ 400,000: {plan_met}).\n\n\
         {plan_breakdown}\n\
         ![cold-start distributions](coldstart.png)\n",
        date = humantime::format_rfc3339_seconds(std::time::SystemTime::now()),
        machine = machine(),
        arm_met = if arm64 <= 5.0 { "met" } else { "**missed**" },
        plan_met = if throughput >= 400_000.0 {
            "met"
        } else {
            "**missed**"
        },
    );
    std::fs::write(root.join("bench/RESULTS.md"), &report).expect("write bench/RESULTS.md");
    println!("{report}");
}
