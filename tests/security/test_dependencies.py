"""The pinned requirements audited for known vulnerabilities with pip-audit (PyPI's advisory data).

pip-audit asks PyPI's JSON API (`/pypi/<name>/<version>/json`) for each pinned package's known
vulnerabilities. Where that service cannot be reached (this build machine reaches only a package
mirror, which serves the packages but not the per-version JSON with its `vulnerabilities`), the test
is skipped and says why: a run that audits nothing must not pass as "no known vulnerabilities".

A finding fails the test unless ALLOWLIST explains it (why it does not apply, or until when).
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.nodb

ROOT = Path(__file__).resolve().parents[2]
PIP_AUDIT = ROOT / ".venv" / "bin" / "pip-audit"
REQUIREMENTS = ROOT / "requirements.txt"
PROBE_TIMEOUT = 10

# Vulnerability id (PYSEC-/GHSA-/CVE-) -> why it is accepted. Empty: nothing is accepted.
ALLOWLIST: dict[str, str] = {}


def _first_pin() -> tuple[str, str]:
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            # A locked line reads "name==1.2.3 \" (its hashes follow on the next lines).
            return name.split("[", 1)[0].strip(), version.split()[0]
    raise AssertionError("requirements.txt pins nothing")


def vulnerability_service_problem() -> str | None:
    """None when PyPI's JSON API answers with vulnerability data for a pinned package, else why not."""
    name, version = _first_pin()
    url = f"https://pypi.org/pypi/{name}/{version}/json"
    try:
        with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT) as response:  # noqa: S310 (fixed https URL)
            data = json.load(response)
    except urllib.error.HTTPError as exc:
        return f"{url} answered {exc.code}: the vulnerability data of PyPI's JSON API is not reachable here"
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        return f"{url} could not be reached ({exc}): no vulnerability service"
    except ValueError:
        return f"{url} did not answer JSON"
    if "vulnerabilities" not in data:
        return f"{url} answered without a 'vulnerabilities' field: not PyPI's advisory data"
    return None


@pytest.mark.slow
def test_pinned_requirements_have_no_unexplained_known_vulnerabilities():
    assert PIP_AUDIT.exists(), "pip-audit is not installed (requirements-dev.txt pins it)"
    problem = vulnerability_service_problem()
    if problem is not None:
        print(f"\n[security] pip-audit skipped: {problem}")
        pytest.skip(f"pip-audit cannot audit offline: {problem}")
    result = subprocess.run(
        [str(PIP_AUDIT), "-r", str(REQUIREMENTS), "--progress-spinner", "off", "--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    # 0: nothing found; 1: vulnerabilities found. Anything else is pip-audit failing.
    assert result.returncode in (0, 1), result.stderr[-3000:]
    report = json.loads(result.stdout)
    dependencies = report.get("dependencies", [])
    skipped = [d for d in dependencies if d.get("skip_reason")]
    if dependencies and len(skipped) == len(dependencies):
        pytest.skip(f"pip-audit audited nothing: {skipped[0]['skip_reason']}")
    findings = [
        f"{d['name']} {d['version']}: {v['id']} (fixed in {', '.join(v.get('fix_versions') or ['-'])})"
        for d in dependencies
        for v in d.get("vulns", [])
        if v["id"] not in ALLOWLIST and not set(v.get("aliases") or []) & set(ALLOWLIST)
    ]
    print(
        f"\n[security] pip-audit: {len(dependencies) - len(skipped)} packages audited, "
        f"{len(skipped)} skipped, {len(findings)} unexplained findings"
    )
    assert not skipped, "not audited: " + "; ".join(f"{d['name']}: {d['skip_reason']}" for d in skipped)
    assert not findings, "known vulnerabilities (fix, or explain in ALLOWLIST):\n" + "\n".join(findings)


def test_the_allowlist_explains_every_entry():
    for vulnerability, reason in ALLOWLIST.items():
        assert len(reason.split()) >= 5, f"{vulnerability}: say why it is accepted"
