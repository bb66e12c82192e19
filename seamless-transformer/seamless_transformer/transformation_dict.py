"""The transformation dict: the complete, checksum-addressed description of a transformation.

It holds the language, the code checksum and each input's cell type and checksum (plus the cell
type of the result). Its canonical ``plain`` serialisation is the *transformation buffer*, whose
checksum is the transformation checksum: equal work has equal identity. A worker anywhere can
rebuild and run the transformation from this dict plus the buffers it names (fetched by checksum,
e.g. from a hashserver): see :func:`seamless_transformer.execute.execute_transformation`.

Layout::

    {"language": "python",
     "code": {"celltype": "text", "checksum": "<hex>"},
     "inputs": {"<name>": {"celltype": "mixed", "checksum": "<hex>"}, ...},
     "result_celltype": "mixed"}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from seamless import CELLTYPES, Buffer, Checksum

from .code import CODE_CELLTYPE
from .errors import TransformationError

LANGUAGES = ("python",)
INPUT_CELLTYPE = "mixed"
RESULT_CELLTYPE = "mixed"


@dataclass(frozen=True)
class CellRef:
    """A reference to a buffer: its checksum and how to read it."""

    celltype: str
    checksum: Checksum

    def to_plain(self) -> dict[str, str]:
        return {"celltype": self.celltype, "checksum": self.checksum.hex()}


@dataclass(frozen=True)
class TransformationSpec:
    """A validated transformation dict."""

    language: str
    code: CellRef
    inputs: dict[str, CellRef]
    result_celltype: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "code": self.code.to_plain(),
            "inputs": {name: ref.to_plain() for name, ref in self.inputs.items()},
            "result_celltype": self.result_celltype,
        }

    def buffer(self) -> Buffer:
        """The transformation buffer (canonical JSON of the dict)."""
        return Buffer.from_value(self.to_dict(), "plain")

    def checksums(self) -> list[Checksum]:
        """Every buffer a worker needs: the code first, then the inputs."""
        return [self.code.checksum, *(ref.checksum for ref in self.inputs.values())]


def build_spec(code_checksum: Checksum, inputs: Mapping[str, Checksum]) -> TransformationSpec:
    """The spec of a Python transformation whose inputs are ``mixed`` buffers."""
    return TransformationSpec(
        language="python",
        code=CellRef(CODE_CELLTYPE, code_checksum),
        inputs={name: CellRef(INPUT_CELLTYPE, cs) for name, cs in inputs.items()},
        result_celltype=RESULT_CELLTYPE,
    )


def _cellref(value: Any, where: str) -> CellRef:
    if not isinstance(value, Mapping) or set(value) != {"celltype", "checksum"}:
        raise TransformationError(
            f"Invalid transformation dict: {where} must be {{'celltype': ..., 'checksum': ...}}"
        )
    if value["celltype"] not in CELLTYPES:
        raise TransformationError(
            f"Invalid transformation dict: {where} has cell type {value['celltype']!r}; valid: "
            f"{', '.join(CELLTYPES)}"
        )
    try:
        return CellRef(value["celltype"], Checksum(value["checksum"]))
    except (TypeError, ValueError) as exc:
        raise TransformationError(f"Invalid transformation dict: {where}: {exc}") from exc


def parse_spec(data: Mapping[str, Any]) -> TransformationSpec:
    """Validate a transformation dict (e.g. received by a remote worker)."""
    expected = {"language", "code", "inputs", "result_celltype"}
    if not isinstance(data, Mapping) or set(data) != expected:
        keys = sorted(data) if isinstance(data, Mapping) else type(data).__name__
        raise TransformationError(
            f"Invalid transformation dict: keys {keys}, expected {sorted(expected)}"
        )
    if data["language"] not in LANGUAGES:
        raise TransformationError(
            f"Unsupported transformation language {data['language']!r}; supported: "
            f"{', '.join(LANGUAGES)}"
        )
    if data["result_celltype"] not in CELLTYPES:
        raise TransformationError(
            f"Invalid transformation dict: result_celltype {data['result_celltype']!r}; valid: "
            f"{', '.join(CELLTYPES)}"
        )
    if not isinstance(data["inputs"], Mapping):
        raise TransformationError("Invalid transformation dict: 'inputs' must be a dict")
    return TransformationSpec(
        language=data["language"],
        code=_cellref(data["code"], "'code'"),
        inputs={str(k): _cellref(v, f"input {k!r}") for k, v in data["inputs"].items()},
        result_celltype=data["result_celltype"],
    )
