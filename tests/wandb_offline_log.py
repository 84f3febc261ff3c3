"""Read the records of an offline wandb run file (``run-<id>.wandb``) without uploading it.

The file is a 7-byte header (``:W&B`` + magic + version) followed by LevelDB-log framing: 32 KiB blocks of
chunks, each ``crc32c (4) | length (2, little endian) | type (1: full, 2: first, 3: middle, 4: last)``, that
carry serialised ``wandb_internal_pb2.Record`` protobufs. Used by the tests to check what a run logged.
"""

from __future__ import annotations

import struct
from pathlib import Path

BLOCK = 32 * 1024
HEADER = 7


def records(path: Path):
    from wandb.proto import wandb_internal_pb2 as pb

    data = Path(path).read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a wandb run file"
    pos, pending = HEADER, b""
    while pos + HEADER <= len(data):
        room = BLOCK - pos % BLOCK
        if room < HEADER:  # block trailer padding
            pos += room
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + HEADER])
        chunk = data[pos + HEADER : pos + HEADER + length]
        pos += HEADER + length
        if kind == 0:  # zero padding at the end of a block
            continue
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            record = pb.Record()
            record.ParseFromString(pending)
            yield record
            pending = b""
