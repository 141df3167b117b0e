"""deploy/monitoring: the alert rules pass promtool (syntax and unit tests), every series the rules
and the dashboard name is one the exporter exports, and the manifests are valid Kubernetes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import dagster as dg
import kubernetes_validate
import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from airbyte_platform.events.cdc.slot import SlotReading, SlotRow
from airbyte_platform.events.inbox import open_inbox
from airbyte_platform.operations.metrics.collector import PlatformCollector
from airbyte_platform.settings import PROJECT_ROOT, MetricsSettings

MONITORING = PROJECT_ROOT / "deploy" / "monitoring"
KUBERNETES_VERSION = "1.32.0"
SERIES = re.compile(r"\bairbyte_platform_[a-z0-9_]+")


def _documents(name: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all((MONITORING / name).read_text()) if doc]


def _rule_spec() -> dict:
    [rule] = _documents("prometheusrule.yaml")
    assert rule["kind"] == "PrometheusRule"
    return rule["spec"]


def _alerts() -> dict[str, dict]:
    return {
        rule["alert"]: rule for group in _rule_spec()["groups"] for rule in group["rules"] if "alert" in rule
    }


def _dashboard_exprs() -> list[str]:
    dashboard = json.loads((MONITORING / "grafana" / "airbyte-platform.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


@pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool (Debian package prometheus) is not installed"
)
def test_alert_rules_pass_promtool_check_and_unit_tests(tmp_path: Path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(_rule_spec()))
    checked = subprocess.run(["promtool", "check", "rules", str(rules)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    shutil.copy(MONITORING / "tests" / "alerts.test.yaml", tmp_path / "alerts.test.yaml")
    tested = subprocess.run(
        ["promtool", "test", "rules", str(tmp_path / "alerts.test.yaml")], capture_output=True, text=True
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_the_issue_s_alerts_exist():
    assert {
        "AirbyteSyncFailed",
        "CdcReplicationLagHigh",
        "AssetFreshnessBreached",
        "WebhookInboxBacklogGrowing",
        "NotificationsFailing",
    } <= set(_alerts())
    for name, rule in _alerts().items():
        assert rule["labels"]["severity"] in ("warning", "critical"), name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name


def _exported_series(pg_inbox_dsn: str) -> set[str]:
    """Every series name the exporter exposes, sources all answering (on an empty instance)."""
    reading = SlotReading(
        slot_name="airbyte_slot",
        database="app",
        wal_level="logical",
        slots_present=("airbyte_slot",),
        slot=SlotRow("logical", "pgoutput", True, "reserved", None, "0/2", "0/1", 1),
        heartbeat_table=True,
        caught_up_heartbeat_age=5.0,
    )
    with dg.instance_for_test() as instance:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(
            PlatformCollector(
                instance,
                MetricsSettings(),
                open_inbox=lambda: open_inbox(pg_inbox_dsn),
                read_cdc=lambda: (reading, 300, 1024),
            )
        )
        text = generate_latest(registry).decode()
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(f"{family.name}_total" if family.type == "counter" else family.name)
    return names


def test_rules_and_dashboard_name_only_exported_series(pg_inbox_dsn: str):
    exported = _exported_series(pg_inbox_dsn)
    rules = {name for rule in _alerts().values() for name in SERIES.findall(rule["expr"])}
    dashboard = {name for expr in _dashboard_exprs() for name in SERIES.findall(expr)}
    assert rules and dashboard
    assert rules - exported == set()
    assert dashboard - exported == set()


def test_manifests_are_valid_kubernetes_and_the_service_monitor_finds_the_exporter():
    documents = _documents("metrics-exporter.yaml")
    for document in documents:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    service = next(d for d in documents if d["kind"] == "Service")
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    [monitor] = _documents("servicemonitor.yaml")
    labels = service["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in monitor["spec"]["selector"]["matchLabels"].items())
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= {p["name"] for p in service["spec"]["ports"]}
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert container["args"][-1] == "airbyte_platform.operations.metrics"
    assert int(env["METRICS_PORT"]) == container["ports"][0]["containerPort"]
    assert env["METRICS_HOST"] == "0.0.0.0"  # reachable from Prometheus, unlike the 127.0.0.1 default
    kustomization = yaml.safe_load((MONITORING / "kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        assert (MONITORING / resource).exists(), resource
