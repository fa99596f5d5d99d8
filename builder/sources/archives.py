"""Where a download's files are: a folder, the Kaggle zip read in place, or the ILSVRC2012 tar files.

A source sees one tree of ``/``-separated relative paths (``ILSVRC/Data/CLS-LOC/train/n01440764``)
whatever holds it:

- :class:`FolderFiles`: an extracted download, in which archives may stand in for some sub-folders
  (the devkit era's ``ILSVRC2012_img_train.tar``, a tar of per-class tars, for ``ILSVRC2012_img_train/``;
  ``ILSVRC2012_img_val.tar`` for ``ILSVRC2012_img_val/``; ``ILSVRC2014_devkit.tar.gz`` for the devkit);
- :class:`ZipFiles`: Kaggle's ``imagenet-object-localization-challenge.zip``, its members laid out as the
  extracted download, under one top folder or none.

Images in archives are located once, by the process that lists the source (the zip's central directory,
the tar headers, nested tars included), as a :class:`Member`: where their bytes are in the archive file.
Workers then read each image with one positioned read of the archive, which every process opens itself
once (:func:`read_member`); nothing is extracted. Errors name the archive.

A read holds one member in memory at most, and never more than ``MAX_MEMBER_BYTES``: a member declared
larger, or whose data inflate beyond what its zip entry declares, is refused before or while it is read.
Zip members are checked against the CRC-32 that the central directory records for them, so bit rot in
a download is reported (``CRC mismatch``) instead of changing pixels. Each refusal is an
:class:`ArchiveError` (an ``OSError``) naming ``ARCHIVE:MEMBER``; the builder skips and reports the image.

A folder's :class:`Listing` also says which files named as images it could not take as one, and why
(a dangling or looping symbolic link, a name that is not UTF-8, a tar link to no regular member, a second
file with the same image id): the build reports them with the images it could not decode. A tar's hard
links and symbolic links to a regular member of the same tar are read as that member.

:meth:`Files.state` says what a folder's or file's content depends on (names, sizes, modification
times; for an archive, the archive file's), so that a build is reused only for the same download.
"""

from __future__ import annotations

import abc
import array
import dataclasses
import io
import os
import posixpath
import struct
import tarfile
import zlib
from typing import BinaryIO, Iterable, Iterator, Mapping, NamedTuple, Optional

from builder.errors import ImageNetTinyError, MissingFileError

IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")

# The most bytes one member may hold once read (inflated): far above any real ImageNet file (the largest
# JPEGs are a few tens of MB), far below what a forged or corrupt entry could make a worker allocate.
MAX_MEMBER_BYTES = 256 << 20

# How a member's bytes are stored: at its offset (tar), or after a zip local header, as is or deflated.
RAW, ZIP_STORED, ZIP_DEFLATED = "raw", "zip-stored", "zip-deflated"
ZIP_KINDS = {0: ZIP_STORED, 8: ZIP_DEFLATED}  # zip compression method -> kind

FileState = tuple[str, int, int]  # (path, size, modification time in ns); -1, -1 for what cannot be read


class ArchiveError(ImageNetTinyError, OSError):
    """An archive that is corrupt, truncated or of a kind that cannot be read in place; the message names it."""


@dataclasses.dataclass(frozen=True)
class SkippedFile:
    """A file named as an image that a listing could not take as one: where it is, and why."""

    path: str
    reason: str
    image_id: str = ""


class Listing(dict):
    """The images of one folder, ``image id -> (path shown in messages, member or None)``.

    ``skipped`` holds the files named as images that could not be listed as one (:class:`SkippedFile`).
    """

    def __init__(self) -> None:
        super().__init__()
        self.skipped: list[SkippedFile] = []

    def add(self, image_id: str, path: str, member: Optional["Member"] = None) -> None:
        """List an image; a second file of the same image id (``a.JPEG`` beside ``a.png``) is skipped."""
        if not is_utf8(path):
            self.skip(path, "its name is not valid UTF-8", image_id)
        elif image_id in self:
            self.skip(path, f"another file has the same image id: {self[image_id][0]}", image_id)
        else:
            self[image_id] = (path, member)

    def skip(self, path: str, reason: str, image_id: str = "") -> None:
        self.skipped.append(SkippedFile(printable(path), reason, printable(image_id)))


def is_utf8(name: str) -> bool:
    """Whether a name read from the file system (undecodable bytes as surrogates) is valid UTF-8."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(name: str) -> str:
    """A name fit for messages and UTF-8 reports: bytes that are not UTF-8 shown as ``\\xff``."""
    return os.fsencode(name).decode("utf-8", "backslashreplace") if not is_utf8(name) else name


def file_state(path: str) -> FileState:
    """``(path, size, mtime_ns)`` of the file at ``path`` (links followed); ``-1, -1`` where it cannot be read."""
    try:
        status = os.stat(path)
    except OSError:
        return path, -1, -1
    return path, status.st_size, status.st_mtime_ns


@dataclasses.dataclass(frozen=True, slots=True)
class Member:
    """An image's bytes inside the archive file ``archive``: ``size`` bytes stored from ``offset`` on.

    Zip members also carry what their central directory records: ``inflated_size`` (the content's size;
    a tar member's is ``size``) and ``crc`` (the content's CRC-32), which every read checks.
    """

    archive: str
    offset: int  # of the data (raw) or of the zip local header in front of it
    size: int  # bytes stored (compressed, for a deflated zip member)
    kind: str = RAW
    inflated_size: Optional[int] = None
    crc: Optional[int] = None


def read_member(member: Member, where: str) -> bytes:
    """The member's content; ``where`` names it in errors (``ARCHIVE:NAME``).

    Raises :class:`ArchiveError` for a member beyond ``MAX_MEMBER_BYTES``, data that do not inflate to
    the declared size, or content whose CRC-32 is not the recorded one.
    """
    declared = member.size if member.inflated_size is None else member.inflated_size
    _refuse_oversized(member, declared, where)
    fd = _archive_fd(member.archive)
    offset = member.offset
    if member.kind != RAW:
        header = os.pread(fd, 30, offset)
        if len(header) < 30 or header[:4] != b"PK\x03\x04":
            raise ArchiveError(f"{where}: no zip entry at byte {offset} of {member.archive} (corrupt or truncated archive)")
        name_length, extra_length = struct.unpack_from("<HH", header, 26)
        offset += 30 + name_length + extra_length
    data = os.pread(fd, member.size, offset)
    if len(data) < member.size:
        raise ArchiveError(
            f"{where}: cut short ({len(data)} of {member.size} bytes): {member.archive} is truncated or corrupt"
        )
    if member.kind == ZIP_DEFLATED:
        data = _inflate(data, declared, where, member.archive)
    if member.crc is not None and (crc := zlib.crc32(data)) != member.crc:
        raise ArchiveError(f"{where}: CRC mismatch (the content's CRC-32 is {crc:08x}, the archive "
                           f"records {member.crc:08x}): the member is damaged; download {member.archive} again")
    return data


def _refuse_oversized(member: Member, declared: int, where: str) -> None:
    """Refuse, before reading it, a member whose stored or declared size exceeds ``MAX_MEMBER_BYTES``."""
    if declared > MAX_MEMBER_BYTES:
        what = f"inflates to {declared} bytes" if member.kind == ZIP_DEFLATED else f"holds {declared} bytes"
    elif member.size > MAX_MEMBER_BYTES:
        what = f"stores {member.size} compressed bytes"
    else:
        return
    raise ArchiveError(f"{where}: {what}, beyond the limit of {MAX_MEMBER_BYTES} bytes for one member "
                       f"(no ImageNet image comes near it): {member.archive} is corrupt or forged")


def _inflate(data: bytes, declared: int, where: str, archive: str) -> bytes:
    """The deflated ``data`` inflated, to at most one byte beyond the ``declared`` size (which tells a lie)."""
    inflater = zlib.decompressobj(-15)
    try:
        content = inflater.decompress(data, declared + 1)
    except zlib.error as error:
        raise ArchiveError(f"{where}: corrupt compressed data in {archive} ({error})") from None
    if len(content) > declared:
        raise ArchiveError(f"{where}: inflates beyond the {declared} bytes its zip entry declares: "
                           f"{archive} is corrupt or forged")
    if not inflater.eof:
        raise ArchiveError(f"{where}: its compressed data end early: {archive} is truncated or corrupt")
    if len(content) < declared:
        raise ArchiveError(f"{where}: inflates to {len(content)} of the {declared} bytes its zip entry declares: "
                           f"{archive} is corrupt")
    return content


# One descriptor per archive and process, opened on first use. os.pread never moves a shared file
# position, so descriptors inherited by forked workers stay correct as well.
_ARCHIVE_FDS: dict[str, int] = {}


def _archive_fd(archive: str) -> int:
    fd = _ARCHIVE_FDS.get(archive)
    if fd is None:
        try:
            fd = os.open(archive, os.O_RDONLY)
        except OSError as error:
            raise ArchiveError(f"cannot open the archive {archive}: {error.strerror}") from None
        _ARCHIVE_FDS[archive] = fd
    return fd


def forget_changed_archives() -> None:
    """Close this process's descriptors of archives that were replaced or changed since they were opened,
    so that a new listing of the same path is read from the file now there, not the one before."""
    for archive, fd in list(_ARCHIVE_FDS.items()):
        opened = os.fstat(fd)
        try:
            now = os.stat(archive)
        except OSError:
            now = None
        same = now is not None and all(
            getattr(opened, key) == getattr(now, key) for key in ("st_dev", "st_ino", "st_size", "st_mtime_ns")
        )
        if not same:
            del _ARCHIVE_FDS[archive]
            os.close(fd)


def is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_SUFFIXES)


def _stem(name: str) -> str:
    return os.path.splitext(name)[0]


def _split(rel: str) -> tuple[str, str]:
    """``'a/b/c'`` -> ``('a', 'b/c')``; ``'a'`` -> ``('a', '')``."""
    head, _, rest = rel.strip("/").partition("/")
    return head, rest


class Files(abc.ABC):
    """A download's files by relative path, wherever they are. ``location`` is what the user gave."""

    def __init__(self, location: str) -> None:
        self.location = location

    @abc.abstractmethod
    def exists(self, rel: str) -> bool: ...

    @abc.abstractmethod
    def is_dir(self, rel: str) -> bool: ...

    @abc.abstractmethod
    def list_images(self, rel: str) -> Listing:
        """The image files directly in folder ``rel``, by image id (file stem)."""

    @abc.abstractmethod
    def open(self, rel: str) -> BinaryIO:
        """A (small) file's content, e.g. a CSV or the class table."""

    @abc.abstractmethod
    def where(self, rel: str) -> str:
        """How messages name ``rel``: a path, or ``ARCHIVE:MEMBER``."""

    @abc.abstractmethod
    def top_names(self) -> list[str]:
        """What the download holds at its top (for the message when no layout fits)."""

    @abc.abstractmethod
    def state(self, rel: str) -> Iterable[FileState]:
        """What the content of ``rel`` depends on: the file, each entry of the folder (not below), or the
        archive that holds it, as :func:`file_state`; cheap (no file is read)."""


class FolderFiles(Files):
    """A folder; ``archives`` maps a top-level folder name to an archive in the folder that stands in for it."""

    def __init__(self, root: str, archives: Mapping[str, str] = ()) -> None:
        super().__init__(root)
        self._archives = dict(archives)
        self._mounted: dict[str, Files] = {}

    def _mount(self, rel: str) -> tuple[Optional[Files], str]:
        """The archive that holds ``rel`` (and the path inside it), or None where the folder is on disk."""
        head, rest = _split(rel)
        archive = self._archives.get(head)
        if archive is None or os.path.isdir(os.path.join(self.location, head)):
            return None, rel
        path = os.path.join(self.location, archive)
        if not os.path.isfile(path):
            return None, rel
        if head not in self._mounted:
            self._mounted[head] = TarGzFiles(path) if archive.endswith((".tar.gz", ".tgz")) else TarFiles(path)
        return self._mounted[head], rest

    def _real(self, rel: str) -> str:
        return os.path.join(self.location, *[p for p in rel.split("/") if p])

    def exists(self, rel: str) -> bool:
        archive, inner = self._mount(rel)
        return archive.exists(inner) if archive else os.path.exists(self._real(rel))

    def is_dir(self, rel: str) -> bool:
        archive, inner = self._mount(rel)
        return archive.is_dir(inner) if archive else os.path.isdir(self._real(rel))

    def list_images(self, rel: str) -> Listing:
        archive, inner = self._mount(rel)
        if archive:
            return archive.list_images(inner)
        found = Listing()
        with os.scandir(self._real(rel)) as entries:
            # In name order, so that of two files with one image id the same one is kept every time.
            for entry in sorted(entries, key=lambda e: e.name):
                if is_image_name(entry.name):
                    problem = _not_a_file(entry)
                    if problem:
                        found.skip(entry.path, problem, _stem(entry.name))
                    else:
                        found.add(_stem(entry.name), entry.path)
        return found

    def open(self, rel: str) -> BinaryIO:
        archive, inner = self._mount(rel)
        return archive.open(inner) if archive else open(self._real(rel), "rb")

    def where(self, rel: str) -> str:
        archive, inner = self._mount(rel)
        return archive.where(inner) if archive else self._real(rel)

    def top_names(self) -> list[str]:
        return sorted(os.listdir(self.location))

    def state(self, rel: str) -> Iterable[FileState]:
        archive, inner = self._mount(rel)
        if archive:
            return archive.state(inner)
        path = self._real(rel)
        if not os.path.isdir(path):
            return [file_state(path)]
        with os.scandir(path) as entries:
            return [file_state(entry.path) for entry in sorted(entries, key=lambda e: e.name)]


def _not_a_file(entry: os.DirEntry) -> Optional[str]:
    """Why a folder entry named as an image is not a file that can be read (None when it is one)."""
    try:
        if entry.is_file():
            return None
        if entry.is_symlink():
            return f"a symbolic link to {os.readlink(entry.path)!r}, which does not exist"
        return "a folder, not an image file" if entry.is_dir() else "not a regular file"
    except OSError as error:  # a symbolic link loop, say
        return f"cannot be read: {error.strerror}"


class _ArchiveFiles(Files):
    """An archive file: ``where`` names members ``ARCHIVE:NAME``."""

    def where(self, rel: str) -> str:
        return f"{self.location}:{rel}" if rel else self.location

    def state(self, rel: str) -> Iterable[FileState]:
        return [file_state(self.location)]

    def _fail(self, what: str, error: BaseException) -> ArchiveError:
        return ArchiveError(f"{self.location}: {what} ({type(error).__name__}: {error}); is the download complete?")


@dataclasses.dataclass
class _ZipFolder:
    """The entries of one folder of a zip: names, and where each one's bytes are (compact: a zip has millions).

    The numbers sit in parallel arrays of machine integers, 29 bytes an entry (a tuple of Python ints took
    about 140 for three of them).
    """

    names: list[str] = dataclasses.field(default_factory=list)
    offsets: array.array = dataclasses.field(default_factory=lambda: array.array("Q"))  # of the local header
    sizes: array.array = dataclasses.field(default_factory=lambda: array.array("Q"))  # stored
    inflated_sizes: array.array = dataclasses.field(default_factory=lambda: array.array("Q"))
    crcs: array.array = dataclasses.field(default_factory=lambda: array.array("I"))
    methods: array.array = dataclasses.field(default_factory=lambda: array.array("B"))  # a key of ZIP_KINDS

    def add(self, base: str, entry: _ZipEntry) -> None:
        self.names.append(base)
        self.offsets.append(entry.offset)
        self.sizes.append(entry.size)
        self.inflated_sizes.append(entry.inflated_size)
        self.crcs.append(entry.crc)
        self.methods.append(entry.method)

    def member(self, index: int, archive: str) -> Member:
        return Member(archive, self.offsets[index], self.sizes[index], ZIP_KINDS[self.methods[index]],
                      self.inflated_sizes[index], self.crcs[index])


class ZipFiles(_ArchiveFiles):
    """A zip archive read in place. Its members may sit under one top folder; the tree starts below it.

    The central directory is read once, streaming (Python's ``zipfile`` would keep an object of about
    half a kilobyte for each of the Kaggle archive's 1.9 million entries).
    """

    def __init__(self, path: str, markers: tuple[str, ...] = ()) -> None:
        super().__init__(path)
        self._folders: dict[str, _ZipFolder] = {}
        self._dirs: set[str] = {""}
        try:
            with open(path, "rb") as f:
                for entry in _central_directory(f, path):
                    self._add(entry)
        except (OSError, struct.error, UnicodeDecodeError) as error:
            if isinstance(error, ArchiveError):
                raise
            raise self._fail("not a readable zip archive", error) from None
        self._prefix = self._find_prefix(markers)

    def _add(self, entry: _ZipEntry) -> None:
        name = entry.name
        if name.endswith("/"):
            self._add_dirs(name.rstrip("/"))
            return
        folder, _, base = name.rpartition("/")
        self._add_dirs(folder)
        if entry.encrypted or entry.method not in ZIP_KINDS:
            if is_image_name(base):
                how = "encrypted" if entry.encrypted else f"compressed with zip method {entry.method}"
                raise ArchiveError(f"{self.location}:{name} is {how}: only unencrypted stored or deflated members "
                                   "can be read in place")
            return
        self._folders.setdefault(folder, _ZipFolder()).add(base, entry)

    def _add_dirs(self, folder: str) -> None:
        while folder not in self._dirs:
            self._dirs.add(folder)
            folder = folder.rpartition("/")[0]

    def _find_prefix(self, markers: tuple[str, ...]) -> str:
        """'' when the layout starts at the top, else the one top folder that holds it."""
        tops = {name for name in self._dirs if name and "/" not in name} | {
            n for n in self._folders.get("", _ZipFolder()).names
        }
        if not markers or any(m in tops for m in markers) or len(tops) != 1:
            return ""
        (top,) = tops
        return f"{top}/" if any(self._exists_raw(f"{top}/{m}") for m in markers) else ""

    def _raw(self, rel: str) -> str:
        return (self._prefix + rel.strip("/")).rstrip("/")

    def _exists_raw(self, name: str) -> bool:
        folder, _, base = name.rpartition("/")
        return name in self._dirs or base in self._folders.get(folder, _ZipFolder()).names

    def _member(self, rel: str) -> tuple[str, Member]:
        name = self._raw(rel)
        folder, _, base = name.rpartition("/")
        entries = self._folders.get(folder)
        if entries is None or base not in entries.names:
            raise MissingFileError(f"{self.where(rel)} is not in the archive")
        return name, entries.member(entries.names.index(base), self.location)

    def exists(self, rel: str) -> bool:
        return self._exists_raw(self._raw(rel))

    def is_dir(self, rel: str) -> bool:
        return self._raw(rel) in self._dirs

    def list_images(self, rel: str) -> Listing:
        folder = self._raw(rel)
        if folder not in self._dirs:
            raise MissingFileError(f"{self.where(rel)}: no such folder in the archive")
        entries = self._folders.get(folder, _ZipFolder())
        found = Listing()
        for index, name in enumerate(entries.names):
            if is_image_name(name):
                found.add(_stem(name), f"{self.location}:{folder}/{name}", entries.member(index, self.location))
        return found

    def open(self, rel: str) -> BinaryIO:
        name, member = self._member(rel)
        return io.BytesIO(read_member(member, f"{self.location}:{name}"))

    def where(self, rel: str) -> str:
        return super().where(self._raw(rel))

    def top_names(self) -> list[str]:
        top = self._raw("")
        return sorted(
            {d.rpartition("/")[2] for d in self._dirs if d and d.rpartition("/")[0] == top}
            | set(self._folders.get(top, _ZipFolder()).names)
        )


class _ZipEntry(NamedTuple):
    """One entry of a zip's central directory: what reading it in place needs."""

    name: str
    offset: int  # of its local header
    size: int  # stored
    inflated_size: int
    crc: int
    method: int
    encrypted: bool


def _central_directory(f: BinaryIO, path: str) -> Iterator[_ZipEntry]:
    """The entries of the zip file ``f``, zip64 too, in the order of its central directory."""
    f.seek(0, os.SEEK_END)
    file_size = f.tell()
    tail_size = min(file_size, 22 + 0xFFFF + 20)  # the end record, its comment, the zip64 locator
    f.seek(file_size - tail_size)
    tail = f.read(tail_size)
    end = tail.rfind(b"PK\x05\x06")
    if end < 0:
        raise ArchiveError(f"{path}: no zip end record: not a zip archive, or a truncated one")
    count, directory_size, directory_offset = struct.unpack_from("<HII", tail, end + 10)
    if 0xFFFF in (count,) or 0xFFFFFFFF in (directory_size, directory_offset):
        locator = end - 20
        if locator < 0 or tail[locator : locator + 4] != b"PK\x06\x07":
            raise ArchiveError(f"{path}: a zip64 archive without its zip64 locator (corrupt or truncated)")
        (end64,) = struct.unpack_from("<Q", tail, locator + 8)
        f.seek(end64)
        record = f.read(56)
        if record[:4] != b"PK\x06\x06":
            raise ArchiveError(f"{path}: no zip64 end record at byte {end64} (corrupt or truncated)")
        count, directory_size, directory_offset = struct.unpack_from("<QQQ", record, 32)
    if directory_offset + directory_size > file_size:
        raise ArchiveError(f"{path}: its central directory lies beyond the end of the file (truncated)")
    f.seek(directory_offset)
    reader = io.BufferedReader(f, buffer_size=1 << 20) if not isinstance(f, io.BufferedReader) else f
    for _ in range(count):
        header = reader.read(46)
        if len(header) < 46 or header[:4] != b"PK\x01\x02":
            raise ArchiveError(f"{path}: corrupt central directory")
        flags, method = struct.unpack_from("<HH", header, 8)
        crc, size, inflated_size = struct.unpack_from("<III", header, 16)
        name_length, extra_length, comment_length = struct.unpack_from("<HHH", header, 28)
        (offset,) = struct.unpack_from("<I", header, 42)
        raw_name = reader.read(name_length)
        extra = reader.read(extra_length)
        reader.read(comment_length)
        name = raw_name.decode("utf-8" if flags & 0x800 else "cp437")
        if 0xFFFFFFFF in (size, inflated_size, offset):
            inflated_size, size, offset = _zip64_fields(extra, (inflated_size, size, offset), f"{path}: corrupt "
                                                        f"central directory: {name}")
        yield _ZipEntry(name, offset, size, inflated_size, crc, method, bool(flags & 0x1))


def _zip64_fields(extra: bytes, fields: tuple[int, int, int], where: str) -> tuple[int, int, int]:
    """The true (inflated size, stored size, offset) from a zip64 extra field: it holds, in this order, only
    those saturated at 0xFFFFFFFF in the header. ``where`` begins the error when the field lacks them."""
    position = 0
    while position + 4 <= len(extra):
        kind, length = struct.unpack_from("<HH", extra, position)
        if kind == 0x0001:
            values = list(struct.unpack_from(f"<{length // 8}Q", extra, position + 4))
            if len(values) < fields.count(0xFFFFFFFF):
                break
            inflated_size, size, offset = (values.pop(0) if value == 0xFFFFFFFF else value for value in fields)
            return inflated_size, size, offset
        position += 4 + length
    raise ArchiveError(f"{where} lacks its zip64 sizes (its header says they are in a zip64 extra field)")


class TarFiles(_ArchiveFiles):
    """An uncompressed tar read in place: images at its top, and per-class tars within it seen as folders.

    ``ILSVRC2012_img_train.tar`` holds ``n01440764.tar`` ...: folder ``n01440764`` lists that inner tar's
    images. Headers are read once (inner tars when first listed); member offsets are absolute in the file.
    """

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self._top: Optional[_TarIndex] = None

    def _index(self, start: int = 0, end: Optional[int] = None, what: str = "") -> "_TarIndex":
        """Members of the tar that starts at byte ``start`` (an inner tar ends at ``end``)."""
        index = _TarIndex()
        where = f"{self.location}:{what}" if what else self.location
        try:
            with open(self.location, "rb") as f:
                end = end if end is not None else os.fstat(f.fileno()).st_size
                f.seek(start)
                with tarfile.open(fileobj=f, mode="r:") as tar:
                    for info in tar:
                        if info.offset_data + info.size > end:
                            raise ArchiveError(f"{where}: {info.name} is cut short: the archive is truncated")
                        index.add(info)
                    closed_at = tar.offset
                # A complete tar ends in zero blocks; tarfile stops quietly where a truncated one ends.
                f.seek(closed_at)
                if closed_at + 512 > end or f.read(512).strip(b"\0"):
                    raise ArchiveError(f"{where}: no end-of-archive marker: the archive is truncated")
        except tarfile.TarError as error:
            raise self._fail(f"not a readable tar archive{' (in ' + what + ')' if what else ''}", error) from None
        index.resolve_links()
        return index

    def _top_members(self) -> dict[str, tuple[int, int]]:
        if self._top is None:
            self._top = self._index()
        return self._top.members

    def _inner(self, folder: str) -> Optional[str]:
        name = f"{folder}.tar"
        return name if name in self._top_members() else None

    def exists(self, rel: str) -> bool:
        return rel.strip("/") in self._top_members() or self.is_dir(rel)

    def is_dir(self, rel: str) -> bool:
        rel = rel.strip("/")
        return rel == "" or ("/" not in rel and self._inner(rel) is not None)

    def list_images(self, rel: str) -> Listing:
        rel = rel.strip("/")
        if rel == "":
            self._top_members()
            index, prefix = self._top, ""
        else:
            inner = self._inner(rel)
            if inner is None:
                raise MissingFileError(f"{self.where(rel)}: no {rel}.tar in the archive")
            offset, size = self._top_members()[inner]
            index, prefix = self._index(offset, offset + size, inner), f"{inner}:"
        found = Listing()
        for name, (offset, size) in index.members.items():
            if is_image_name(name):
                found.add(_stem(os.path.basename(name)), f"{self.location}:{prefix}{name}", Member(self.location, offset, size))
        for name, reason in index.unreadable.items():
            if is_image_name(name):
                found.skip(f"{self.location}:{prefix}{name}", reason, _stem(os.path.basename(name)))
        return found

    def open(self, rel: str) -> BinaryIO:
        rel = rel.strip("/")
        if rel not in self._top_members():
            raise MissingFileError(f"{self.where(rel)} is not in the archive")
        return io.BytesIO(read_member(Member(self.location, *self._top_members()[rel]), self.where(rel)))

    def top_names(self) -> list[str]:
        return sorted(self._top_members())


@dataclasses.dataclass
class _TarIndex:
    """A tar's members that can be read in place (``name -> (data offset, size)``), links resolved, and
    the others with why they cannot (``name -> reason``)."""

    members: dict[str, tuple[int, int]] = dataclasses.field(default_factory=dict)
    unreadable: dict[str, str] = dataclasses.field(default_factory=dict)
    _links: dict[str, tarfile.TarInfo] = dataclasses.field(default_factory=dict)

    def add(self, info: tarfile.TarInfo) -> None:
        name = info.name.removeprefix("./")
        if info.isfile():
            self.members[name] = (info.offset_data, info.size)
        elif info.islnk() or info.issym():
            self._links[name] = info
        elif not info.isdir():
            self.unreadable[name] = "a tar member that is not a regular file"

    def resolve_links(self) -> None:
        """Read a link as the regular member it points to in the same tar (hard links first, whose targets
        are regular members, so that a symbolic link to a hard link resolves too)."""
        for name, info in sorted(self._links.items(), key=lambda item: not item[1].islnk()):
            if info.islnk():
                target = info.linkname.removeprefix("./")
            else:  # relative to the link's folder; an absolute target is outside the tar
                target = posixpath.normpath(posixpath.join(posixpath.dirname(name), info.linkname))
            if target in self.members and not info.linkname.startswith("/"):
                self.members[name] = self.members[target]
            else:
                kind = "hard" if info.islnk() else "symbolic"
                self.unreadable[name] = f"a tar {kind} link to {info.linkname!r}, which is not a regular member of the tar"
        self._links.clear()


class TarGzFiles(_ArchiveFiles):
    """A small compressed tar (the devkit), read whole into memory; its one top folder is left out."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self._files: Optional[dict[str, bytes]] = None

    def _contents(self) -> dict[str, bytes]:
        if self._files is None:
            files = {}
            try:
                with tarfile.open(self.location, mode="r:*") as tar:
                    for info in tar:
                        if info.isfile():
                            # Read whole into memory, so bounded like any member read in place.
                            _refuse_oversized(Member(self.location, info.offset_data, info.size), info.size,
                                              self.where(info.name))
                            files[info.name] = tar.extractfile(info).read()
            except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
                if isinstance(error, ArchiveError):
                    raise
                raise self._fail("not a readable compressed tar archive", error) from None
            tops = {name.split("/", 1)[0] for name in files}
            if len(tops) == 1 and all("/" in name for name in files):
                files = {name.split("/", 1)[1]: data for name, data in files.items()}
            self._files = files
        return self._files

    def exists(self, rel: str) -> bool:
        rel = rel.strip("/")
        return rel in self._contents() or self.is_dir(rel)

    def is_dir(self, rel: str) -> bool:
        rel = rel.strip("/")
        return rel == "" or any(name.startswith(rel + "/") for name in self._contents())

    def list_images(self, rel: str) -> Listing:
        raise ArchiveError(f"{self.where(rel)}: images are not read from compressed tars; extract {self.location}")

    def open(self, rel: str) -> BinaryIO:
        rel = rel.strip("/")
        if rel not in self._contents():
            raise MissingFileError(f"{self.where(rel)} is not in the archive")
        return io.BytesIO(self._contents()[rel])

    def top_names(self) -> list[str]:
        return sorted({name.split("/", 1)[0] for name in self._contents()})

