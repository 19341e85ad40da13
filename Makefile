# Everything a target needs is installed by the target itself into project-local places:
# .venv (moto, cargo-lambda, ziglang), .venv-sam (aws-sam-cli, cfn-lint), .venv-checkov
# (checkov), .venv-actionlint (actionlint), rustup targets.

PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
CHECKOV_VENV := .venv-checkov
BENCH_VENV := .venv-bench
ACTIONLINT_VENV := .venv-actionlint
# Which actionlint, and why that package: requirements-actionlint.txt.
ACTIONLINT := $(ACTIONLINT_VENV)/bin/actionlint
BOOTSTRAP := target/lambda/s3-cloudfront-invalidator/bootstrap
SAM := SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam
# Fails on any finding; the template skips a check only per resource, with its reason.
CHECKOV := $(CHECKOV_VENV)/bin/checkov
FUNCTION := target/release/s3-cloudfront-invalidator
CARGO_DENY := .tools/bin/cargo-deny
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: demo test lint build package deploy events simulate bench clean

demo: $(FUNCTION)
	cargo run --release --quiet -p devtools --bin demo -- $(FUNCTION) events

test: $(VENV)/.installed $(SAM_VENV)/.installed
	REQUIRE_MOTO=1 cargo test --workspace
	# The deployment contract runs the debug binary that cargo test built just above (a
	# separate `cargo build` resolves features without the dev-dependencies, rebuilding the SDK).
	$(SAM_VENV)/bin/python -m unittest tests/test_template.py tests/test_contract.py tests/test_release.py
	$(SAM_VENV)/bin/cfn-lint template.yaml
	$(SAM) validate --lint

lint: $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed $(CARGO_DENY) $(ACTIONLINT)
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D rustdoc::broken_intra_doc_links -D rustdoc::private_intra_doc_links" cargo doc --no-deps --workspace --quiet
	$(SAM_VENV)/bin/cfn-lint template.yaml
	$(CHECKOV) --file template.yaml --framework cloudformation --quiet --compact --skip-download
	$(CARGO_DENY) check bans licenses sources
	$(ACTIONLINT) -no-color -shellcheck=$(ACTIONLINT_VENV)/bin/shellcheck .github/workflows/*.yml docs/examples/*.yml

build: $(VENV)/.installed
	rustup target add aarch64-unknown-linux-gnu
	cargo lambda build --release --arm64
	@ls -l $(BOOTSTRAP)

# For deploying without a Rust toolchain (docs/releasing.md): dist/bootstrap.zip, its
# SHA-256, dist/packaged.yaml for `sam deploy --template-file`, dist/publish.yaml for SAR.
package: build $(SAM_VENV)/.installed
	rm -rf dist
	$(SAM_VENV)/bin/python devtools/package.py $(BOOTSTRAP) template.yaml dist

# Deploys with samconfig.toml: the bucket's region, DistributionId and BucketName at least.
deploy: $(SAM_VENV)/.installed $(VENV)/.installed
	@test -f samconfig.toml || { echo "make deploy reads samconfig.toml: cp samconfig.toml.example samconfig.toml, then set the bucket's region, DistributionId and BucketName (docs/deployment.md)" >&2; exit 2; }
	rustup target add aarch64-unknown-linux-gnu
	$(SAM) build
	$(SAM) deploy

# Bulk deploys at CloudFront's pace, simulated in virtual time (README, Bulk uploads):
# target/simulate/summary.json, timelines, and the plot of the 1,000,000-object deploy.
simulate: $(BENCH_VENV)/.installed
	cargo test --profile simulate --test integration simulate::every_scenario -- --ignored --nocapture --test-threads 1
	$(BENCH_VENV)/bin/python bench/plot_simulation.py

# Cold starts, invocations, memory and size against a Python boto3 peer, side by side:
# the decoding and planning micro-benchmark first (its allocation figures go into the
# results), then regenerates bench/RESULTS.md and bench/coldstart.png.
bench: build $(FUNCTION) $(BENCH_VENV)/.installed
	cargo bench --bench plan -- --warm-up-time 1 --measurement-time 3
	cargo build --release --quiet -p devtools --bin bench
	target/release/bench $(FUNCTION) $(BENCH_VENV)/bin/python target/lambda/s3-cloudfront-invalidator/bootstrap 20
	$(BENCH_VENV)/bin/python bench/plot.py

# Regenerates events/ from `sam local generate-event` (the AWS-documented samples).
events: $(SAM_VENV)/.installed
	$(PYTHON) events/generate.py $(SAM_VENV)/bin/sam

clean:
	cargo clean
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) $(BENCH_VENV) $(ACTIONLINT_VENV) .aws-sam .tools dist

$(FUNCTION): Cargo.toml Cargo.lock $(wildcard src/*.rs src/*/*.rs)
	cargo build --release --bin s3-cloudfront-invalidator

$(CARGO_DENY):
	cargo install --quiet --locked --root .tools cargo-deny@0.20.2

$(VENV)/.installed: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(BENCH_VENV)/.installed: bench/requirements.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-sam.txt
	touch $@

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

$(ACTIONLINT_VENV)/bin/actionlint: requirements-actionlint.txt
	$(PYTHON) -m venv $(ACTIONLINT_VENV)
	$(ACTIONLINT_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-actionlint.txt
	touch $@
