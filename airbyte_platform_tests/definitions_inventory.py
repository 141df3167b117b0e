"""A plain-text inventory of a Definitions object: what the Dagster UI shows by name."""

from __future__ import annotations

import dagster as dg


def inventory(defs: dg.Definitions) -> str:
    graph = defs.resolve_asset_graph()
    lines = ["# assets: key | group | kinds | owners"]
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        kinds = ",".join(sorted(node.kinds))
        owners = ",".join(sorted(node.owners))
        lines.append(f"{key.to_user_string()} | {node.group_name} | {kinds} | {owners}")
    lines.append("# asset checks: asset:check (blocking)")
    for check_key in sorted(graph.asset_check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name)):
        spec = graph.get_check_spec(check_key)
        lines.append(
            f"{check_key.asset_key.to_user_string()}:{check_key.name}{' (blocking)' if spec.blocking else ''}"
        )
    repository = defs.get_repository_def()
    lines.append("# jobs")
    lines += sorted(job.name for job in repository.get_all_jobs() if not job.name.startswith("__"))
    lines.append("# schedules: name | cron | job")
    lines += sorted(f"{s.name} | {s.cron_schedule} | {s.job_name}" for s in repository.schedule_defs)
    lines.append("# sensors")
    lines += sorted(s.name for s in repository.sensor_defs)
    return "\n".join(lines) + "\n"
