"""The jobserver's HTTP protocol, shared by `JobserverClient` and the seamless-jobserver server.

``POST /run-transformation`` (``GET`` with a body is accepted too) with the JSON body::

    {"transformation_dict": {...}, "tf_checksum": "<hex>", "location": ["file.py", 12]}

``location`` (optional) maps traceback lines to the caller's source file. Answers:

* 200, text: the result checksum (hex); the result buffer is on the hashserver and the
  transformation → result entry in the database.
* 400, JSON ``{"message": ...}``: the request is malformed, or a buffer it names is missing.
* 500, JSON ``{"message": ..., "traceback": ...}``: the transformation raised (or its result
  could not be stored); ``traceback`` is the transformation's own traceback.
"""

from __future__ import annotations

from typing import Any, Mapping

from seamless import Checksum

RUN_PATH = "run-transformation"
HEALTHCHECK_PATH = "healthcheck"


def make_request(transformation: Mapping[str, Any], checksum: Checksum, location: tuple[str, int] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"transformation_dict": dict(transformation), "tf_checksum": Checksum(checksum).hex()}
    if location is not None:
        body["location"] = [str(location[0]), int(location[1])]
    return body


def parse_request(body: Any) -> tuple[dict[str, Any], Checksum | None, tuple[str, int] | None]:
    """Split a request body into (transformation dict, checksum or None, location or None).

    Raises ValueError with a message that says what a valid body looks like.
    """
    if not isinstance(body, Mapping) or not isinstance(body.get("transformation_dict"), Mapping):
        raise ValueError(
            "the body must be a JSON object with 'transformation_dict' (an object), optional "
            "'tf_checksum' (64 hex characters) and optional 'location' ([filename, line])"
        )
    checksum = body.get("tf_checksum")
    tf_checksum = Checksum(checksum) if checksum is not None else None
    location = body.get("location")
    if location is not None:
        if not (isinstance(location, list) and len(location) == 2 and isinstance(location[0], str) and isinstance(location[1], int)):
            raise ValueError(f"'location' must be [filename, line], not {location!r}")
        location = (location[0], location[1])
    return dict(body["transformation_dict"]), tf_checksum, location


def error_body(message: str, traceback: str | None = None) -> dict[str, Any]:
    return {"message": message, "traceback": traceback}
