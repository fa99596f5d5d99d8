"""The ILSVRC class table (WNID, words, ILSVRC2014_ID) and how a config chooses its classes.

The table of the 1000 classes ships with the code (``ilsvrc2014_classes.tsv``, the devkit's text form:
:func:`ilsvrc_classes`), so a config's classes and labels are known without a download. Two files
describe the same classes in a user's download, and are checked against it (:func:`check_ilsvrc_table`):
- ``LOC_synset_mapping.txt`` (Kaggle): ``wnid words`` per line, sorted by WNID;
- ``meta_clsloc.mat`` (ILSVRC2014 devkit): the struct array ``synsets``, whose first 1000 entries
  are the leaf classes in ILSVRC2014_ID order (ID 1 is n02119789, not the first WNID).
A tab-separated ``meta_clsloc.tsv`` (``ILSVRC2014_ID  WNID  words``) is read as the devkit table too.

Class indices everywhere in ImageNet-tiny follow sorted WNID order, as torchvision's ImageFolder,
timm and the Hub's imagenet-1k do.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from typing import BinaryIO, Iterable, Optional, Sequence

from builder.errors import ImageNetTinyError
from builder.ilsvrc_files import WNID_PATTERN, utf8_lines

# The Matlab version's own five-class selection, kept so that its published numbers stay comparable.
SEED_FIVE_CLASSES = ("n02676566", "n01773157", "n01622779", "n03452741", "n01944390")


# Made from public copies of the devkit's map_clsloc.txt (IDs, WNIDs) and Kaggle's LOC_synset_mapping.txt
# (words); tests check it against the real devkit and Kaggle files.
ILSVRC_CLASSES_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ilsvrc2014_classes.tsv")
ILSVRC_CLASSES_NAME = "the 1000 ILSVRC classes"  # how messages name the shipped table


class ClassTableError(ImageNetTinyError, ValueError):
    """A class table file that cannot be read, or a class that is not in it."""


@dataclasses.dataclass(frozen=True)
class ClassTable:
    """Classes in sorted WNID order; ``ilsvrc2014_ids`` is present when the table came from the devkit."""

    wnids: tuple[str, ...]
    words: tuple[str, ...]
    ilsvrc2014_ids: Optional[tuple[int, ...]] = None
    source: str = ""

    def __post_init__(self) -> None:
        if list(self.wnids) != sorted(self.wnids):
            raise ClassTableError(f"class table {self.source}: WNIDs must be in sorted order")
        if len(set(self.wnids)) != len(self.wnids):
            raise ClassTableError(f"class table {self.source}: duplicate WNIDs")

    def __len__(self) -> int:
        return len(self.wnids)

    def __contains__(self, wnid: object) -> bool:
        return wnid in self._index

    @property
    def _index(self) -> dict[str, int]:
        index = self.__dict__.get("_index_cache")
        if index is None:
            index = {wnid: i for i, wnid in enumerate(self.wnids)}
            object.__setattr__(self, "_index_cache", index)
        return index

    def index(self, wnid: str) -> int:
        """Position of ``wnid`` in sorted WNID order."""
        try:
            return self._index[wnid]
        except KeyError:
            raise ClassTableError(f"{wnid!r} is not a class of {self.source or 'this class table'}") from None

    def words_of(self, wnid: str) -> str:
        return self.words[self.index(wnid)]

    def wnid_of_ilsvrc2014_id(self, ilsvrc2014_id: int) -> str:
        """The WNID of a devkit class number (1-based ILSVRC2014_ID)."""
        if self.ilsvrc2014_ids is None:
            raise ClassTableError(f"class table {self.source} has no ILSVRC2014_IDs (use the devkit's meta_clsloc.mat)")
        by_id = self.__dict__.get("_by_id_cache")
        if by_id is None:
            by_id = dict(zip(self.ilsvrc2014_ids, self.wnids))
            object.__setattr__(self, "_by_id_cache", by_id)
        try:
            return by_id[ilsvrc2014_id]
        except KeyError:
            raise ClassTableError(f"ILSVRC2014_ID {ilsvrc2014_id} is not in {self.source}") from None

    @functools.cached_property
    def _by_written_id(self) -> dict[str, int]:
        return {str(number): i for i, number in enumerate(self.ilsvrc2014_ids or ())}

    def position_of_written_id(self, token: str) -> Optional[int]:
        """Position of the class whose ILSVRC2014_ID is ``token`` as the devkit's files write it (ASCII
        digits, no sign, no leading zero); None for any other token, or where the table has no IDs."""
        return self._by_written_id.get(token)

    def subset(self, wnids: Iterable[str]) -> "ClassTable":
        """The table restricted to ``wnids`` (kept in sorted order); every WNID must be present."""
        chosen = sorted(set(wnids))
        missing = [w for w in chosen if w not in self]
        if missing:
            raise ClassTableError(
                f"{len(missing)} requested class(es) are not in {self.source or 'the class table'}: {', '.join(missing[:10])}"
            )
        positions = [self.index(w) for w in chosen]
        ids = None if self.ilsvrc2014_ids is None else tuple(self.ilsvrc2014_ids[i] for i in positions)
        return ClassTable(tuple(chosen), tuple(self.words[i] for i in positions), ids, self.source)


def _from_rows(rows: Sequence[tuple[Optional[int], str, str]], source: str) -> ClassTable:
    rows = sorted(rows, key=lambda row: row[1])
    ids = tuple(row[0] for row in rows) if rows and rows[0][0] is not None else None
    return ClassTable(tuple(r[1] for r in rows), tuple(r[2] for r in rows), ids, source)


def read_synset_mapping(path: str | os.PathLike, stream: Optional[BinaryIO] = None) -> ClassTable:
    """Read Kaggle's ``LOC_synset_mapping.txt``: ``wnid words`` per line.

    ``stream``, where given, is the file's content (a member of an archive) and ``path`` only names it.
    """
    rows = []
    with stream if stream is not None else open(path, "rb") as f:
        for line_number, line in enumerate(utf8_lines(f, str(path), ClassTableError), 1):
            if not line.strip():
                continue
            wnid, _, words = line.rstrip("\n").partition(" ")
            if not WNID_PATTERN.fullmatch(wnid):
                raise ClassTableError(f"{path}, line {line_number}: expected 'wnid words', got {line.strip()!r}")
            rows.append((None, wnid, words.strip()))
    return _from_rows(rows, str(path))


def read_meta_clsloc(path: str | os.PathLike, stream: Optional[BinaryIO] = None) -> ClassTable:
    """Read the devkit class table: ``meta_clsloc.mat``, or its text form ``ILSVRC2014_ID<TAB>WNID<TAB>words``.

    Only the 1000 leaf classes (``num_children == 0`` in the .mat; ILSVRC2014_ID 1..1000) are kept.
    ``stream``, where given, is the file's content (a member of an archive) and ``path`` only names it.
    """
    path = str(path)
    if path.endswith(".mat"):
        rows = _read_meta_mat(path, stream)
    else:
        rows = []
        with stream if stream is not None else open(path, "rb") as f:
            for line_number, line in enumerate(utf8_lines(f, path, ClassTableError), 1):
                fields = line.rstrip("\n").split("\t")
                if line_number == 1 and fields[0] == "ILSVRC2014_ID":
                    continue
                if len(fields) != 3 or not (fields[0].isascii() and fields[0].isdigit()) or not WNID_PATTERN.fullmatch(fields[1]):
                    raise ClassTableError(f"{path}, line {line_number}: expected 'ILSVRC2014_ID<TAB>WNID<TAB>words'")
                rows.append((int(fields[0]), fields[1], fields[2]))
    return _from_rows(rows, path)


def _read_meta_mat(path: str, stream: Optional[BinaryIO] = None) -> list[tuple[int, str, str]]:
    import scipy.io

    try:
        synsets = scipy.io.loadmat(stream if stream is not None else path, squeeze_me=True)["synsets"]
    except (KeyError, ValueError, OSError) as error:
        raise ClassTableError(f"{path}: not a devkit meta_clsloc.mat with a 'synsets' struct ({error})") from None
    rows = []
    for synset in synsets:
        children = synset["num_children"] if "num_children" in synset.dtype.names else 0
        if int(children) == 0:
            rows.append((int(synset["ILSVRC2014_ID"]), str(synset["WNID"]), str(synset["words"])))
    return rows


@functools.cache
def ilsvrc_classes() -> ClassTable:
    """The 1000 ILSVRC2012 classification classes, with their words and ILSVRC2014_IDs, as shipped."""
    return dataclasses.replace(read_meta_clsloc(ILSVRC_CLASSES_FILE), source=ILSVRC_CLASSES_NAME)


def check_ilsvrc_table(table: ClassTable) -> ClassTable:
    """Check a user's class table (``LOC_synset_mapping.txt``, ``meta_clsloc.mat``) against
    :func:`ilsvrc_classes`, and return the shipped table.

    The table must have the same 1000 WNIDs with the same words, and, from the devkit, the same
    ILSVRC2014_IDs; an error names the file and the first class (in WNID order) that differs.
    """
    known = ilsvrc_classes()
    every = sorted(set(table.wnids) | set(known.wnids))
    problem = next(filter(None, (_class_difference(table, known, wnid) for wnid in every)), "")
    if problem:
        raise ClassTableError(
            f"{table.source} does not match ImageNet's class table: {problem} "
            "(is the file complete, and the one that came with the download?)"
        )
    return known


def _class_difference(table: ClassTable, known: ClassTable, wnid: str) -> str:
    """What ``table`` says about class ``wnid`` that :func:`ilsvrc_classes` does not; '' if they agree."""
    if wnid not in known:
        return f"{wnid} is not an ILSVRC class"
    if wnid not in table:
        return f"it lacks {wnid} ({known.words_of(wnid)})"
    if table.ilsvrc2014_ids is not None:
        given, expected = (t.ilsvrc2014_ids[t.index(wnid)] for t in (table, known))
        if given != expected:
            return f"{wnid} has ILSVRC2014_ID {given}, not {expected}"
    if table.words_of(wnid) != known.words_of(wnid):
        return f"{wnid} is {table.words_of(wnid)!r}, not {known.words_of(wnid)!r}"
    return ""


def checked_ilsvrc_classes(path: Optional[str | os.PathLike] = None) -> ClassTable:
    """The shipped class table, once the user's class table file ``path`` (where given) agrees with it."""
    return ilsvrc_classes() if path is None else check_ilsvrc_table(read_class_table(path))


def write_synset_mapping(path: str | os.PathLike, table: ClassTable) -> None:
    """Write ``table`` as Kaggle's ``LOC_synset_mapping.txt``: ``wnid words`` per line."""
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.writelines(f"{wnid} {words}\n" for wnid, words in zip(table.wnids, table.words))


def read_class_table(path: str | os.PathLike) -> ClassTable:
    """Read either kind of class table, chosen by file name (``*.mat``/``*.tsv``: devkit; else Kaggle)."""
    name = os.path.basename(str(path))
    if name.endswith((".mat", ".tsv")):
        return read_meta_clsloc(path)
    return read_synset_mapping(path)


def select_classes(
    all_wnids: Sequence[str], num_classes: Optional[int], classes: Optional[Sequence[str]] = None
) -> list[str]:
    """The WNIDs a config uses, in sorted order.

    - ``classes`` given: exactly those;
    - ``num_classes`` None: all of them;
    - ``num_classes`` 5: the Matlab version's selection :data:`SEED_FIVE_CLASSES`;
    - any other N: N classes evenly spaced over the sorted WNIDs, indices ``round(i * M / N)`` for
      i = 0..N-1 with M = len(all_wnids), rounded half up (integer arithmetic, so it is exact).
    """
    ordered = sorted(all_wnids)
    if classes is not None:
        return sorted(classes)
    if num_classes is None:
        return ordered
    if not 1 <= num_classes <= len(ordered):
        raise ClassTableError(f"cannot take {num_classes} classes from a table of {len(ordered)}")
    if num_classes == len(SEED_FIVE_CLASSES):
        return sorted(SEED_FIVE_CLASSES)
    total = len(ordered)
    return [ordered[(2 * i * total + num_classes) // (2 * num_classes)] for i in range(num_classes)]
