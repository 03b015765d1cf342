"""A large folder's file list, kept in pages that versions share.

A manifest lists every file of a dataset with its chunks, schema and statistics: about 2.6 KB of
JSON (720 B compressed) a file. Written whole by every commit, a one-file edit of a folder of
20,000 part files stored 14 MB, and six small commits as much as the data. So a folder of more
than `PAGED_FROM` files keeps its list in page objects, cut at places the files' paths choose
(after a file whose path hash is 0 modulo `MEAN_PAGE_FILES`): an edited, added or removed file
changes the one page around it, and every other page is the object the parent's manifest names,
as git rewrites only the trees along a changed path. The manifest names its pages in order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import xxhash

from datakeep.errors import CorruptObjectError, NewerFormatError
from datakeep.records.manifest import FileEntry, Manifest, PageRef

PAGE_FORMAT = "datakeep.files"
PAGE_VERSION = 1

#: Folders of up to this many files keep the list in the manifest, as before pages existed:
#: their manifests stay byte for byte what older datakeep writes and reads.
PAGED_FROM = 512
#: A page ends after a file whose path hashes to 0 modulo this: 64 files a page on average
#: (about 46 KB compressed), which a one-file edit rewrites beside a manifest of ~100 B a page.
MEAN_PAGE_FILES = 64
#: And after this many files whatever the paths, so no page grows without bound: 512 files in a
#: row without a cut happen about once in 3,000 pages, and such a page is ~115 KB to rewrite.
MAX_PAGE_FILES = 512


def manifest_pages(document: dict[str, Any], manifest: str) -> list[PageRef]:
    """The pages a manifest document names, in order."""
    listed = document.get("pages")
    if not isinstance(listed, list):
        raise CorruptObjectError(manifest, "its list of pages is not a list")
    return [PageRef.from_dict(page, manifest) for page in listed]


def read_manifest(document: dict[str, Any], oid: str, read_page: Callable[[PageRef], dict[str, Any]]) -> Manifest:
    """The manifest ``document`` (stored as ``oid``), its file list read from its pages when it
    keeps one in pages, each page's document given by ``read_page`` (from the store, or as a
    pull received it)."""
    if "pages" not in document:
        return Manifest.from_dict(document, oid)
    refs = tuple(manifest_pages(document, oid))
    files = [entry for page in refs for entry in page_entries(read_page(page), page)]
    return Manifest.from_dict(document, oid, files=files, pages=refs)


def paged(files: Sequence[FileEntry]) -> bool:
    """Whether a manifest of these files keeps them in pages."""
    return len(files) > PAGED_FROM


def split(files: Sequence[FileEntry]) -> list[Sequence[FileEntry]]:
    """The pages ``files`` (in the manifest's order) fall into."""
    pages: list[Sequence[FileEntry]] = []
    start = 0
    for position, entry in enumerate(files):
        cut = xxhash.xxh3_64_intdigest(entry.path.encode("utf-8")) % MEAN_PAGE_FILES == 0
        if cut or position + 1 - start >= MAX_PAGE_FILES:
            pages.append(files[start : position + 1])
            start = position + 1
    if start < len(files):
        pages.append(files[start:])
    return pages


def held_pages(manifest: Manifest) -> dict[tuple[str, int], tuple[PageRef, tuple[FileEntry, ...]]]:
    """A stored manifest's pages, each with its files, by its first file's path and its length."""
    held = {}
    start = 0
    for page in manifest.pages:
        files = manifest.files[start : start + page.files]
        if files:
            held[(files[0].path, page.files)] = (page, files)
        start += page.files
    return held


def page_document(entries: Sequence[FileEntry]) -> dict[str, Any]:
    return {"format": PAGE_FORMAT, "version": PAGE_VERSION, "files": [entry.to_dict() for entry in entries]}


def page_entries(document: dict[str, Any], page: PageRef) -> list[FileEntry]:
    """The files a page document lists, checked against what its manifest says it holds."""
    if document.get("format") != PAGE_FORMAT:
        raise CorruptObjectError(page.object, f"not a page of a file list (format {document.get('format')!r})")
    if int(document.get("version", 0)) > PAGE_VERSION:
        raise NewerFormatError(page.object, "file-list page", document["version"])
    try:
        entries = [FileEntry.from_dict(entry) for entry in document["files"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptObjectError(page.object, f"a file entry of this page is unreadable ({exc})") from None
    if len(entries) != page.files or sum(entry.rows for entry in entries) != page.rows:
        raise CorruptObjectError(
            page.object, f"holds {len(entries)} file(s), where its manifest counts {page.files} of {page.rows} rows"
        )
    return entries
