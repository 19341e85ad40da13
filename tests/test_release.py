"""Checks of what a release ships: one version everywhere, the packaged templates, the
Serverless Application Repository metadata and cargo-lambda's settings beside the template.

Fast and offline: the packaging script runs on a stand-in binary, no build.
Run with the SAM venv's Python: .venv-sam/bin/python -m unittest tests/test_release.py
"""
import hashlib
import importlib.util
import re
import stat
import struct
import sys
import tempfile
import tomllib
import unittest
import zipfile
from pathlib import Path

from cfnlint.api import lint_all
from samcli.yamlhelper import yaml_parse

ROOT = Path(__file__).resolve().parent.parent
CARGO = tomllib.loads((ROOT / "Cargo.toml").read_text())["package"]
TEMPLATE_TEXT = (ROOT / "template.yaml").read_text()
TEMPLATE = yaml_parse(TEMPLATE_TEXT)
APPLICATION = TEMPLATE["Metadata"]["AWS::ServerlessRepo::Application"]
FUNCTION = TEMPLATE["Resources"]["InvalidatorFunction"]

spec = importlib.util.spec_from_file_location("package", ROOT / "devtools" / "package.py")
package = importlib.util.module_from_spec(spec)
sys.modules["package"] = package
spec.loader.exec_module(package)


def elf_header(bits=2, endian=1, kind=3, machine=183):
    """The first 64 bytes of an ELF file (a position-independent aarch64 executable)."""
    ident = b"\x7fELF" + bytes([bits, endian, 1]) + bytes(9)
    return ident + struct.pack("<HHI", kind, machine, 1) + bytes(64 - 24)


def changelog_versions():
    text = (ROOT / "CHANGELOG.md").read_text()
    return re.findall(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", text, re.MULTILINE)


class OneVersion(unittest.TestCase):
    def test_changelog_cargo_and_the_repository_agree(self):
        versions = changelog_versions()
        self.assertTrue(versions, "CHANGELOG.md has a released version")
        self.assertEqual(versions[0], CARGO["version"], "newest CHANGELOG entry")
        self.assertEqual(APPLICATION["SemanticVersion"], CARGO["version"], "template SemanticVersion")

    def test_changelog_links_each_version(self):
        text = (ROOT / "CHANGELOG.md").read_text()
        for version in changelog_versions():
            self.assertRegex(text, re.compile(rf"^\[{re.escape(version)}\]: https://", re.MULTILINE), version)


class RepositoryMetadata(unittest.TestCase):
    """What the Serverless Application Repository accepts (SAM's Metadata section reference)."""

    def test_fields_within_the_repositorys_limits(self):
        self.assertRegex(APPLICATION["Name"], r"^[a-zA-Z0-9\-]{1,140}$")
        self.assertRegex(APPLICATION["Author"], r"^[a-z0-9](([a-z0-9]|-(?!-))*[a-z0-9])?$")
        self.assertLessEqual(len(APPLICATION["Author"]), 127)
        self.assertTrue(1 <= len(APPLICATION["Description"]) <= 256)
        self.assertLessEqual(len(APPLICATION["Labels"]), 10)
        for label in APPLICATION["Labels"]:
            self.assertRegex(label, r"^[a-zA-Z0-9+\-_:/@]{1,127}$")
        self.assertRegex(APPLICATION["SemanticVersion"], r"^\d+\.\d+\.\d+$")

    def test_the_licence_is_one_of_cargos_and_its_file_says_so(self):
        # SAR takes a single SPDX id; Cargo's expression offers a choice of two.
        self.assertIn(APPLICATION["SpdxLicenseId"], CARGO["license"].split(" OR "))
        licence = (ROOT / APPLICATION["LicenseUrl"]).read_text()
        first_line = {"Apache-2.0": "Apache License", "MIT": "Copyright (c)"}[APPLICATION["SpdxLicenseId"]]
        self.assertIn(first_line, licence.splitlines()[0])
        self.assertTrue((ROOT / APPLICATION["ReadmeUrl"]).is_file())
        for name in ["LICENSE-MIT", "LICENSE-APACHE"]:
            self.assertIn("s3-cloudfront-invalidator contributors", (ROOT / name).read_text(), name)

    def test_source_and_home_page_are_cargos_repository(self):
        self.assertEqual(APPLICATION["SourceCodeUrl"], CARGO["repository"])
        self.assertEqual(APPLICATION["HomePageUrl"], CARGO["repository"])


class CargoLambdaMatchesTheTemplate(unittest.TestCase):
    """`cargo lambda deploy` reads [package.metadata.lambda]; its defaults differ (30 s)."""

    def test_memory_timeout_runtime_and_log_retention(self):
        deploy = CARGO["metadata"]["lambda"]["deploy"]
        props = FUNCTION["Properties"]
        self.assertEqual(deploy["memory"], props["MemorySize"])
        self.assertEqual(deploy["timeout"], props["Timeout"])
        self.assertEqual(deploy["runtime"], props["Runtime"])
        self.assertEqual(deploy["log_retention"], TEMPLATE["Parameters"]["LogRetentionDays"]["Default"])

    def test_architecture_is_built_in(self):
        # cargo-lambda deploys the architecture the binary was built for.
        self.assertEqual(FUNCTION["Properties"]["Architectures"], ["arm64"])
        self.assertIs(CARGO["metadata"]["lambda"]["build"]["arm64"], True)

    def test_the_template_logs_json_which_cargo_lambda_cannot_set(self):
        # docs/releasing.md gives the update-function-configuration call for this.
        self.assertEqual(FUNCTION["Properties"]["LoggingConfig"]["LogFormat"], "JSON")
        self.assertNotIn("log_format", CARGO["metadata"]["lambda"]["deploy"])
        self.assertIn("LogFormat=JSON", (ROOT / "docs" / "releasing.md").read_text())


class Packaging(unittest.TestCase):
    """devtools/package.py on a stand-in binary: the zip, its checksum, both templates."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.bootstrap = Path(cls.tmp.name) / "bootstrap"
        cls.bootstrap.write_bytes(elf_header() + b"stand-in for the function")
        cls.bootstrap.chmod(0o644)  # the zip makes it executable whatever the build left
        cls.dist = Path(cls.tmp.name) / "dist"
        package.main(str(cls.bootstrap), str(ROOT / "template.yaml"), str(cls.dist))
        cls.packaged_text = (cls.dist / "packaged.yaml").read_text()
        cls.packaged = yaml_parse(cls.packaged_text)
        cls.publish = yaml_parse((cls.dist / "publish.yaml").read_text())

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_zip_holds_an_executable_bootstrap_at_its_root(self):
        with zipfile.ZipFile(self.dist / "bootstrap.zip") as archive:
            self.assertEqual(archive.namelist(), ["bootstrap"])
            entry = archive.getinfo("bootstrap")
            mode = entry.external_attr >> 16
            self.assertTrue(stat.S_ISREG(mode))
            self.assertEqual(stat.S_IMODE(mode), 0o755)
            self.assertEqual(archive.read("bootstrap"), self.bootstrap.read_bytes())

    def test_checksums_in_sha256sum_form(self):
        for name in ["bootstrap.zip", "packaged.yaml"]:
            digest = hashlib.sha256((self.dist / name).read_bytes()).hexdigest()
            self.assertEqual((self.dist / f"{name}.sha256").read_text(), f"{digest}  {name}\n")

    def test_same_binary_same_zip(self):
        again = Path(self.tmp.name) / "again"
        package.main(str(self.bootstrap), str(ROOT / "template.yaml"), str(again))
        self.assertEqual((again / "bootstrap.zip").read_bytes(), (self.dist / "bootstrap.zip").read_bytes())

    def test_packaged_template_deploys_the_zip_without_building(self):
        function = self.packaged["Resources"]["InvalidatorFunction"]
        self.assertEqual(function["Properties"]["CodeUri"], "bootstrap.zip")
        self.assertTrue((self.dist / function["Properties"]["CodeUri"]).is_file())
        self.assertNotIn("BuildMethod", function.get("Metadata", {}))
        # The checkov skips, and everything else, are the template's.
        self.assertEqual(function["Metadata"]["checkov"], FUNCTION["Metadata"]["checkov"])
        expected = yaml_parse(TEMPLATE_TEXT)
        expected["Resources"]["InvalidatorFunction"]["Properties"]["CodeUri"] = "bootstrap.zip"
        del expected["Resources"]["InvalidatorFunction"]["Metadata"]["BuildMethod"]
        del expected["Metadata"]["AWS::ServerlessRepo::Application"]
        self.assertEqual(self.packaged, expected)

    def test_packaged_template_is_valid(self):
        errors = [m for m in lint_all(self.packaged_text) if m.rule.id.startswith("E")]
        self.assertEqual(errors, [])

    def test_packaged_template_names_no_file_it_does_not_ship_with(self):
        # `sam deploy` uploads the repository metadata's files: none are left to look for.
        self.assertNotIn("AWS::ServerlessRepo::Application", self.packaged.get("Metadata", {}))
        self.assertIn("AWS::CloudFormation::Interface", self.packaged["Metadata"])

    def test_publish_template_names_the_licence_and_readme_from_dist(self):
        application = self.publish["Metadata"]["AWS::ServerlessRepo::Application"]
        for key in ["LicenseUrl", "ReadmeUrl"]:
            self.assertEqual((self.dist / application[key]).resolve(), (ROOT / APPLICATION[key]).resolve(), key)
        self.assertEqual(self.publish["Resources"], self.packaged["Resources"])

    def test_only_an_arm64_executable_is_packaged(self):
        refused = {
            "x86-64": (elf_header(machine=62), "ELF machine 62, not aarch64"),
            "32-bit": (elf_header(bits=1), "not a 64-bit little-endian ELF"),
            "a library object": (elf_header(kind=1), "ELF type 1, not an executable"),
            "a script": (b"#!/bin/sh\necho hello\n", "not an ELF file"),
        }
        for name, (content, reason) in refused.items():
            binary = Path(self.tmp.name) / name
            binary.write_bytes(content)
            with self.subTest(name), self.assertRaises(SystemExit) as refusal:
                package.main(str(binary), str(ROOT / "template.yaml"), str(Path(self.tmp.name) / "refused"))
            self.assertIn(reason, str(refusal.exception))
            self.assertFalse((Path(self.tmp.name) / "refused" / "bootstrap.zip").exists(), name)
        self.assertIsNone(package.arm64_executable_problem(elf_header(kind=2)))

    def test_a_missing_build_is_a_clear_error(self):
        with self.assertRaises(SystemExit) as refused:
            package.main(str(Path(self.tmp.name) / "nothing"), str(ROOT / "template.yaml"), self.tmp.name)
        self.assertIn("no such file", str(refused.exception))


if __name__ == "__main__":
    unittest.main()
