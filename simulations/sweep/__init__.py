"""Grids of amlab runs on a local process pool or a Dask cluster, gathered into one Parquet table.

``load_spec(path)`` reads and checks a TOML/YAML spec; ``run_sweep(spec, out, Engine(...))`` runs
the points not yet in ``out/results.parquet``. See docs/sweep.md.
"""
from simulations.sweep.engine import TABLE, TIMING_COLUMNS, Engine, available_cpus, run_point, run_sweep
from simulations.sweep.extract import EXTRACTORS
from simulations.sweep.spec import Point, SweepSpec, build_spec, load_spec, point_id, read_spec_file
from simulations.sweep.table import append_rows, read_table

__all__ = ["EXTRACTORS", "TABLE", "TIMING_COLUMNS", "Engine", "Point", "SweepSpec", "append_rows",
           "available_cpus", "build_spec", "load_spec", "point_id", "read_spec_file", "read_table",
           "run_point", "run_sweep"]
