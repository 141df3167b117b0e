"""A plain-text inventory of a Definitions object: what the Dagster UI shows, and the spec data behind it.

Two parts:
- names (what a user clicks): asset keys with group, kinds and owners; checks; jobs; schedules; sensors;
- spec data (what a refactor must keep): each asset's deps, tags and metadata keys (values of metadata
  are left out where they are per-run or per-environment: ids, URLs), each check's blocking flag and
  extra deps, and each job's asset and check selection.
"""

from __future__ import annotations

import dagster as dg


def _key(key: dg.AssetKey) -> str:
    return key.to_user_string()


def _names(defs: dg.Definitions, graph) -> list[str]:
    lines = ["# assets: key | group | kinds | owners"]
    for key in sorted(graph.get_all_asset_keys(), key=_key):
        node = graph.get(key)
        kinds = ",".join(sorted(node.kinds))
        owners = ",".join(sorted(node.owners))
        lines.append(f"{_key(key)} | {node.group_name} | {kinds} | {owners}")
    lines.append("# asset checks: asset:check (blocking)")
    for check_key in sorted(graph.asset_check_keys, key=lambda k: (_key(k.asset_key), k.name)):
        spec = graph.get_check_spec(check_key)
        lines.append(f"{_key(check_key.asset_key)}:{check_key.name}{' (blocking)' if spec.blocking else ''}")
    repository = defs.get_repository_def()
    lines.append("# jobs")
    lines += sorted(job.name for job in repository.get_all_jobs() if not job.name.startswith("__"))
    lines.append("# schedules: name | cron | job")
    lines += sorted(f"{s.name} | {s.cron_schedule} | {s.job_name}" for s in repository.schedule_defs)
    lines.append("# sensors")
    lines += sorted(s.name for s in repository.sensor_defs)
    return lines


def _spec_data(defs: dg.Definitions, graph) -> list[str]:
    lines = ["# asset specs: key", "#   deps | tags | metadata keys"]
    for key in sorted(graph.get_all_asset_keys(), key=_key):
        node = graph.get(key)
        deps = ",".join(sorted(_key(parent) for parent in node.parent_keys)) or "-"
        tags = ",".join(
            f"{name}={value}"
            for name, value in sorted(node.tags.items())
            if not name.startswith("dagster/kind/")
        )
        metadata = ",".join(sorted(node.metadata)) or "-"
        lines += [_key(key), f"    {deps} | {tags or '-'} | {metadata}"]
    lines.append("# check specs: asset:check | blocking | extra deps")
    for check_key in sorted(graph.asset_check_keys, key=lambda k: (_key(k.asset_key), k.name)):
        spec = graph.get_check_spec(check_key)
        extra = ",".join(sorted(_key(dep.asset_key) for dep in spec.additional_deps)) or "-"
        lines.append(f"{_key(check_key.asset_key)}:{check_key.name} | {spec.blocking} | {extra}")
    lines.append("# job selections: job | assets | checks")
    repository = defs.get_repository_def()
    for job in sorted(repository.get_all_jobs(), key=lambda j: j.name):
        if job.name.startswith("__"):
            continue
        layer = job.asset_layer
        assets = sorted(_key(k) for k in layer.selected_asset_keys)
        checks = {check for data in layer.data for check in data.assets_def.check_keys}
        lines.append(job.name)
        lines.append(f"    assets: {', '.join(assets) or '-'}")
        lines.append(f"    checks: {len(checks)}")
    return lines


def inventory(defs: dg.Definitions) -> str:
    graph = defs.resolve_asset_graph()
    return "\n".join([*_names(defs, graph), *_spec_data(defs, graph)]) + "\n"
