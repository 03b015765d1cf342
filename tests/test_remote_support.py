"""Shared helpers for the remote tests (no tests here): a real S3 API (moto in server mode on a
free loopback port, reached through s3fs exactly as a user's bucket is), folder remotes, and small
repositories with two datasets."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datakeep.api import Repo
from datakeep.ids import ObjectId
from datakeep.repo import Repository

BUCKET = "datakeep-tests"


def table(rows: int, start: int = 0, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed + start)
    ids = np.arange(start, start + rows, dtype=np.int64)
    return pa.table(
        {
            "id": ids,
            "name": pa.array([f"user-{i}" for i in ids]),
            "amount": rng.normal(100, 15, rows),
            "region": pa.array(np.array(["north", "south", "east"])[rng.integers(0, 3, rows)]),
        }
    )


class Project:
    """A working repository in ``root`` with datasets ``flights`` (big) and ``weather`` (small);
    ``encoding`` picks the canonical encoding of its ids (default: what new repositories use)."""

    def __init__(self, root: Path, encoding: int | None = None) -> None:
        self.root = root
        self.repo = Repo(Repository.initialize(root, encoding=encoding))
        self.flights = table(8_000)
        pq.write_table(self.flights, root / "flights.parquet")
        pq.write_table(table(500, seed=7), root / "weather.parquet")
        self.repo.add(root / "flights.parquet", name="flights")
        self.repo.add(root / "weather.parquet", name="weather")
        self.repo.commit(message="first")

    @classmethod
    def open(cls, root: Path, flights: pa.Table) -> Project:
        """A Project over an existing working repository (a copy, or a clone)."""
        proj = cls.__new__(cls)
        proj.root, proj.repo, proj.flights = root, Repo.open(root), flights
        return proj

    @property
    def storage(self) -> Repository:
        return self.repo.repository

    def append(self, rows: int = 200, message: str = "append") -> ObjectId:
        start = self.flights.num_rows
        self.flights = pa.concat_tables([self.flights, table(rows, start=start)])
        pq.write_table(self.flights, self.root / "flights.parquet")
        return self.repo.commit(message=message).id


class Recorder:
    """A progress callback that remembers every object moved."""

    def __init__(self) -> None:
        self.objects: list[str] = []
        self.total: int | None = None

    def begin(self, total: int) -> None:
        self.total = total

    def __call__(self, oid: str, size: int) -> None:
        self.objects.append(oid)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 at a free port, configured the way a user configures an
    endpoint: ``AWS_ENDPOINT_URL`` and credentials in the environment (nothing in datakeep's files)."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ENDPOINT_URL", endpoint)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.setenv("AWS_EC2_METADATA_DISABLED", "true")
        env.delenv("AWS_PROFILE", raising=False)
        import fsspec

        fs = fsspec.filesystem("s3", skip_instance_cache=True)
        # moto keeps its buckets per process: a second test module's server finds it made.
        with warnings.catch_warnings(), contextlib.suppress(FileExistsError):
            warnings.simplefilter("ignore", DeprecationWarning)
            fs.mkdir(BUCKET)
        yield endpoint
    server.stop()


def fresh_remote(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if kind == "folder":
        return str(tmp_path / "remote")
    request.getfixturevalue("s3_endpoint")
    return f"s3://{BUCKET}/{uuid.uuid4().hex[:12]}/datakeep"


@pytest.fixture(params=["folder", "s3"])
def remote_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty remote: a folder, or a prefix in the moto S3 bucket."""
    return fresh_remote(request.param, tmp_path, request)


@pytest.fixture
def folder_url(tmp_path: Path) -> str:
    """A fresh, empty folder remote (for behaviour that does not depend on the backend)."""
    return str(tmp_path / "remote")


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """One committed project, built once; each test works on its own copy."""
    root = tmp_path_factory.mktemp("template") / "project"
    root.mkdir()
    return Project(root)


def _copy_project(template: Project, tmp_path: Path, url: str) -> Iterator[Project]:
    root = tmp_path / "project"
    shutil.copytree(template.root, root, symlinks=True)
    old = Path.cwd()
    os.chdir(root)
    try:
        proj = Project.open(root, template.flights)
        from datakeep.remote import add_remote

        add_remote(proj.storage, "origin", url)
        yield proj
    finally:
        os.chdir(old)


@pytest.fixture
def project(template: Project, tmp_path: Path, remote_url: str) -> Iterator[Project]:
    """A committed project (a copy of the template) with ``origin`` set to a fresh remote of each
    kind; the cwd is the project."""
    yield from _copy_project(template, tmp_path, remote_url)


@pytest.fixture
def folder_project(template: Project, tmp_path: Path, folder_url: str) -> Iterator[Project]:
    """The same, with a folder remote only."""
    yield from _copy_project(template, tmp_path, folder_url)
