"""Packages the arm64 build for people without a Rust toolchain (`make package`).

    package.py BOOTSTRAP TEMPLATE DIST

checks that BOOTSTRAP is what Lambda's arm64 runtime runs (a 64-bit little-endian aarch64
ELF executable), then writes into DIST:
- bootstrap.zip: BOOTSTRAP at the zip's root as `bootstrap`, executable, with fixed
  timestamps so the same binary always gives the same zip (and checksum);
- bootstrap.zip.sha256: its SHA-256 in `sha256sum` form (`sha256sum -c` checks it in DIST);
- packaged.yaml (and packaged.yaml.sha256): TEMPLATE with the function's CodeUri on that zip and no BuildMethod, so
  `sam deploy --template-file packaged.yaml --resolve-s3` uploads the zip as it is instead
  of building from source. The Serverless Application Repository metadata is left out:
  deploying needs none of it, and `sam deploy` would look for its licence and readme files
  next to the template;
- publish.yaml: the same with that metadata, its files named from DIST, for `sam package`
  and `sam publish` from a checkout (docs/releasing.md).

Run with the SAM venv's Python (it reads and writes templates with the SAM CLI's own YAML
helpers, which keep short-form intrinsics such as !Ref readable as their long forms).
"""
import hashlib
import os
import struct
import sys
import zipfile
from pathlib import Path

from samcli.yamlhelper import yaml_dump, yaml_parse

FUNCTION = "InvalidatorFunction"
ZIP = "bootstrap.zip"
REPOSITORY_METADATA = "AWS::ServerlessRepo::Application"
# Local files SAR's metadata names, relative to the template (uploaded by `sam package`).
REPOSITORY_FILES = ("LicenseUrl", "ReadmeUrl")
# The earliest time a zip can hold: the archive does not change with the build's mtime.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
# ELF header fields (the System V ABI): class 2 is 64-bit, data 1 little-endian, types 2
# and 3 an executable or a position-independent one, machine 183 EM_AARCH64.
ELF_MAGIC = b"\x7fELF"
ELF_EXECUTABLE_TYPES = (2, 3)
EM_AARCH64 = 183


def arm64_executable_problem(header: bytes):
    """Why `header` (a file's first bytes) is not an arm64 Linux executable, or None."""
    if len(header) < 20 or header[:4] != ELF_MAGIC:
        return "not an ELF file"
    if (header[4], header[5]) != (2, 1):
        return "not a 64-bit little-endian ELF"
    kind, machine = struct.unpack_from("<HH", header, 16)
    if kind not in ELF_EXECUTABLE_TYPES:
        return f"ELF type {kind}, not an executable"
    if machine != EM_AARCH64:
        return f"built for ELF machine {machine}, not aarch64 ({EM_AARCH64}): build with --arm64"
    return None


def write_zip(bootstrap: Path, destination: Path) -> None:
    entry = zipfile.ZipInfo("bootstrap", date_time=ZIP_EPOCH)
    # A regular file, rwxr-xr-x: Lambda runs `bootstrap` as the custom runtime.
    entry.external_attr = (0o100755 << 16)
    entry.create_system = 3  # Unix, so the mode bits are read
    entry.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(destination, "w") as archive:
        archive.writestr(entry, bootstrap.read_bytes(), compresslevel=9)


def sha256_line(path: Path) -> str:
    return f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}\n"


def deployable(template: dict, zip_name: str = ZIP) -> dict:
    """The template deploying the zip: CodeUri on it, nothing for SAM to build."""
    function = template["Resources"][FUNCTION]
    function["Properties"]["CodeUri"] = zip_name
    metadata = function.get("Metadata", {})
    metadata.pop("BuildMethod", None)
    if not metadata:
        function.pop("Metadata", None)
    return template


def packaged(template_text: str, zip_name: str = ZIP) -> dict:
    """packaged.yaml: deployable with only the zip beside it."""
    template = deployable(yaml_parse(template_text), zip_name)
    template.get("Metadata", {}).pop(REPOSITORY_METADATA, None)
    return template


def for_publishing(template_text: str, template_dir: Path, dist: Path, zip_name: str = ZIP) -> dict:
    """publish.yaml: with the repository metadata, its files named relative to `dist`."""
    template = deployable(yaml_parse(template_text), zip_name)
    application = template["Metadata"][REPOSITORY_METADATA]
    for key in REPOSITORY_FILES:
        local = (template_dir / application[key]).resolve()
        if not local.is_file():
            raise SystemExit(f"{REPOSITORY_METADATA} {key}: {local} is not a file")
        application[key] = os.path.relpath(local, dist.resolve())
    return template


def main(bootstrap: str, template: str, dist: str) -> None:
    bootstrap_path, template_path, dist_path = Path(bootstrap), Path(template), Path(dist)
    if not bootstrap_path.is_file():
        raise SystemExit(f"{bootstrap_path}: no such file (run `make build` first)")
    with bootstrap_path.open("rb") as binary:
        problem = arm64_executable_problem(binary.read(64))
    if problem:
        raise SystemExit(f"{bootstrap_path}: {problem}")
    dist_path.mkdir(parents=True, exist_ok=True)
    zip_path = dist_path / ZIP
    write_zip(bootstrap_path, zip_path)
    (dist_path / f"{ZIP}.sha256").write_text(sha256_line(zip_path))
    text = template_path.read_text()
    packaged_path = dist_path / "packaged.yaml"
    packaged_path.write_text(yaml_dump(packaged(text)))
    (dist_path / "packaged.yaml.sha256").write_text(sha256_line(packaged_path))
    publish = for_publishing(text, template_path.parent, dist_path)
    (dist_path / "publish.yaml").write_text(yaml_dump(publish))
    print(f"{zip_path} ({zip_path.stat().st_size} bytes), {dist_path}/packaged.yaml, {dist_path}/publish.yaml")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
