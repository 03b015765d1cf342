"""Every error datakeep raises on purpose, each with the exit code the CLI turns it into.

Exit codes are a frozen contract: 0 ok, 1 "the answer is no", 2 usage or operational error;
and 130 for a command interrupted (Ctrl-C), as shells report it: never 1, which a script would
read as an answer. A message says what is wrong; ``hint`` says what to do about it.
"""

from __future__ import annotations

from collections.abc import Sequence

EXIT_OK = 0
EXIT_NO = 1
EXIT_ERROR = 2
#: 128 + SIGINT, the code a shell gives a command Ctrl-C stopped.
EXIT_INTERRUPTED = 130


class DatakeepError(Exception):
    """Base class: a message for people, a hint for what to do, and an exit code."""

    exit_code: int = EXIT_ERROR

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if not self.hint:
            return self.message
        # After a message of several lines (a validation report), on a line of its own: at the
        # end of the report's last problem it read as part of that problem.
        return f"{self.message}\n— {self.hint}" if "\n" in self.message else f"{self.message} — {self.hint}"


class CommandInterrupted(DatakeepError):
    """Ctrl-C (SIGINT) stopped the command: no answer was reached, so not exit 1 ("no")."""

    exit_code = EXIT_INTERRUPTED

    def __init__(self) -> None:
        # Every write is a temp file renamed into place and a ref moved last: whatever the
        # moment, nothing is left half-written, and the run's temp files are removed on the way out.
        super().__init__(
            "interrupted",
            "nothing was left half-written; run the command again to finish it "
            "(`datakeep status` shows where things stand)",
        )


class NotARepositoryError(DatakeepError):
    def __init__(self, path: str, *, gone: bool = False, unfinished: bool = False) -> None:
        if unfinished:  # an init or clone killed before it wrote config.json, its last file
            super().__init__(
                f"{path} holds a datakeep repository that was never finished: its .datakeep folder has no "
                "config.json and nothing stored (an `init` or `clone` was stopped while making it)",
                "if it was a clone, remove the folder and clone again; if it was `datakeep init`, run it again there",
            )
        elif gone:  # opened once, its store deleted or moved away since
            super().__init__(
                f"no datakeep repository any more at {path}: its .datakeep folder is gone",
                "run `datakeep init` there, or open the repository again where it is now",
            )
        else:
            super().__init__(
                f"not a datakeep repository (or any parent up to /): {path}",
                "run `datakeep init` in the project folder first",
            )
        self.path = path


class RepositoryExistsError(DatakeepError):
    def __init__(self, path: str) -> None:
        super().__init__(f"a datakeep repository already exists at {path}", "use it as it is")
        self.path = path


class RevisionError(DatakeepError):
    """An unknown or ambiguous revision."""

    def __init__(self, rev: str, detail: str, candidates: Sequence[str] | None = None, hint: str | None = None) -> None:
        hint = hint or "use `datakeep log` to see commits, or a longer id"
        super().__init__(f"bad revision '{rev}': {detail}", hint)
        self.rev = rev
        self.candidates = list(candidates or [])


class ObjectNotFoundError(DatakeepError):
    def __init__(self, oid: str, where: str = "the object store") -> None:
        super().__init__(
            f"object {oid} is missing from {where}",
            "run `datakeep fsck --repair`: it fetches a good copy from a remote that has it",
        )
        self.oid = oid


#: How a remote gets back an object it lost or holds damaged, said by the errors for both.
_REMOTE_REPAIR = (
    "run `datakeep push --force` to it from a repository that has the object "
    "(--force sends every object the remote lacks)"
)


class RemoteObjectMissingError(ObjectNotFoundError):
    """An object a remote should hold and does not: the repair is on the remote."""

    def __init__(self, oid: str, where: str) -> None:
        DatakeepError.__init__(
            self,
            f"object {oid} is missing from the remote {where}",
            _REMOTE_REPAIR,
        )
        self.oid = oid


class CorruptObjectError(DatakeepError):
    def __init__(self, oid: str, detail: str) -> None:
        super().__init__(
            f"object {oid} is corrupt: {detail}",
            "run `datakeep fsck --repair`: it lists every damaged object and fetches good copies from a remote",
        )
        self.oid = oid
        self.detail = detail


class NewerFormatError(DatakeepError):
    """A stored document of a format version this datakeep does not know: written by a newer
    datakeep, and not damage (a repair would fetch the same bytes again)."""

    def __init__(self, oid: str, what: str, version: object) -> None:
        super().__init__(
            f"object {oid} is a {what} of format version {version}, newer than this datakeep understands",
            "upgrade datakeep (`pip install -U datakeep`): a newer version wrote it; nothing is damaged",
        )
        self.oid = oid


class RemoteObjectDamagedError(CorruptObjectError):
    """An object whose bytes on a remote do not hash to its id: the remote's copy is damaged, so
    the repair is on the remote, from a repository holding a good copy."""

    def __init__(self, oid: str, where: str, url: str) -> None:
        DatakeepError.__init__(
            self,
            f"the copy of object {oid} on {where} is damaged: its bytes do not hash to its id; nothing was stored",
            f"delete it there ({url}), then {_REMOTE_REPAIR}",
        )
        self.oid = oid
        self.detail = f"damaged on {where}"


class InvalidIdError(DatakeepError):
    def __init__(self, value: str) -> None:
        super().__init__(
            f"'{value}' is not a valid object id (32 lowercase hex digits)",
            "ids come from `datakeep log`; never build paths from untrusted ids",
        )
        self.value = value


class LockedError(DatakeepError):
    def __init__(self, path: str, seconds: float, busy: str = "") -> None:
        super().__init__(
            f"repository is locked by another datakeep process ({path}); waited {seconds:g}s",
            f"wait for {busy or 'the other commit, gc or checkout'} to finish, then run the command again",
        )
        self.path = path


class DamagedLocalRefError(DatakeepError):
    """A ref file (HEAD, a branch, a tag, a remote branch) that names no commit (exit 2)."""

    def __init__(self, path: object, detail: str, hint: str) -> None:
        super().__init__(f"{path} is damaged: it {detail}", hint)
        self.path = str(path)
        self.detail = detail


class RefConflictError(DatakeepError):
    def __init__(self, ref: str, expected: str | None, found: str | None) -> None:
        super().__init__(
            f"ref {ref} moved while we worked (expected {expected or 'nothing'}, found {found or 'nothing'})",
            "another process committed at the same time; run the command again",
        )
        self.ref = ref


class DatasetError(DatakeepError):
    """Something is wrong with a dataset: its name, its path, or its definition."""


class UnreadableFolderError(DatasetError):
    """A folder inside a folder dataset that cannot be listed: its files would be left out unseen."""

    def __init__(self, folder: str, detail: str) -> None:
        super().__init__(
            f"cannot read folder {folder} ({detail}), so the Parquet files in it would be left out of its dataset",
            "give read access to it (e.g. `chmod a+rx` it), or move it out of the dataset folder",
        )
        self.folder = folder


class IndexDamagedError(DatakeepError):
    """``.datakeep/index.json`` holds something that is not an index (a lost one is no error:
    the datasets of HEAD are tracked again from its manifests)."""

    def __init__(self, path: str) -> None:
        super().__init__(
            f"{path} is damaged",
            "move it aside (or delete it): datakeep then tracks the datasets of the last commit again, "
            "as it recorded them, and reads their files once to rebuild its stat cache; then `datakeep add` "
            "again what was added since the last commit (uncommitted changes to the data stay where they are)",
        )
        self.path = path


class InputDataError(DatakeepError):
    """A data file that cannot be read as what it claims to be."""

    def __init__(self, path: str, detail: str, hint: str = "") -> None:
        super().__init__(
            f"{path}: {detail}",
            hint or "check that the file is a complete Parquet file (re-export it if it was cut short)",
        )
        self.path = path
        self.detail = detail


class UnsupportedTypeError(DatakeepError):
    pass


class UncommittedChangesError(DatakeepError):
    def __init__(self, names: list[str], hint: str = "commit them first, or pass --force to discard them") -> None:
        super().__init__(f"uncommitted changes in {', '.join(names)} would be overwritten", hint)
        self.names = names


class UsageError(DatakeepError):
    pass


class SchemaConfigError(DatakeepError):
    """A schema, source mapping or rules file that cannot be used (exit 2)."""

    def __init__(self, path: str, detail: str, hint: str = "") -> None:
        super().__init__(f"{path}: {detail}", hint or "fix the file; `datakeep schema check` lists every problem")
        self.path = path
        self.detail = detail
        # Every problem found in the file, this one first: a command stops at the first,
        # `datakeep schema check` lists them all.
        self.problems: tuple[SchemaConfigError, ...] = (self,)

    @classmethod
    def every(cls, problems: list[SchemaConfigError]) -> SchemaConfigError:
        """The first of ``problems``, carrying all of them."""
        first = problems[0]
        first.problems = tuple(problems)
        return first


class ValidationFailedError(DatakeepError):
    """Data failed validation: the answer is no (exit 1). Carries the report."""

    exit_code = EXIT_NO

    def __init__(self, message: str, report: object, hint: str = "") -> None:
        super().__init__(message, hint or "fix the data or the mapping; `--no-verify` skips the check")
        self.report = report


class RemoteError(DatakeepError):
    pass
