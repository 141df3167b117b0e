"""The namespace's NetworkPolicies allow exactly the traffic the deployment needs, as the seeds ask:
default deny; the receiver and the webserver reached only from the ingress controller; egress only to DNS,
PostgreSQL, Airbyte in `integration` and HTTPS to public endpoints (Databricks, Snowflake, S3).

The policies are evaluated the way Kubernetes does (a connection passes when an egress rule of a policy
selecting the source and an ingress rule of a policy selecting the destination both allow it), against
pods labelled as the Dagster chart, dagster-k8s and our manifests label them. A selector typo leaves a
component with DNS only, and the table below catches it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pytest
from dagster_k8s.utils import get_common_labels

from airbyte_platform_tests.deploy.deploy_files import (
    CODE_LOCATION,
    HELM_RELEASE,
    base_documents,
    code_location,
    find,
    helm_values,
    only,
)

NAMESPACE = "dagster"


@dataclass(frozen=True)
class Endpoint:
    name: str
    namespace: str | None = None  # None: outside the cluster (reached by IP)
    labels: Mapping[str, str] = field(default_factory=dict)
    ip: str = "10.244.0.10"


def namespace_labels(namespace: str) -> dict[str, str]:
    return {"kubernetes.io/metadata.name": namespace}


@cache
def our_pods() -> dict[str, Endpoint]:
    """Our pods with the labels they run with (chart templates, dagster-k8s, our manifests)."""
    values = helm_values("prod")
    chart = {"app.kubernetes.io/name": "dagster", "app.kubernetes.io/instance": HELM_RELEASE}
    location = code_location(values)
    receiver = only(base_documents(), "Deployment", "webhook-receiver")
    facade = only(base_documents(), "Deployment", "airflow-api")
    run_labels = {
        **get_common_labels(),
        **(values["runLauncher"]["config"]["k8sRunLauncher"].get("labels") or {}),
        **(location.get("labels") or {}),  # includeConfigInLaunchedRuns passes these to run pods
        "app.kubernetes.io/component": "run_worker",  # dagster_k8s.launcher: component="run_worker"
    }
    return {
        "webserver": Endpoint(
            "webserver",
            NAMESPACE,
            {**chart, "component": "dagster-webserver", **(values["dagsterWebserver"].get("labels") or {})},
        ),
        "daemon": Endpoint(
            "daemon",
            NAMESPACE,
            {**chart, "component": "dagster-daemon", **(values["dagsterDaemon"].get("labels") or {})},
        ),
        # deployment-user.yaml of the chart's user-deployments subchart.
        "code-server": Endpoint(
            "code-server",
            NAMESPACE,
            {
                "app.kubernetes.io/name": "dagster-user-deployments",
                "app.kubernetes.io/instance": HELM_RELEASE,
                "component": "user-deployments",
                "deployment": CODE_LOCATION,
                **(location.get("labels") or {}),
            },
        ),
        "run-worker": Endpoint("run-worker", NAMESPACE, run_labels),
        "receiver": Endpoint("receiver", NAMESPACE, receiver.body["spec"]["template"]["metadata"]["labels"]),
        "airflow-api": Endpoint(
            "airflow-api", NAMESPACE, facade.body["spec"]["template"]["metadata"]["labels"]
        ),
    }


PEERS = {
    "ingress-controller": Endpoint(
        "ingress-controller", "ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"}
    ),
    "dns": Endpoint("dns", "kube-system", {"k8s-app": "kube-dns"}),
    "airbyte-server": Endpoint("airbyte-server", "integration", {"app.kubernetes.io/name": "server"}),
    "airbyte-worker": Endpoint("airbyte-worker", "integration", {"app.kubernetes.io/name": "worker"}),
    "other-namespace": Endpoint("other-namespace", "default", {"app": "something"}),
    "postgresql": Endpoint("postgresql", ip="10.20.0.5"),
    "kube-api": Endpoint("kube-api", ip="10.0.0.1"),
    "databricks": Endpoint("databricks", ip="52.1.2.3"),
    "private-https": Endpoint("private-https", ip="172.20.1.1"),
}

# (destination, port) pairs: what each component must reach, and nothing else among CHECKED.
CHECKED = [
    ("dns", 53),
    ("postgresql", 5432),
    ("code-server", 3030),
    ("airbyte-server", 8001),
    ("airbyte-worker", 9000),
    ("kube-api", 443),
    ("databricks", 443),
    ("databricks", 80),
    ("private-https", 443),
    ("other-namespace", 8080),
    ("receiver", 8765),
    ("webserver", 80),
    ("airflow-api", 8080),
]
EGRESS = {
    # public HTTPS (the "databricks" probe's address): S3, where the Airbyte workspace state is stored
    "receiver": {("dns", 53), ("postgresql", 5432), ("databricks", 443)},
    "airflow-api": {("dns", 53), ("webserver", 80)},
    # The Kubernetes API's address is the cluster's: 443 to private addresses, so also private-https.
    "webserver": {
        ("dns", 53),
        ("postgresql", 5432),
        ("code-server", 3030),
        ("kube-api", 443),
        ("private-https", 443),
    },
    "daemon": {
        ("dns", 53),
        ("postgresql", 5432),
        ("code-server", 3030),
        ("kube-api", 443),
        ("private-https", 443),
    },
    "code-server": {("dns", 53), ("postgresql", 5432), ("airbyte-server", 8001), ("databricks", 443)},
    "run-worker": {("dns", 53), ("postgresql", 5432), ("airbyte-server", 8001), ("databricks", 443)},
}
INGRESS = {  # who may open a connection to each of our components (on its port)
    "receiver": {"ingress-controller"},
    "airflow-api": {"ingress-controller"},
    "webserver": {"ingress-controller", "airflow-api"},
    "code-server": {"webserver", "daemon"},
    "daemon": set(),
    "run-worker": set(),
}
PORTS = {
    "receiver": 8765,
    "airflow-api": 8080,
    "webserver": 80,
    "code-server": 3030,
    "daemon": 3030,
    "run-worker": 3030,
}


def selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    if selector is None:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        matched = {
            "In": labels.get(key) in values,
            "NotIn": labels.get(key) not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[operator]
        if not matched:
            return False
    return True


def peer_matches(peer: Mapping[str, Any], endpoint: Endpoint, policy_namespace: str) -> bool:
    if "ipBlock" in peer:
        if endpoint.namespace is not None:
            return False  # pod traffic is matched by selectors, not by address
        address = ipaddress.ip_address(endpoint.ip)
        block = peer["ipBlock"]
        return address in ipaddress.ip_network(block["cidr"]) and not any(
            address in ipaddress.ip_network(cidr) for cidr in block.get("except", [])
        )
    if endpoint.namespace is None:
        return False
    if "namespaceSelector" in peer:
        if not selects(peer["namespaceSelector"], namespace_labels(endpoint.namespace)):
            return False
    elif endpoint.namespace != policy_namespace:
        return False
    return selects(peer.get("podSelector"), endpoint.labels)


def rule_allows(rule: Mapping[str, Any], peer_key: str, endpoint: Endpoint, port: int, ns: str) -> bool:
    ports = rule.get("ports")
    if ports and not any(p.get("port") == port for p in ports):
        return False
    peers = rule.get(peer_key)
    return not peers or any(peer_matches(peer, endpoint, ns) for peer in peers)


@cache
def policies() -> list[dict[str, Any]]:
    return [d.body for d in find(base_documents(), "NetworkPolicy")]


def allowed(direction: str, pod: Endpoint, other: Endpoint, port: int) -> bool:
    """Whether `pod`'s policies let it send to (Egress) or receive from (Ingress) `other` on `port`."""
    selecting = [
        p
        for p in policies()
        if direction in p["spec"]["policyTypes"] and selects(p["spec"]["podSelector"], pod.labels)
    ]
    if not selecting:
        return True
    rules_key, peer_key = ("egress", "to") if direction == "Egress" else ("ingress", "from")
    return any(
        rule_allows(rule, peer_key, other, port, NAMESPACE)
        for policy in selecting
        for rule in policy["spec"].get(rules_key, [])
    )


def connects(source: Endpoint, destination: Endpoint, port: int) -> bool:
    if source.namespace == NAMESPACE and not allowed("Egress", source, destination, port):
        return False
    return not (destination.namespace == NAMESPACE and not allowed("Ingress", destination, source, port))


@cache
def endpoint(name: str) -> Endpoint:
    return {**our_pods(), **PEERS}[name]


@pytest.mark.parametrize("component", sorted(EGRESS))
def test_component_reaches_exactly_what_it_needs(component: str) -> None:
    source = our_pods()[component]
    reached = {
        (name, port) for name, port in CHECKED if name != component and connects(source, endpoint(name), port)
    }
    assert reached == EGRESS[component]


@pytest.mark.parametrize("component", sorted(INGRESS))
def test_component_is_reached_only_by_its_clients(component: str) -> None:
    destination = our_pods()[component]
    sources = [*our_pods().values(), *(p for p in PEERS.values() if p.namespace is not None)]
    reached_by = {
        s.name for s in sources if s.name != component and connects(s, destination, PORTS[component])
    }
    assert reached_by == INGRESS[component]


def test_every_pod_is_under_the_default_deny() -> None:
    deny = [p for p in policies() if p["spec"]["podSelector"] == {} and not p["spec"].get("ingress")]
    assert any(
        set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"} and "egress" not in p["spec"] for p in deny
    )


def test_each_component_has_its_own_policy() -> None:
    for name, pod in our_pods().items():
        own = [
            p
            for p in policies()
            if p["spec"]["podSelector"] and selects(p["spec"]["podSelector"], pod.labels)
        ]
        assert len(own) == 1, f"{name}: {len(own)} component policies select it"


def test_webserver_ingress_port_is_the_chart_service_port() -> None:
    assert helm_values("prod")["dagsterWebserver"]["service"]["port"] == PORTS["webserver"]
    assert code_location(helm_values("prod"))["port"] == PORTS["code-server"]
