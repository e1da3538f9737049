"""Per-rank entry point: ``torchrun --nproc_per_node N -m pixel_bench.train.pretrain_main
--args <output>/pretrain_args.json`` (or the DeepSpeed launcher with ``--module``).

``pixel-bench pretrain --num-processes N`` validates everything, writes the arguments file and
re-launches itself through this module; it can also be launched by hand.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pixel_bench.train.pretrain_main")
    parser.add_argument("--args", required=True, help="pretrain_args.json written by the CLI")
    parser.add_argument("--local_rank", "--local-rank", type=int, default=None,
                        help="set by the DeepSpeed launcher (LOCAL_RANK is read instead)")
    ns = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from .. import quiet  # each rank is a fresh interpreter: the CLI's filters, again

    quiet.quiet_third_party()
    quiet.hide_shard_bar()
    from ..errors import PixelBenchError
    from .pretrain import PretrainArgs, pretrain

    with open(ns.args, encoding="utf-8") as fh:
        args = PretrainArgs.from_dict(json.load(fh), source=ns.args)
    try:
        pretrain(args)
    except PixelBenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
