"""The jobserver's HTTP protocol, shared by `JobserverClient` and the seamless-jobserver server.

``POST /run-transformation`` (``GET`` with a body is accepted too) with the JSON body::

    {"transformation_dict": {...}, "tf_checksum": "<hex>", "location": ["file.py", 12],
     "buffers": {"<hex>": "<base64>", ...}, "inline_result": true, "lookup": false}

``location`` (optional) maps traceback lines to the caller's source file. ``buffers``
(optional) carries some of the code and input buffers the dict names, so that the jobserver
need not fetch them from the hashserver (it stores them there afterwards, in the background);
each is verified against its checksum. ``lookup`` (optional, default true): false when the
client has just looked the result up in the jobserver's database itself and found none; the
jobserver then runs the transformation without asking the database again (a result it is still
storing is used all the same). Answers:

* 200, text: the result checksum (hex); or, with ``"inline_result": true``, JSON
  ``{"checksum": "<hex>", "buffer": "<base64>" or null}``: the result itself when the jobserver
  computed it (``null`` for a cached result: it is on the hashserver). The jobserver answers as
  soon as the result is known; storing it in the hashserver and database completes in the
  background (a later request to that jobserver sees it at once).
* 400, JSON ``{"message": ...}``: the request is malformed, or a buffer it names is missing.
* 500, JSON ``{"message": ..., "traceback": ...}``: the transformation raised (or its result
  could not be stored); ``traceback`` is the transformation's own traceback.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any, Mapping

from seamless import Buffer, Checksum

RUN_PATH = "run-transformation"
HEALTHCHECK_PATH = "healthcheck"


@dataclass
class JobRequest:
    """A parsed request: the transformation dict, its checksum and location if given, the
    buffers sent with it, and whether the answer may carry the result."""

    transformation: dict[str, Any]
    checksum: Checksum | None = None
    location: tuple[str, int] | None = None
    buffers: dict[Checksum, Buffer] = field(default_factory=dict)
    inline_result: bool = False
    lookup: bool = True


def encode_buffer(buffer: Buffer) -> str:
    return base64.b64encode(buffer.content).decode("ascii")


def make_request(transformation: Mapping[str, Any], checksum: Checksum, location: tuple[str, int] | None,
                 buffers: Mapping[Checksum, Buffer] | None = None, inline_result: bool = False,
                 lookup: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {"transformation_dict": dict(transformation), "tf_checksum": Checksum(checksum).hex()}
    if location is not None:
        body["location"] = [str(location[0]), int(location[1])]
    if buffers:
        body["buffers"] = {Checksum(cs).hex(): encode_buffer(buffer) for cs, buffer in buffers.items()}
    if inline_result:
        body["inline_result"] = True
    if not lookup:
        body["lookup"] = False
    return body


def _decode_buffers(raw: Any) -> dict[Checksum, Buffer]:
    if not isinstance(raw, Mapping):
        raise ValueError("'buffers' must be an object of {checksum hex: base64 bytes}")
    buffers = {}
    for hex_, encoded in raw.items():
        try:
            buffer = Buffer(base64.b64decode(encoded, validate=True))
        except (TypeError, binascii.Error):
            raise ValueError(f"buffer {str(hex_)[:64]!r} is not valid base64") from None
        if buffer.checksum != Checksum(hex_):
            raise ValueError(f"buffer {hex_} was sent with bytes whose checksum is {buffer.checksum.hex()}")
        buffers[buffer.checksum] = buffer
    return buffers


def parse_request(body: Any) -> JobRequest:
    """The `JobRequest` of a request body; ValueError with a message that says what a valid body looks like."""
    if not isinstance(body, Mapping) or not isinstance(body.get("transformation_dict"), Mapping):
        raise ValueError(
            "the body must be a JSON object with 'transformation_dict' (an object), optional "
            "'tf_checksum' (64 hex characters), optional 'location' ([filename, line]), optional "
            "'buffers' ({checksum: base64}), optional 'inline_result' (true/false) and optional 'lookup' "
            "(true/false)"
        )
    checksum = body.get("tf_checksum")
    tf_checksum = Checksum(checksum) if checksum is not None else None
    location = body.get("location")
    if location is not None:
        if not (isinstance(location, list) and len(location) == 2 and isinstance(location[0], str) and isinstance(location[1], int)):
            raise ValueError(f"'location' must be [filename, line], not {location!r}")
        location = (location[0], location[1])
    flags = {}
    for name, default in (("inline_result", False), ("lookup", True)):
        flags[name] = body.get(name, default)
        if not isinstance(flags[name], bool):
            raise ValueError(f"'{name}' must be true or false, not {flags[name]!r}")
    buffers = _decode_buffers(body["buffers"]) if body.get("buffers") is not None else {}
    return JobRequest(dict(body["transformation_dict"]), tf_checksum, location, buffers, **flags)


def result_body(result: Buffer | Checksum) -> dict[str, Any]:
    """The JSON answer to an ``inline_result`` request."""
    if isinstance(result, Buffer):
        return {"checksum": result.checksum.hex(), "buffer": encode_buffer(result)}
    return {"checksum": Checksum(result).hex(), "buffer": None}


def parse_result(answer: Any) -> Buffer | Checksum:
    """The result in an ``inline_result`` answer (ValueError if it is not one, or does not match)."""
    if not isinstance(answer, Mapping) or not isinstance(answer.get("checksum"), str):
        raise ValueError(f"not a result answer: {str(answer)[:100]!r}")
    checksum = Checksum(answer["checksum"])
    if answer.get("buffer") is None:
        return checksum
    buffer = _decode_buffers({checksum.hex(): answer["buffer"]})[checksum]
    return buffer


def error_body(message: str, traceback: str | None = None) -> dict[str, Any]:
    return {"message": message, "traceback": traceback}
