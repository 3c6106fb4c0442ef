"""envs/*.yaml pin the same versions as requirements.txt, every rule names an env, and each env
holds every package its rules' scripts import (tests/rule_envs.py)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from rule_envs import Rule, env_problems, scripted_rules


def pins(lines) -> dict[str, str]:
    return dict(re.match(r"([\w.-]+)==(\S+)", line.strip()).groups()
                for line in lines if "==" in line)


def test_env_pins_match_requirements():
    required = {k.lower(): v
                for k, v in pins((REPO / "requirements.txt").read_text().splitlines()).items()}
    for env_file in sorted((REPO / "envs").glob("*.yaml")):
        env = yaml.safe_load(env_file.read_text())
        pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
        for name, version in pins(pip).items():
            assert required.get(name.lower()) == version, f"{env_file.name}: {name}=={version}"


def test_every_scripted_rule_has_conda_env_and_log():
    for smk in sorted((REPO / "rules").glob("*.smk")):
        for rule in re.split(r"\n\s*(?:rule|checkpoint) ", smk.read_text())[1:]:
            if "script:" in rule:
                assert "conda:" in rule and "log:" in rule, f"{smk.name}: {rule.splitlines()[0]}"
                env = re.search(r'"\.\./(envs/\w+\.yaml)"', rule).group(1)
                assert (REPO / env).is_file()


def test_every_rule_env_holds_what_its_script_imports():
    assert env_problems(REPO / "rules", REPO / "xaicut") == []


def copy_of_workflow(root: Path) -> Path:
    """The rules, envs, scripts and package of this repository copied to ``root``."""
    for folder in ("rules", "envs", "workflow_scripts", "xaicut"):
        shutil.copytree(REPO / folder, root / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.mark.parametrize("module", ["xaicut/classes.py", "workflow_scripts/xaicut_on_path.py"])
def test_an_import_the_env_lacks_is_named(module, tmp_path):
    """A function-level ``import maxflow`` planted in a module ingest reaches (xaicut.classes
    through xaicut.ingest; the scripts' path helper) is missing from envs/data.yaml."""
    root = copy_of_workflow(tmp_path)
    planted = root / module
    planted.write_text(planted.read_text() + "\n\ndef planted():\n    import maxflow\n")
    problems = env_problems(root / "rules", root / "xaicut")
    assert (f"rule ingest (data.smk): envs/data.yaml lacks PyMaxflow (import maxflow in {module})"
            in problems)
    assert "rule segment " not in "\n".join(problems)  # envs/segment.yaml has PyMaxflow


def test_an_import_without_a_known_package_is_named(tmp_path):
    root = copy_of_workflow(tmp_path)
    script = root / "workflow_scripts" / "fuse.py"
    script.write_text("from unknown_lib.sub import thing\n" + script.read_text())
    assert env_problems(root / "rules", root / "xaicut") == [
        "rule fuse: import unknown_lib (workflow_scripts/fuse.py) has no entry in IMPORT_PACKAGES"]


def test_use_rule_keeps_the_env_and_script_it_does_not_set(tmp_path):
    (tmp_path / "rules").mkdir()
    smk = tmp_path / "rules" / "a.smk"
    smk.write_text(
        'rule first:\n    conda:\n        "../envs/one.yaml"\n'
        '    script:\n        "../workflow_scripts/first.py"\n\n\n'
        'use rule first as second with:\n    conda:\n        "../envs/two.yaml"\n\n\n'
        'use rule first as third with:\n    log:\n        "third.log",\n\n\n'
        'rule all:\n    input:\n        "x",\n')
    env, script = tmp_path / "envs", tmp_path / "workflow_scripts" / "first.py"
    assert scripted_rules(tmp_path / "rules") == [
        Rule("first", smk, env / "one.yaml", script),
        Rule("second", smk, env / "two.yaml", script),
        Rule("third", smk, env / "one.yaml", script),
    ]
