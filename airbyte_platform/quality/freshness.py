"""Freshness: each synced stream must have been updated within its connection's `freshness_hours`.

Dagster's current freshness policies (`FreshnessPolicy.time_window`), set on the sync assets'
specs. The daemon's freshness evaluation (on by default: `freshness: enabled` in dagster.yaml)
records PASS / WARN / FAIL as the asset's freshness state; the UI shows it on the asset and the
Prometheus exporter exports it (`airbyte_platform_asset_freshness_state`), which the
`AssetFreshnessBreached` alert watches. Nothing has to be switched on, in any mode.

Superseded here: `build_last_update_freshness_checks` and its sensor, which only evaluated when
that (stopped) sensor was turned on. The warning comes at 80% of the window, so a slow sync is
seen before the stream goes stale.
"""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from airbyte_platform.core.catalog import ConnectionSpec, declared_connections

WARN_FRACTION = 0.8


def freshness_policy(connection: ConnectionSpec) -> dg.FreshnessPolicy:
    window = timedelta(hours=connection.freshness_hours)
    return dg.FreshnessPolicy.time_window(fail_window=window, warn_window=window * WARN_FRACTION)


def freshness_policies(
    connections: tuple[ConnectionSpec, ...] | None = None,
) -> dict[dg.AssetKey, dg.FreshnessPolicy]:
    return {
        connection.asset_key(stream): freshness_policy(connection)
        for connection in (connections if connections is not None else declared_connections())
        for stream in connection.streams
    }


def with_freshness_policies(defs: dg.Definitions) -> dg.Definitions:
    """`defs` with each declared stream's policy on its asset (discovered connections: none).

    Only the assets definitions holding a declared stream are rebuilt: mapping all of them (as
    `Definitions.map_asset_specs` does) rebuilt every discovered connection's too, a third of a
    50,000-asset load (bench/scale.py).
    """
    import warnings

    from dagster_shared.utils.warnings import PreviewWarning

    policies = freshness_policies()
    assets = list(defs.assets or [])
    declared = [
        index
        for index, item in enumerate(assets)
        if isinstance(item, dg.AssetsDefinition) and not policies.keys().isdisjoint(item.keys)
    ]
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore", PreviewWarning
        )  # map_asset_specs: chosen on purpose, see automation.py
        mapped = dg.map_asset_specs(
            lambda spec: (
                spec.replace_attributes(freshness_policy=policies[spec.key]) if spec.key in policies else spec
            ),
            [assets[index] for index in declared],
        )
    for index, item in zip(declared, mapped, strict=True):
        assets[index] = item
    return dg.Definitions(
        assets=assets,
        asset_checks=defs.asset_checks,
        jobs=defs.jobs,
        schedules=defs.schedules,
        sensors=defs.sensors,
        resources=defs.resources,
        metadata=defs.metadata,
    )
