"""The PostgreSQL destination: COPY into staging tables, publish all streams in one transaction.

Each stream of a sync is COPY'd (CSV rendered by pyarrow, so no per-row Python) into its own
unlogged staging table `_airbyte_tmp_<sync>_<table>`. Publishing runs in ONE transaction for the
whole sync: create or widen the final table, replace it (full refresh) or upsert into it by primary
key (incremental; plain append without a key), write the connector state into
`<schema>._airbyte_state`, drop the staging table. The commit is the durability point of the data
and of its state together; a failed or killed sync leaves only a staging table, dropped by the
next sync of that stream. A session-level advisory lock per table serializes concurrent syncs of a
stream and is released by the server if the syncing process dies.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql
from psycopg.types.json import Jsonb

from airbyte_platform.ingestion.embedded.defaults import LOCK_TIMEOUT_SECONDS
from airbyte_platform.ingestion.embedded.destination import (
    PublishedStream,
    StateMessage,
    StreamPlan,
)
from airbyte_platform.ingestion.embedded.schema import AIRBYTE_COLUMNS, Column

STATE_TABLE = "_airbyte_state"
STAGING_PREFIX = "_airbyte_tmp_"
SEQUENCE_COLUMN = "_airbyte_seq"  # staging only: emission order, so the last version of a key wins
_STAGING_NAME = re.compile(r"^_airbyte_tmp_[0-9a-f]{8}_(?P<table>.+)$")
_MAX_IDENTIFIER = 63
_CSV_OPTIONS = pacsv.WriteOptions(include_header=False)
COPY_ROWS = 64 * 1024  # batches are regrouped: one COPY per ~64k rows

_log = logging.getLogger(__name__)


class PostgresDestinationError(RuntimeError):
    pass


def read_state(dsn: str, schema: str, connection_name: str, stream: str) -> StateMessage | None:
    """The state committed by the last published sync of a stream (None before the first)."""
    with psycopg.connect(dsn, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT to_regclass(%s)", [sql.Identifier(schema, STATE_TABLE).as_string(connection)]
        ).fetchone()
        if not exists or exists[0] is None:
            return None
        return _committed(connection, schema, connection_name, stream)[0]


def _committed(
    connection: psycopg.Connection[Any], schema: str, connection_name: str, stream: str
) -> tuple[StateMessage | None, str | None]:
    """The committed state of a stream and when it was committed (UTC, ISO 8601)."""
    row = connection.execute(
        sql.SQL(
            "SELECT state, to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') "
            "FROM {} WHERE connection_name = %s AND stream = %s"
        ).format(sql.Identifier(schema, STATE_TABLE)),
        [connection_name, stream],
    ).fetchone()
    return (row[0], row[1]) if row else (None, None)


class PostgresDestination:
    def __init__(
        self,
        dsn: str,
        schema: str,
        *,
        log: logging.Logger | None = None,
        lock_timeout: float = LOCK_TIMEOUT_SECONDS,
    ):
        self.dsn = dsn
        self.schema = schema
        self.log = log or _log
        self.lock_timeout = lock_timeout

    def session(self, connection_name: str, plans: list[StreamPlan], sync_id: str) -> PostgresSyncSession:
        return PostgresSyncSession(
            self.dsn,
            self.schema,
            connection_name,
            plans,
            sync_id,
            log=self.log,
            lock_timeout=self.lock_timeout,
        )


@dataclass
class _StagedStream:
    plan: StreamPlan
    table: str
    staging: str
    previous_state: StateMessage | None
    committed_at: str | None
    initial_rows: int  # rows readers saw before this sync
    pending: list[pa.RecordBatch] = field(default_factory=list)
    pending_rows: int = 0

    @property
    def columns(self) -> tuple[Column, ...]:
        return (*AIRBYTE_COLUMNS, *self.plan.columns)


class PostgresSyncSession:
    """Stages and publishes one sync's streams (see module doc)."""

    def __init__(
        self,
        dsn: str,
        schema: str,
        connection_name: str,
        plans: list[StreamPlan],
        sync_id: str,
        *,
        log: logging.Logger,
        lock_timeout: float = LOCK_TIMEOUT_SECONDS,
    ):
        self.lock_timeout = lock_timeout
        self.dsn = dsn
        self.schema = schema
        self.connection_name = connection_name
        self.plans = plans
        self.sync_id = sync_id
        self.log = log
        self.connection: psycopg.Connection[Any] | None = None
        self.streams: dict[str, _StagedStream] = {}
        self.published = False

    # ----------------------------------------------------------------------------------- lifecycle

    def __enter__(self) -> PostgresSyncSession:
        try:
            self.connection = psycopg.connect(
                self.dsn, autocommit=True, application_name="airbyte_platform sync"
            )
        except psycopg.Error as exc:
            raise PostgresDestinationError(f"cannot connect to the destination PostgreSQL: {exc}") from exc
        try:
            self._create_schema()
            for plan in self.plans:
                self.streams[plan.name] = self._stage(plan)
        except BaseException:
            self.connection.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self.connection is not None
        try:
            if not self.published and not self.connection.closed:
                for staged in self.streams.values():
                    self._execute(sql.SQL("DROP TABLE IF EXISTS {}").format(self._id(staged.staging)))
        except psycopg.Error as exc:  # the next sync of the stream drops it
            self.log.warning(f"could not drop the staging tables of failed sync {self.sync_id}: {exc}")
        finally:
            self.connection.close()  # also releases the advisory locks

    def _execute(
        self, query: sql.Composable | str, params: Sequence[Any] | None = None
    ) -> list[tuple[Any, ...]]:
        assert self.connection is not None
        cursor = self.connection.execute(query, params)
        return cursor.fetchall() if cursor.description else []

    def _id(self, table: str) -> sql.Identifier:
        return sql.Identifier(self.schema, table)

    def _create_schema(self) -> None:
        assert self.connection is not None
        with self.connection.transaction():
            # Concurrent `CREATE ... IF NOT EXISTS` of one object can still collide: serialize them.
            self._execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"airbyte_ddl:{self.schema}"]
            )
            self._execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema)))
            self._execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (connection_name text NOT NULL, stream text NOT NULL, "
                    "state jsonb, sync_id text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(), "
                    "PRIMARY KEY (connection_name, stream))"
                ).format(self._id(STATE_TABLE))
            )

    def _stage(self, plan: StreamPlan) -> _StagedStream:
        table = plan.spec.table_name
        self._lock_stream(plan, f"airbyte_sync:{self.schema}.{table}")
        self._drop_leftover_staging(table)
        staging = f"{STAGING_PREFIX}{self.sync_id[-8:]}_{table}"[:_MAX_IDENTIFIER]
        columns = (*AIRBYTE_COLUMNS, *plan.columns)
        definition = sql.SQL(", ").join(
            [sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.postgres_type)) for c in columns]
            + [sql.SQL("{} bigint GENERATED ALWAYS AS IDENTITY").format(sql.Identifier(SEQUENCE_COLUMN))]
        )
        # Unlogged: staging needs no WAL; the publish copies it into the logged table inside the commit.
        self._execute(sql.SQL("CREATE UNLOGGED TABLE {} ({})").format(self._id(staging), definition))
        assert self.connection is not None
        previous, committed_at = _committed(self.connection, self.schema, self.connection_name, plan.name)
        return _StagedStream(
            plan=plan,
            table=table,
            staging=staging,
            previous_state=previous,
            committed_at=committed_at,
            initial_rows=self._row_count(table),
        )

    def _lock_stream(self, plan: StreamPlan, key: str) -> None:
        """The stream's sync lock: taken at once, or after saying that we wait, for at most lock_timeout."""
        if self._execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [key])[0][0]:
            return
        self.log.warning(
            f"stream {plan.name}: another sync of it is running (it holds the advisory lock {key!r} "
            f"in {self.schema}); waiting up to {self.lock_timeout:g} s for it to finish"
        )
        self._execute(
            "SELECT set_config('lock_timeout', %s, false)", [f"{max(1, int(self.lock_timeout * 1000))}ms"]
        )
        try:
            self._execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [key])
        except psycopg.errors.LockNotAvailable as exc:
            raise PostgresDestinationError(
                f"stream {plan.name}: gave up after {self.lock_timeout:g} s waiting for another sync of it to "
                f"finish (it holds the advisory lock {key!r}; pg_locks shows its session); the embedded "
                "resource's lock_timeout_seconds sets the wait"
            ) from exc
        finally:
            self._execute("SELECT set_config('lock_timeout', '0', false)")

    def _drop_leftover_staging(self, table: str) -> None:
        """Drop staging tables of this table left by killed syncs (safe: we hold the table's sync lock)."""
        names = self._execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s AND starts_with(tablename, %s)",
            [self.schema, STAGING_PREFIX],
        )
        for (name,) in names:
            match = _STAGING_NAME.match(name)
            if match and match["table"] == table[: _MAX_IDENTIFIER - len(STAGING_PREFIX) - 9]:
                self.log.info(f"dropping {self.schema}.{name}, left by an unfinished sync")
                self._execute(sql.SQL("DROP TABLE IF EXISTS {}").format(self._id(name)))

    # ------------------------------------------------------------------------------------- writing

    def previous_state(self, stream: str) -> StateMessage | None:
        return self.streams[stream].previous_state

    def committed_at(self, stream: str) -> str | None:
        return self.streams[stream].committed_at

    def write(self, stream: str, batch: pa.RecordBatch) -> None:
        staged = self.streams[stream]
        staged.pending.append(batch)
        staged.pending_rows += batch.num_rows
        if staged.pending_rows >= COPY_ROWS:
            self._copy(staged)

    def _copy(self, staged: _StagedStream) -> None:
        assert self.connection is not None
        if not staged.pending:
            return
        rendered = io.BytesIO()
        pacsv.write_csv(pa.Table.from_batches(staged.pending), rendered, _CSV_OPTIONS)
        staged.pending, staged.pending_rows = [], 0
        copy = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
            self._id(staged.staging), sql.SQL(", ").join(sql.Identifier(c.name) for c in staged.columns)
        )
        with self.connection.cursor() as cursor, cursor.copy(copy) as pipe:
            pipe.write(rendered.getbuffer())

    # ---------------------------------------------------------------------------------- publishing

    def checkpoint(self, states: Mapping[str, StateMessage]) -> None:
        """Upsert/append what incremental streams staged so far, with their states, in one transaction."""
        assert self.connection is not None
        for name in states:
            self._copy(self.streams[name])
        with self.connection.transaction():
            for name, state in states.items():
                self._publish_stream(self.streams[name], state, last=False)

    def publish(self, states: Mapping[str, StateMessage | None]) -> dict[str, PublishedStream]:
        assert self.connection is not None
        published: dict[str, PublishedStream] = {}
        for staged in self.streams.values():
            self._copy(staged)
        with self.connection.transaction():
            for name, staged in self.streams.items():
                self._publish_stream(staged, states.get(name))
                published[name] = PublishedStream(
                    total_rows=self._row_count(staged.table),
                    columns=self._table_columns(staged.table),
                    location=staged.plan.location,
                    previous_rows=staged.initial_rows,
                )
        self.published = True
        return published

    def _row_count(self, table: str) -> int:
        exists = self._execute("SELECT to_regclass(%s)", [self._id(table).as_string(self.connection)])
        if not exists or exists[0][0] is None:
            return 0
        return int(self._execute(sql.SQL("SELECT count(*) FROM {}").format(self._id(table)))[0][0])

    def _publish_stream(
        self, staged: _StagedStream, state: StateMessage | None, *, last: bool = True
    ) -> None:
        """Move the staged rows into the final table with the state; `last`: drop the staging table
        (else empty it: a checkpoint, staging goes on)."""
        final = self._id(staged.table)
        self._ensure_final_table(staged)
        columns = sql.SQL(", ").join(sql.Identifier(c.name) for c in staged.columns)
        seq = sql.Identifier(SEQUENCE_COLUMN)
        staging = self._id(staged.staging)
        if staged.plan.deduplicates:
            self._upsert(staged, columns)
            # Rows without a usable key cannot be matched: appended as they came (see keys.py).
            self._execute(
                sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} WHERE {} ORDER BY {}").format(
                    final, columns, columns, staging, _key_is_null(staged.plan.configured.primary_key), seq
                )
            )
        else:
            if staged.plan.replaces:
                self._execute(sql.SQL("TRUNCATE {}").format(final))
            self._execute(
                sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ORDER BY {}").format(
                    final, columns, columns, staging, seq
                )
            )
        if state is not None:
            self._execute(
                sql.SQL(
                    "INSERT INTO {} (connection_name, stream, state, sync_id) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (connection_name, stream) DO UPDATE "
                    "SET state = EXCLUDED.state, sync_id = EXCLUDED.sync_id, updated_at = now()"
                ).format(self._id(STATE_TABLE)),
                [self.connection_name, staged.plan.name, Jsonb(state), self.sync_id],
            )
        self._execute(sql.SQL("DROP TABLE {}" if last else "TRUNCATE {}").format(staging))

    def _upsert(self, staged: _StagedStream, columns: sql.Composable) -> None:
        """One row per key, the latest by cursor (then by emission order), as Airbyte's dedup does:
        within the sync (DISTINCT ON) and against the rows of earlier syncs (a row with a newer
        cursor is not replaced by an older version)."""
        keys = staged.plan.configured.primary_key
        key_list = sql.SQL(", ").join(sql.Identifier(k) for k in keys)
        updates = sql.SQL(", ").join(
            sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c.name))
            for c in staged.columns
            if c.name not in keys
        )
        cursor = staged.plan.configured.cursor_field
        order = [sql.SQL("{} DESC NULLS LAST").format(sql.Identifier(cursor))] if cursor else []
        newer = (
            sql.SQL(" WHERE {final}.{c} IS NULL OR EXCLUDED.{c} >= {final}.{c}").format(
                final=sql.Identifier(staged.table), c=sql.Identifier(cursor)
            )
            if cursor
            else sql.SQL("")
        )
        self._execute(
            sql.SQL(
                "INSERT INTO {final} AS {alias} ({columns}) SELECT {columns} FROM "
                "(SELECT DISTINCT ON ({keys}) * FROM {staging} WHERE NOT ({null_key}) "
                "ORDER BY {keys}, {order}) AS latest "
                "ON CONFLICT ({keys}) DO UPDATE SET {updates}{newer}"
            ).format(
                final=self._id(staged.table),
                alias=sql.Identifier(staged.table),
                columns=columns,
                keys=key_list,
                staging=self._id(staged.staging),
                null_key=_key_is_null(keys),
                order=sql.SQL(", ").join(
                    [*order, sql.SQL("{} DESC").format(sql.Identifier(SEQUENCE_COLUMN))]
                ),
                updates=updates,
                newer=newer,
            )
        )

    def _ensure_final_table(self, staged: _StagedStream) -> None:
        final = self._id(staged.table)
        definition = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.postgres_type)) for c in staged.columns
        )
        self._execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(final, definition))
        for column in staged.columns:  # columns the source added since the table was created
            self._execute(
                sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}").format(
                    final, sql.Identifier(column.name), sql.SQL(column.postgres_type)
                )
            )
        keys = staged.plan.configured.primary_key
        if staged.plan.deduplicates:
            index = f"{staged.table}_airbyte_pk"[:_MAX_IDENTIFIER]
            self._execute(
                sql.SQL("CREATE UNIQUE INDEX IF NOT EXISTS {} ON {} ({})").format(
                    sql.Identifier(index), final, sql.SQL(", ").join(sql.Identifier(k) for k in keys)
                )
            )

    def _table_columns(self, table: str) -> tuple[tuple[str, str], ...]:
        rows = self._execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            [sql.Identifier(self.schema, table).as_string(self.connection)],
        )
        return tuple((str(name), str(type_)) for name, type_ in rows)


def _key_is_null(keys: Sequence[str]) -> sql.Composable:
    return sql.SQL(" OR ").join(sql.SQL("{} IS NULL").format(sql.Identifier(k)) for k in keys)


@dataclass(frozen=True)
class ClearedTable:
    location: str  # schema.table
    rows_before: int
    had_state: bool


def clear_postgres_streams(
    dsn: str,
    schema: str,
    connection_name: str,
    tables: Mapping[str, str],
    *,
    log: logging.Logger | None = None,
    lock_timeout: float = LOCK_TIMEOUT_SECONDS,
) -> dict[str, ClearedTable]:
    """Empty the tables of a connection's streams and delete their saved state, in ONE transaction.

    `tables`: stream name -> table name in `schema`. Each table's sync lock (the advisory lock a sync
    holds) is taken first, so a clear never interleaves with a sync of the same stream; then every
    table is truncated (its columns stay: readers see an empty table) and the connection's state rows
    for these streams are deleted, all committed together or not at all. Rows of other connections
    in the state table and tables of other streams are never touched.
    """
    log = log or _log
    try:
        connection = psycopg.connect(dsn, autocommit=True, application_name="airbyte_platform clear")
    except psycopg.Error as exc:
        raise PostgresDestinationError(f"cannot connect to the destination PostgreSQL: {exc}") from exc
    with connection:
        for stream, table in sorted(tables.items()):
            _take_sync_lock(connection, f"airbyte_sync:{schema}.{table}", stream, schema, log, lock_timeout)
        cleared: dict[str, ClearedTable] = {}
        with connection.transaction():
            state_exists = _exists(connection, schema, STATE_TABLE)
            for stream, table in tables.items():
                rows = 0
                if _exists(connection, schema, table):
                    identifier = sql.Identifier(schema, table)
                    row = connection.execute(sql.SQL("SELECT count(*) FROM {}").format(identifier)).fetchone()
                    rows = int(row[0]) if row else 0
                    connection.execute(sql.SQL("TRUNCATE {}").format(identifier))
                had_state = False
                if state_exists:
                    deleted = connection.execute(
                        sql.SQL("DELETE FROM {} WHERE connection_name = %s AND stream = %s").format(
                            sql.Identifier(schema, STATE_TABLE)
                        ),
                        [connection_name, stream],
                    )
                    had_state = deleted.rowcount > 0
                cleared[stream] = ClearedTable(
                    location=f"{schema}.{table}", rows_before=rows, had_state=had_state
                )
    return cleared  # closing the connection released the sync locks


def _exists(connection: psycopg.Connection[Any], schema: str, table: str) -> bool:
    row = connection.execute(
        "SELECT to_regclass(%s)", [sql.Identifier(schema, table).as_string(connection)]
    ).fetchone()
    return bool(row and row[0] is not None)


def _take_sync_lock(
    connection: psycopg.Connection[Any],
    key: str,
    stream: str,
    schema: str,
    log: logging.Logger,
    lock_timeout: float,
) -> None:
    if connection.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [key]).fetchone()[0]:  # type: ignore[index]
        return
    log.warning(
        f"stream {stream}: a sync of it is running (it holds the advisory lock {key!r} in {schema}); "
        f"waiting up to {lock_timeout:g} s for it to finish before clearing"
    )
    connection.execute(
        "SELECT set_config('lock_timeout', %s, false)", [f"{max(1, int(lock_timeout * 1000))}ms"]
    )
    try:
        connection.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [key])
    except psycopg.errors.LockNotAvailable as exc:
        raise PostgresDestinationError(
            f"stream {stream}: gave up after {lock_timeout:g} s waiting for a sync of it to finish "
            f"(it holds the advisory lock {key!r}); nothing was cleared"
        ) from exc
    finally:
        connection.execute("SELECT set_config('lock_timeout', '0', false)")
