"""The two set-up paths (pip and conda) and CI agree with the README."""
from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pyproject_pins() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return set(project["dependencies"]) | set(project["optional-dependencies"]["dev"])


def _environment_pins() -> set[str]:
    lines = (ROOT / "environment.yml").read_text().splitlines()
    return {m.group(1) for line in lines if (m := re.match(r"^\s+- ([A-Za-z0-9_.\-\[\]]+==[^\s#;]+(?:; [^#]+?)?)\s*$", line))}


def test_environment_yml_has_the_same_pins_as_pyproject():
    assert _environment_pins() == _pyproject_pins()
    assert "torch==2.13.0" in _pyproject_pins()
    assert all("==" in pin for pin in _pyproject_pins()), "every dependency is pinned exactly"


def test_ci_runs_the_readme_commands():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```(?:bash|sh)\n(.*?)```", readme, flags=re.S)
    first_two = [c.strip() for c in commands[:2]]
    assert first_two == ["bash scripts/setup.sh", "bash scripts/test.sh"]
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith(("#", "set ", "cd "))]
    assert ci == first_two


def test_cli_help_explains_every_subcommand():
    out = subprocess.run([sys.executable, "-m", "workbench.cli", "--help"], capture_output=True, text=True).stdout
    subcommands = re.findall(r"^    ([a-z][a-z-]+)", out, flags=re.M)
    assert "prepare" in subcommands and "zip-upload" in subcommands
    for name in subcommands:
        sub = subprocess.run([sys.executable, "-m", "workbench.cli", name, "--help"], capture_output=True, text=True)
        assert sub.returncode == 0 and len(sub.stdout.splitlines()) > 4, name



def test_cli_univariate_mirrors_the_client(tmp_path):
    body = ROOT.parent / "shared/data/azure_mvad_sample/univariate/request-data.json"
    out = subprocess.run([sys.executable, "-m", "workbench.cli", "--home", str(tmp_path), "univariate", "entire",
                          str(body), "--json"], capture_output=True, text=True, check=True).stdout
    import json
    response = json.loads(out)
    assert response["period"] == 7 and len(response["isAnomaly"]) == len(json.loads(body.read_text())["series"])
    bad = subprocess.run([sys.executable, "-m", "workbench.cli", "univariate", "last", str(tmp_path / "none.json")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "[FileNotFound]" in bad.stderr and "none.json" in bad.stderr
