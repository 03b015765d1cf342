"""Write sample_data/incoming/: one customers entity delivered by two sources.

`crm_2024.csv` (CRM: English names, ISO codes, letter codes, cm, ISO dates) and
`legacy_export.parquet` (old ERP: German names, country names, numeric codes, mm, dd/mm/yyyy).
Each has a few planted problems, listed in PLANTED so tests and the README can point at them.
Deterministic: the same files on every run.  Run: python sample_data/make_incoming.py
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

HERE = Path(__file__).parent / "incoming"
ROWS = 300
FIRST = ["Anna", "Ben", "Clara", "David", "Emma", "Felix", "Greta", "Hugo", "Ida", "Jonas",
         "Lea", "Max", "Nora", "Oskar", "Paula", "Quentin", "Rosa", "Sven", "Tara", "Ugo"]  # fmt: skip
LAST = ["Müller", "Dubois", "de Vries", "García", "Rossi", "Huber", "Smith", "Brown", "Weber",
        "Martin", "Jansen", "López", "Bianchi", "Gruber", "Taylor"]  # fmt: skip
COUNTRIES = {"DE": "Deutschland", "FR": "Frankreich", "NL": "Niederlande", "ES": "Spanien",
             "IT": "Italien", "AT": "Österreich"}  # fmt: skip

# (file, raw column, row index, what is wrong)
PLANTED = [
    ("crm_2024.csv", "gender", 17, "unmapped code 'X'"),
    ("crm_2024.csv", "gender", 141, "unmapped code 'X'"),
    ("crm_2024.csv", "email", 42, "not an email address"),
    ("crm_2024.csv", "signup", 99, "impossible date 2024-02-30"),
    ("crm_2024.csv", "country_code", 203, "unknown country 'XX'"),
    ("crm_2024.csv", "id", 250, "duplicate of the id in row 10"),
    ("legacy_export.parquet", "land", 5, "'Schweiz' has no mapping"),
    ("legacy_export.parquet", "land", 77, "'Schweiz' has no mapping"),
    ("legacy_export.parquet", "land", 160, "'Deutschland ' with a trailing space"),
    ("legacy_export.parquet", "anmeldung", 33, "ISO date in a dd/mm/yyyy source"),
    ("legacy_export.parquet", "groesse_mm", 120, "25000 mm is 25 m"),
    ("legacy_export.parquet", "kundennr", 200, "null key"),
]


def people(rng: random.Random, first_id: int) -> list[dict[str, object]]:
    rows = []
    for i in range(ROWS):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        rows.append(
            {
                "id": first_id + i,
                "name": f"{first} {last}",
                "email": f"{first.lower()}.{i}@example.com",
                "country": rng.choice(list(COUNTRIES)),
                "gender": rng.choice(["male", "female", "diverse", None]),
                "segment": rng.choice(["retail", "retail", "business", "vip"]),
                "height_cm": round(rng.gauss(172, 9), 1),
                "signup": dt.date(2015, 1, 1) + dt.timedelta(days=rng.randrange(3400)),
            }
        )
    return rows


def crm(rng: random.Random) -> None:
    code = {"male": "M", "female": "F", "diverse": "D", None: None}
    seg = {"retail": "R", "business": "B", "vip": "V"}
    rows = people(rng, 1)
    table = {
        "id": [str(r["id"]) for r in rows],
        "full_name": [r["name"] for r in rows],
        "email": [r["email"] for r in rows],
        "country_code": [r["country"] for r in rows],
        "gender": [code[r["gender"]] for r in rows],  # type: ignore[index]
        "segment": [seg[r["segment"]] for r in rows],  # type: ignore[index]
        "height_cm": [f"{r['height_cm']:.1f}" for r in rows],
        "signup": [r["signup"].isoformat() for r in rows],  # type: ignore[attr-defined]
        "crm_note": [rng.choice(["", "called back", "newsletter"]) for _ in rows],
    }
    table["gender"][17] = table["gender"][141] = "X"
    table["email"][42] = "clara.at.example.com"
    table["signup"][99] = "2024-02-30"
    table["country_code"][203] = "XX"
    table["id"][250] = table["id"][10]
    pacsv.write_csv(pa.table(table), HERE / "crm_2024.csv")


def legacy(rng: random.Random) -> None:
    code = {"male": "m", "female": "w", "diverse": "d", None: None}
    seg = {"retail": 1, "business": 2, "vip": 3}
    rows = people(rng, 5001)
    table = {
        "kundennr": [r["id"] for r in rows],
        "name": [r["name"] for r in rows],
        "mail": [r["email"] for r in rows],
        "land": [COUNTRIES[r["country"]] for r in rows],  # type: ignore[index]
        "geschlecht": [code[r["gender"]] for r in rows],  # type: ignore[index]
        "kundengruppe": [seg[r["segment"]] for r in rows],  # type: ignore[index]
        "groesse_mm": [round(r["height_cm"] * 10) for r in rows],  # type: ignore[operator]
        "anmeldung": [r["signup"].strftime("%d/%m/%Y") for r in rows],  # type: ignore[attr-defined]
        "altes_feld": ["x"] * ROWS,
    }
    table["land"][5] = table["land"][77] = "Schweiz"
    table["land"][160] = "Deutschland "
    table["anmeldung"][33] = "2019-03-14"
    table["groesse_mm"][120] = 25000
    table["kundennr"][200] = None
    pq.write_table(pa.table(table), HERE / "legacy_export.parquet")


def main() -> None:
    HERE.mkdir(parents=True, exist_ok=True)
    rng = random.Random(20240517)
    crm(rng)
    legacy(rng)


if __name__ == "__main__":
    main()
