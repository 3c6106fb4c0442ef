"""envs/*.yaml pin the same versions as requirements.txt, and every rule names an env."""

from __future__ import annotations

import re

import yaml

from conftest import REPO


def pins(lines) -> dict[str, str]:
    return dict(re.match(r"([\w.-]+)==(\S+)", l.strip()).groups() for l in lines if "==" in l)


def test_env_pins_match_requirements():
    required = {k.lower(): v for k, v in pins((REPO / "requirements.txt").read_text().splitlines()).items()}
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
