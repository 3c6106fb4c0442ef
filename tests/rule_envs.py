"""What each rule's conda environment must hold: the third-party imports of its script.

A rule's script (``script:`` in ``rules/*.smk``) runs in the environment its ``conda:`` names.
Its imports are read with ``ast`` (module- and function-level alike), following the package's
own modules and the script folder's helper modules transitively; the standard library is left
out, every other import name is mapped to its pip package by ``IMPORT_PACKAGES``.
"""

from __future__ import annotations

import ast
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

IMPORT_PACKAGES: dict[str, str] = {
    "albumentations": "albumentations",
    "cv2": "opencv-python-headless",
    "h5py": "h5py",
    "jsonschema": "jsonschema",
    "matplotlib": "matplotlib",
    "maxflow": "PyMaxflow",
    "numpy": "numpy",
    "pandas": "pandas",
    "PIL": "Pillow",
    "pytorch_grad_cam": "grad-cam",
    "scipy": "scipy",
    "shap": "shap",
    "skimage": "scikit-image",
    "sklearn": "scikit-learn",
    "snakemake": "snakemake",
    "threadpoolctl": "threadpoolctl",
    "torch": "torch",
    "torchvision": "torchvision",
    "tqdm": "tqdm",
    "yaml": "PyYAML",
}
"""Top-level import name -> the pip package that provides it."""

RULE_HEADER = re.compile(r"^[ \t]*(?:(?:rule|checkpoint) (\w+)|use rule (\w+) as (\w+) with):",
                         re.M)
DIRECTIVE_PATH = r"^[ \t]*{}:\s*\n[ \t]*\"([^\"]+)\""


@dataclass(frozen=True)
class Rule:
    """A rule: its name, the file defining it, its conda env file and its script (None where
    the rule sets none)."""

    name: str
    smk: Path
    env: Path | None
    script: Path | None


def directive_path(block: str, directive: str, folder: Path) -> Path | None:
    """The path a rule block gives for ``directive`` (conda, script), relative to the rule
    file's ``folder`` as Snakemake reads it; None when the block does not set it."""
    found = re.search(DIRECTIVE_PATH.format(directive), block, re.M)
    return Path(os.path.normpath(folder / found.group(1))) if found else None


def scripted_rules(rules_dir: Path) -> list[Rule]:
    """Every rule of ``rules_dir/*.smk`` that runs a script, in file order; a ``use rule X as Y
    with:`` block keeps X's conda env and script unless it sets its own."""
    declared: dict[str, Rule] = {}
    for smk in sorted(rules_dir.glob("*.smk")):
        text = smk.read_text()
        headers = list(RULE_HEADER.finditer(text))
        for header, end in zip(headers, [h.start() for h in headers[1:]] + [len(text)]):
            block = text[header.end():end]
            name, parent, alias = header.groups()
            base = declared[parent] if parent else Rule(name, smk, None, None)
            env, script = (directive_path(block, d, smk.parent) for d in ("conda", "script"))
            declared[name or alias] = Rule(name or alias, smk, env or base.env,
                                           script or base.script)
    return [rule for rule in declared.values() if rule.script is not None]


def imported_modules(tree: ast.Module, package: str | None) -> set[str]:
    """Dotted names of the modules ``tree`` imports anywhere in it, with their parent packages
    (importing ``a.b`` runs ``a``); a relative import is made absolute within ``package`` (the
    importing module's package), and ``from m import n`` also yields ``m.n`` (n may be a
    submodule)."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level and package:
                anchor = package.rsplit(".", node.level - 1)[0]
                base = f"{anchor}.{base}" if base else anchor
            names += [base, *(f"{base}.{alias.name}" for alias in node.names)]
    return {".".join(parts[:i]) for parts in (n.split(".") for n in names)
            for i in range(1, len(parts) + 1)}


def local_module_file(name: str, package_dir: Path, helpers_dir: Path | None) -> Path | None:
    """The file of module ``name`` when it is the package's own (``package_dir``) or a helper
    module in ``helpers_dir`` (the scripts' folder, on a script's ``sys.path``); None for any
    other module."""
    parts = name.split(".")
    if parts[0] == package_dir.name:
        stem = package_dir.parent.joinpath(*parts)
        candidates = [stem.with_suffix(".py"), stem / "__init__.py"]
    else:
        candidates = [helpers_dir / f"{name}.py"] if helpers_dir else []
    return next((c for c in candidates if c.is_file()), None)


def third_party_imports(script: Path, package_dir: Path) -> dict[str, Path]:
    """Top-level third-party import names of ``script`` and of every local module it imports,
    transitively (``local_module_file``), each with the first file found importing it; the
    standard library is left out."""
    found: dict[str, Path] = {}
    queue, seen = [script], {script}
    while queue:
        path = queue.pop(0)
        in_package = path.is_relative_to(package_dir)
        package = (".".join(path.relative_to(package_dir.parent).parent.parts) if in_package
                   else None)
        helpers_dir = None if in_package else script.parent
        for name in sorted(imported_modules(ast.parse(path.read_text(), str(path)), package)):
            local = local_module_file(name, package_dir, helpers_dir)
            top = name.split(".")[0]
            if local is not None and local not in seen:
                seen.add(local)
                queue.append(local)
            elif local is None and top != package_dir.name and top not in sys.stdlib_module_names:
                found.setdefault(top, path)
    return found


def normalised(package: str) -> str:
    """A package name as pip compares it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", package).lower()


def env_packages(env: Path) -> set[str]:
    """Normalised names of the conda and pip packages a conda env file lists."""
    listed = []
    for dependency in yaml.safe_load(env.read_text())["dependencies"]:
        listed += dependency["pip"] if isinstance(dependency, dict) else [dependency]
    return {normalised(re.split(r"[=<>!~ \[]", spec, maxsplit=1)[0]) for spec in listed}


def env_problems(rules_dir: Path, package_dir: Path) -> list[str]:
    """What the envs of ``rules_dir``'s rules lack for their scripts, one line per rule and
    missing package (or import name not in ``IMPORT_PACKAGES``); empty when each env holds
    every package its script imports, directly or through ``package_dir``'s modules."""
    root = rules_dir.parent
    problems = []
    for rule in scripted_rules(rules_dir):
        if rule.env is None:
            problems.append(f"rule {rule.name} ({rule.smk.name}): no conda env")
            continue
        listed = env_packages(rule.env)
        for name, importer in sorted(third_party_imports(rule.script, package_dir).items()):
            where = importer.relative_to(root)
            if name not in IMPORT_PACKAGES:
                problems.append(f"rule {rule.name}: import {name} ({where}) has no entry in "
                                "IMPORT_PACKAGES")
            elif normalised(IMPORT_PACKAGES[name]) not in listed:
                problems.append(f"rule {rule.name} ({rule.smk.name}): "
                                f"{rule.env.relative_to(root)} lacks {IMPORT_PACKAGES[name]} "
                                f"(import {name} in {where})")
    return problems
