"""The sweep's results table: one Parquet file, appended by read + concat + atomic replace.

Only the sweep's driver process writes it (workers return rows), so there is one writer; the
atomic rename means a reader, or a run killed midway, sees the table before or after a point's
rows, never half of them. pandas.read_parquet and DuckDB's read_parquet read it as one table.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd


def read_table(path: str | os.PathLike) -> pd.DataFrame | None:
    """The table as a DataFrame, or None when there is none yet."""
    path = Path(path)
    if not path.exists():
        return None
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pandas()


def append_rows(path: str | os.PathLike, rows: list[dict], replace_points: set[str] = frozenset()) -> Path:
    """Append ``rows`` to the table, first dropping the rows of ``replace_points`` (a retried point).

    Columns missing from some rows are null there; the file is replaced atomically, mode 0644."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    new = pd.DataFrame(rows)
    old = read_table(path)
    if old is not None:
        if replace_points:
            old = old[~old["point_id"].isin(replace_points)]
        frames = [frame for frame in (old, new) if len(frame)]
        table = pd.concat(frames, ignore_index=True, sort=False) if frames else new
    else:
        table = new
    table = _tidy(table)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        pq.write_table(pa.Table.from_pandas(table, preserve_index=False), tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _tidy(table: pd.DataFrame) -> pd.DataFrame:
    """Give object columns that mix numbers and nulls a numeric type, so Parquet stores numbers."""
    table = table.reset_index(drop=True)
    for column in table.columns:
        values = table[column]
        if values.dtype != object:
            continue
        present = values.dropna()
        if len(present) and all(isinstance(v, bool) for v in present):
            table[column] = values.astype("boolean")
        elif len(present) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
            table[column] = pd.to_numeric(values)
        elif len(present) and not all(isinstance(v, str) for v in present):
            table[column] = values.map(lambda v: v if v is None or isinstance(v, str) else str(v))
    return table
