"""`python3 -m foundry.pki init ROOT`: the foundation's PKI step (run once per foundation)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from foundry.pki import bundle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="foundry.pki", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init", help="create the CAs and certificates once; write each job's files")
    init.add_argument("root", type=Path, help="directory holding pki/ and one directory per job")
    init.add_argument("--key-size", type=int, default=2048, choices=(2048, 3072, 4096))
    args = parser.parse_args(argv)
    secrets, created = bundle.init(args.root, key_size=args.key_size)
    verb = "created" if created else "kept existing"
    print(f"pki: {verb} CAs in {args.root / 'pki'}; wrote files for {', '.join(bundle.JOB_FILES)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
