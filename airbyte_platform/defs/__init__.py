"""Components that `dg` finds here (the project's `defs_module`): the Airbyte workspace state, so
`dg utils refresh-defs-state` refreshes it. The code location itself is built in definitions.py."""
