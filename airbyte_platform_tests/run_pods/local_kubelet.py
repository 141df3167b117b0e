"""Run pods without a cluster: Dagster's own K8sRunLauncher, whose Kubernetes API is a local "kubelet".

The launcher is dagster-k8s's, configured from deploy/helm/values.yaml the way the chart renders
`run_launcher:` into dagster.yaml, so the Job it creates is the one production gets: the same
`dagster api execute_run` arguments, labels (`dagster/run-id`) and environment, including the
Downward API entries of `runK8sConfig.containerConfig.env`. Only the API calls are answered here:
creating a Job starts its container's command as a local process with the environment a kubelet
would give it (the daemon's environment standing in for the image and its envFrom sources, then
the container's own `env`, with `fieldRef`s resolved against the pod's labels). No container engine
or cluster exists on these machines (README); this is how bench/scale.py and the run-pod tests
measure and exercise a production-shaped run worker.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import kubernetes
import yaml
from dagster import Field, StringSource
from dagster_k8s import K8sRunLauncher

KUBECONFIG = {
    # Parsed by the launcher at start; never contacted (every call is answered by LocalKubelet).
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "local", "cluster": {"server": "https://127.0.0.1:9"}}],
    "users": [{"name": "local", "user": {"token": "unused"}}],
    "contexts": [{"name": "local", "context": {"cluster": "local", "user": "local"}}],
    "current-context": "local",
}
LABEL_FIELD = re.compile(r"metadata\.labels\['([^']+)'\]")


def run_launcher_config(values: dict[str, Any], dagster_home: str, logs_dir: str) -> dict[str, Any]:
    """The `run_launcher:` section the Dagster chart renders from these values, for LocalKubeletRunLauncher."""
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    run_k8s = {
        re.sub(r"[A-Z]", lambda m: "_" + m.group(0).lower(), key): value
        for key, value in (launcher.get("runK8sConfig") or {}).items()
    }
    return {
        "module": __name__,
        "class": LocalKubeletRunLauncher.__name__,
        "config": {
            "job_namespace": "dagster",
            "image_pull_policy": launcher["imagePullPolicy"],
            "service_account_name": "dagster",
            "job_image": "airbyte-platform:local",
            "dagster_home": dagster_home,
            "instance_config_map": "dagster-instance",
            "env_vars": launcher.get("envVars") or [],
            "labels": launcher.get("labels") or {},
            "fail_pod_on_run_failure": launcher.get("failPodOnRunFailure", True),
            "resources": launcher.get("resources") or {},
            "run_k8s_config": run_k8s,
            "pod_logs_dir": logs_dir,
        },
    }


class LocalKubelet:
    """The part of the BatchV1Api/CoreV1Api the K8sRunLauncher calls, backed by local processes."""

    def __init__(self, logs_dir: Path):
        self.logs_dir = logs_dir
        self.pods: dict[str, subprocess.Popen[bytes]] = {}
        self.jobs: dict[str, Any] = {}
        self.lock = threading.Lock()

    # BatchV1Api
    def create_namespaced_job(self, body: Any, namespace: str, **_: Any) -> Any:
        template = body.spec.template
        (container,) = template.spec.containers
        labels = dict(template.metadata.labels or {})
        argv = [*(container.command or []), *(container.args or [])]
        executable = Path(sys.executable).with_name(argv[0])
        if executable.exists():  # the image's PATH: its virtualenv's bin first
            argv[0] = str(executable)
        name = body.metadata.name
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        env = self._environment(container, labels, name)
        # What `kubectl get pod -o yaml` would show of it: the labels and the container's own env.
        own_env = {
            item.name: env.get(item.name) if _not_secret(item) else "(from a Secret)"
            for item in container.env or []
        }
        described = {"labels": labels, "args": argv[1:], "env": own_env}
        (self.logs_dir / f"{name}.json").write_text(json.dumps(described, indent=2))
        with open(self.logs_dir / f"{name}.log", "wb") as log:
            process = subprocess.Popen(
                argv,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        with self.lock:
            self.pods[name] = process
            self.jobs[name] = body
        return body

    def read_namespaced_job_status(self, name: str, namespace: str, **_: Any) -> Any:
        with self.lock:
            process = self.pods.get(name)
        if process is None:
            raise kubernetes.client.rest.ApiException(status=404, reason="Not Found")
        code = process.poll()
        status = SimpleNamespace(
            active=1 if code is None else None,
            succeeded=1 if code == 0 else None,
            failed=1 if code not in (None, 0) else None,
        )
        return SimpleNamespace(status=status)

    def delete_namespaced_job(self, name: str, namespace: str, **_: Any) -> None:
        with self.lock:
            process = self.pods.get(name)
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)

    # CoreV1Api
    def list_namespaced_pod(self, namespace: str, **_: Any) -> Any:
        return SimpleNamespace(items=[])

    def delete_namespaced_pod(self, name: str, namespace: str, **_: Any) -> None:
        return None

    def _environment(self, container: Any, labels: dict[str, str], pod_name: str) -> dict[str, str]:
        env = dict(os.environ)
        for item in container.env or []:
            if item.value is not None:
                env[item.name] = item.value
                continue
            source = item.value_from
            if source is not None and source.field_ref is not None:
                path = source.field_ref.field_path
                found = LABEL_FIELD.fullmatch(path)
                if found:
                    env[item.name] = labels.get(found.group(1), "")
                elif path == "metadata.name":
                    env[item.name] = pod_name
                else:
                    raise ValueError(f"{item.name}: the local kubelet does not resolve fieldRef {path}")
            # secretKeyRef/configMapKeyRef: the daemon's environment already holds the value
        return env

    def stop_all(self) -> None:
        with self.lock:
            running = [p for p in self.pods.values() if p.poll() is None]
        for process in running:
            os.killpg(process.pid, signal.SIGTERM)
        for process in running:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def _not_secret(item: Any) -> bool:
    return item.value_from is None or item.value_from.secret_key_ref is None


class LocalKubeletRunLauncher(K8sRunLauncher):
    """dagster-k8s's launcher, unchanged, with LocalKubelet as its Kubernetes API."""

    def __init__(self, pod_logs_dir: str, **config: Any):
        self.kubelet = LocalKubelet(Path(pod_logs_dir))
        for replaced in ("load_incluster_config", "kubeconfig_file"):  # the schema's defaults
            config.pop(replaced, None)
        kubeconfig = Path(tempfile.mkdtemp(prefix="local_kubelet_")) / "config"
        kubeconfig.write_text(yaml.safe_dump(KUBECONFIG))
        super().__init__(
            **config,
            load_incluster_config=False,
            kubeconfig_file=str(kubeconfig),
            k8s_client_batch_api=self.kubelet,
            k8s_client_core_api=self.kubelet,
        )

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {**K8sRunLauncher.config_type(), "pod_logs_dir": Field(StringSource)}

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: dict[str, Any]) -> LocalKubeletRunLauncher:
        return cls(inst_data=inst_data, **config_value)

    def dispose(self) -> None:
        self.kubelet.stop_all()
        super().dispose()
