"""The personalib CLI on a disk that fills up part way (fault injection at the write call).

    python -m tests.full_disk PARTS SCOPE personalib-arguments...

runs `python -m personalib personalib-arguments...` in this process after replacing `os.fsync`,
which every store write calls before its file is renamed into place (`personalib.store.parts`):
once PARTS generation parts have been written, the fsync of every further part (SCOPE `parts`), or
of every further store file, manifests included (SCOPE `all`), fails with ENOSPC ("No space left on
device"), as a full disk makes it fail. Files outside a store are not affected.
"""

from __future__ import annotations

import errno
import os
import sys

from personalib.__main__ import main

TEMP = ".tmp-"  # personalib.store.parts.TEMP_PREFIX: a store file being written


def install(parts: int, scope: str) -> None:
    """Replace `os.fsync` as the module doc says."""
    real_fsync = os.fsync
    written = {"parts": 0}

    def fsync(fd: int) -> None:
        try:
            name = os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            name = ""
        is_part = name.startswith(f"{TEMP}part-")
        full = written["parts"] >= parts
        if full and (is_part or (scope == "all" and name.startswith(TEMP))):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)
        written["parts"] += is_part

    os.fsync = fsync


if __name__ == "__main__":
    install(int(sys.argv[1]), sys.argv[2])
    sys.exit(main(sys.argv[3:]))
