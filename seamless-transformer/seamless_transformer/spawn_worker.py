"""A spawn-pool worker process: ``python -m seamless_transformer.spawn_worker REQ_FD REPLY_FD``.

It reads length-prefixed pickled requests ``(transformation dict, {checksum hex: bytes},
location, tf checksum hex)`` from REQ_FD and writes ``(ok, result bytes | message, traceback)``
to REPLY_FD, until REQ_FD is closed. The transformation code is rebuilt from its source, so the
parent's ``__main__`` is never re-imported (unlike multiprocessing's spawn start method).
stdout and stderr are the parent's, so the code's prints show up as usual.
"""

from __future__ import annotations

import os
import sys

from seamless import Buffer, Checksum
from seamless.worker_role import mark_as_worker

from .code import CodeLocation
from .errors import TransformationError
from .execute import execute_spec
from .pipe_protocol import read_frame, write_frame
from .transformation_dict import parse_spec


def _handle(request: tuple) -> tuple[bool, bytes | str, str | None]:
    tf_dict, buffers, location, tf_hex = request

    def get_buffer(checksum: Checksum) -> Buffer:
        return Buffer(buffers[checksum.hex()], checksum)

    try:
        spec = parse_spec(tf_dict)
        loc = CodeLocation(*location) if location else None
        result = execute_spec(spec, get_buffer, loc, Checksum(tf_hex))
    except TransformationError as exc:
        return False, exc.message, exc.traceback
    return True, result.content, None


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        sys.stderr.write("usage: python -m seamless_transformer.spawn_worker REQ_FD REPLY_FD\n")
        return 2
    mark_as_worker()
    with os.fdopen(int(args[0]), "rb") as requests, os.fdopen(int(args[1]), "wb") as replies:
        while True:
            try:
                request = read_frame(requests)
            except EOFError:
                return 0
            write_frame(replies, _handle(request))


if __name__ == "__main__":
    sys.exit(main())
