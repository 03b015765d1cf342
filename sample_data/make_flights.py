"""Make the versioning demo data: two monthly loads of a flights table (deterministic).

`2024-01.parquet` is the January load; `2024-02.parquet` is the same table a month later: 40 new
flights appended, 12 delays corrected, 5 cancelled flights removed, and a `gate` column added.
Run: python sample_data/make_flights.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

HERE = Path(__file__).parent / "flights"
AIRPORTS = np.array(["FRA", "MUC", "BER", "HAM", "CDG", "AMS", "LHR", "MAD", "FCO", "VIE"])
CARRIERS = np.array(["LH", "AF", "KL", "BA", "IB", "OS"])


def flights(rng: np.random.Generator, first_id: int, rows: int, month: int) -> pa.Table:
    ids = np.arange(first_id, first_id + rows)
    origin = rng.integers(0, len(AIRPORTS), rows)
    dest = (origin + rng.integers(1, len(AIRPORTS), rows)) % len(AIRPORTS)
    departure = np.datetime64(f"2024-{month:02d}-01T05:00") + rng.integers(0, 28 * 24 * 60, rows).astype(
        "timedelta64[m]"
    )
    delay = np.round(np.maximum(rng.normal(8, 20, rows), 0), 1)
    delay_array = pa.array(delay, mask=rng.random(rows) < 0.03)
    return pa.table(
        {
            "flight_id": pa.array(ids, pa.int64()),
            "carrier": pa.array(CARRIERS[rng.integers(0, len(CARRIERS), rows)]),
            "origin": pa.array(AIRPORTS[origin]),
            "dest": pa.array(AIRPORTS[dest]),
            "departure": pa.array(departure.astype("datetime64[us]"), pa.timestamp("us", tz="UTC")),
            "delay_min": delay_array,
            "passengers": pa.array(rng.integers(40, 300, rows), pa.int32()),
        }
    )


def main() -> None:
    HERE.mkdir(exist_ok=True)
    rng = np.random.default_rng(2024)
    january = flights(rng, 1000, 2000, 1)
    pq.write_table(january, HERE / "2024-01.parquet")

    corrected = rng.choice(january.num_rows, 12, replace=False)
    delay = january.column("delay_min").to_numpy(zero_copy_only=False).copy()
    delay[corrected] = np.round(delay[corrected] + 15, 1)
    february = january.set_column(5, "delay_min", pa.array(delay, mask=np.isnan(delay)))
    cancelled = np.zeros(february.num_rows, dtype=bool)
    cancelled[rng.choice(february.num_rows, 5, replace=False)] = True
    february = february.filter(pa.array(~cancelled))
    february = pa.concat_tables([february, flights(rng, 3000, 40, 2)])
    gates = pa.array(
        [
            f"{g}{n}"
            for g, n in zip(
                rng.choice(list("ABCD"), february.num_rows), rng.integers(1, 40, february.num_rows), strict=True
            )
        ]
    )
    february = february.append_column("gate", gates)
    assert pc.count_distinct(february.column("flight_id")).as_py() == february.num_rows
    pq.write_table(february, HERE / "2024-02.parquet")


if __name__ == "__main__":
    main()
