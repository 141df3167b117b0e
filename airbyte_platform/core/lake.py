"""Reading the lake: the manifest format, the files a table is made of, and one row per key.

Every consumer of the lake (row counts, Great Expectations checks, the Stripe transform's local path,
the writer in ingestion/embedded/lake.py) reads through here, in either mode. A stream folder holds
Parquet files and `_manifest.json`, which lists the files that make up the table; a folder without a
manifest (written by Airbyte's own S3 destination, as in prod) is read as every Parquet file in it.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

MANIFEST = "_manifest.json"
MANIFEST_FORMAT = 1
EXTRACTED_AT = "_airbyte_extracted_at"


class LakeError(RuntimeError):
    pass


def lake_filesystem(location: str) -> tuple[pafs.FileSystem, str]:
    """The pyarrow filesystem and in-filesystem path of a lake location (a folder path or a URI)."""
    if "://" in location:
        return pafs.FileSystem.from_uri(location)
    return pafs.LocalFileSystem(), str(Path(location).resolve())


def read_manifest(location: str) -> dict[str, Any] | None:
    filesystem, path = lake_filesystem(location)
    return read_manifest_at(filesystem, path)


def lake_files(location: str) -> list[str]:
    """The data files of the table at `location`, as paths or URIs that Spark, DuckDB or pyarrow can open.

    The manifest's files when there is one; otherwise (a folder written by Airbyte's own S3
    destination, as in prod) every Parquet file under the folder, skipping `_`/`.`-prefixed entries
    as Spark and Hive do.
    """
    filesystem, path = lake_filesystem(location)
    manifest = read_manifest_at(filesystem, path)
    relative = manifest["files"] if manifest is not None else parquet_files_under(filesystem, path)
    return [_public_path(location, path, name) for name in relative]


def read_lake_table(location: str, *, deduplicate: bool = True) -> pa.Table:
    """The table at `location` as Arrow (files with added columns are unified; missing ones are null).

    The lake keeps every version of a record, as Airbyte's S3 destination does. For a deduplicated
    stream (incremental with a primary key, recorded in the manifest) readers get one row per key,
    the latest (see `latest_per_key`); `deduplicate=False` gives every stored version.
    """
    filesystem, path = lake_filesystem(location)
    manifest = read_manifest_at(filesystem, path)
    relative = manifest["files"] if manifest is not None else parquet_files_under(filesystem, path)
    if not relative:
        schema = manifest_schema(manifest) if manifest is not None else None
        if schema is None:
            raise LakeError(f"{location}: no sync has published this table yet")
        return schema.empty_table()
    table = read_in_order(filesystem, [f"{path}/{name}" for name in relative])
    key = manifest.get("primary_key") if manifest is not None else None
    if deduplicate and key:
        return latest_per_key(table, tuple(key), manifest.get("cursor_field"))
    return table


def read_in_order(
    filesystem: pafs.FileSystem, paths: list[str], columns: list[str] | None = None
) -> pa.Table:
    """The files' rows in manifest order (file by file, rows as written): the order ties are broken by."""
    schema = pa.unify_schemas([pq.read_schema(p, filesystem=filesystem) for p in paths])
    if columns is not None:
        schema = pa.schema([schema.field(name) for name in columns])
    dataset = ds.dataset(paths, schema=schema, filesystem=filesystem, format="parquet")
    tables = [fragment.to_table(schema=schema, columns=columns) for fragment in dataset.get_fragments()]
    return pa.concat_tables(tables)


def latest_per_key(table: pa.Table, primary_key: tuple[str, ...], cursor_field: str | None) -> pa.Table:
    """One row per primary key: the latest by cursor (a null cursor is the oldest), then by
    `_airbyte_extracted_at`, then the one written last, as Airbyte's dedup orders versions. Rows
    whose key has a null field cannot be matched and are all kept (flagged in `_airbyte_meta`)."""
    return table.take(latest_row_indices(table, primary_key, cursor_field))


def latest_row_indices(table: pa.Table, primary_key: tuple[str, ...], cursor_field: str | None) -> pa.Array:
    """Indices (in table order) of the rows `latest_per_key` keeps; needs only the key, cursor and
    `_airbyte_extracted_at` columns."""
    count = table.num_rows
    position = pa.array(np.arange(count, dtype=np.int64))
    keyed = pa.table(
        {
            **{f"k{i}": table.column(name) for i, name in enumerate(primary_key)},
            **({"cursor": table.column(cursor_field)} if cursor_field else {}),
            **({"extracted": table.column(EXTRACTED_AT)} if EXTRACTED_AT in table.column_names else {}),
            "position": position,
        }
    )
    no_key = pc.is_null(keyed.column("k0"))
    for i in range(1, len(primary_key)):
        no_key = pc.or_(no_key, pc.is_null(keyed.column(f"k{i}")))
    order = [(f"k{i}", "ascending", "at_end") for i in range(len(primary_key))]
    order += [
        (name, "descending", "at_end")  # a null cursor sorts last: the oldest version
        for name in ("cursor", "extracted", "position")
        if name in keyed.column_names
    ]
    keyed = keyed.filter(pc.invert(no_key))
    ranked = keyed.take(pc.sort_indices(keyed, sort_keys=order)).combine_chunks()
    first = np.ones(ranked.num_rows, dtype=bool)
    if ranked.num_rows > 1:
        same = np.ones(ranked.num_rows - 1, dtype=bool)
        for i in range(len(primary_key)):
            column = ranked.column(f"k{i}")
            equal = pc.equal(column.slice(1), column.slice(0, ranked.num_rows - 1))
            same &= equal.to_numpy()
        first[1:] = ~same
    kept = ranked.column("position").to_numpy()[first]
    unmatched = np.flatnonzero(np.asarray(no_key))
    return pa.array(np.sort(np.concatenate([kept, unmatched])))


def _public_path(location: str, path: str, name: str) -> str:
    if "://" in location:
        scheme = location.split("://", 1)[0]
        return f"{scheme}://{path}/{name}"
    return f"{path}/{name}"


def read_manifest_at(filesystem: pafs.FileSystem, path: str) -> dict[str, Any] | None:
    try:
        with filesystem.open_input_stream(f"{path}/{MANIFEST}") as stream:
            return orjson.loads(stream.read())
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise LakeError(f"{path}/{MANIFEST} is not valid JSON ({exc}); restore it or delete it") from exc


def parquet_files_under(filesystem: pafs.FileSystem, path: str) -> list[str]:
    try:
        infos = filesystem.get_file_info(pafs.FileSelector(path, recursive=True))
    except FileNotFoundError:
        return []
    names = []
    for info in infos:
        relative = info.path[len(path) :].lstrip("/")
        hidden = any(part.startswith(("_", ".")) for part in relative.split("/"))
        if info.type == pafs.FileType.File and relative.endswith(".parquet") and not hidden:
            names.append(relative)
    return sorted(names)


def manifest_schema(manifest: Mapping[str, Any]) -> pa.Schema | None:
    encoded = manifest.get("arrow_schema")
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(encoded))) if encoded else None


def encode_schema(schema: pa.Schema) -> str:
    return base64.b64encode(schema.serialize().to_pybytes()).decode()
