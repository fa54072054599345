"""Keep only one allowed sha256 for a package in a pip-compile lock file.

Usage: pin_model_hash.py LOCKFILE PACKAGE SHA256
"""

from __future__ import annotations

import re
import sys
from pathlib import Path


def pin(lock: str, package: str, sha256: str) -> str:
    """Return `lock` with every hash of `package` but `sha256` removed."""
    out: list[str] = []
    inside = False
    for line in lock.splitlines():
        if re.match(rf"^{re.escape(package)}==", line):
            inside = True
        elif inside and not line.startswith(" "):
            inside = False
        if inside and "--hash=sha256:" in line and sha256 not in line:
            continue
        out.append(line)
    text = "\n".join(out) + "\n"
    # The last kept hash line must not end with a continuation backslash.
    return re.sub(rf"(--hash=sha256:{sha256}) \\\n(\s+#)", r"\1\n\2", text)


def main() -> None:
    path, package, sha256 = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    text = pin(path.read_text(), package, sha256)
    if sha256 not in text:
        raise SystemExit(f"{package}: hash {sha256} not found in {path}")
    path.write_text(text)


if __name__ == "__main__":
    main()
