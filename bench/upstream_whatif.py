"""What would a change in pinned bellows buy? Stock bellows and a what-if, alternated in one run.

    .venv/bin/python bench/upstream_whatif.py                          # 200 kB, 3 pairs, every what-if
    .venv/bin/python bench/upstream_whatif.py --sizes 750000 --pairs 5 --whatif cached-extended-timeout

bellows and zigpy are pinned: the rig never patches them (issue #8). This bench is the evidence for
proposing a change upstream. Each transfer runs `bench/ota_throughput.py --json` in a fresh process;
the what-if runs wrap one bellows function in that process only, before the bench imports the rig.
Stock and what-if runs alternate (this VM's speed drifts by a third from minute to minute, so only
pairs taken side by side mean anything), and the table gives each pair's ratio and the median ratio.

What-ifs:
  cached-extended-timeout  bellows' send_packet calls set_extended_timeout before every unicast, and
                           that asks the stick (getExtendedTimeout, one EZSP round trip) each time. The
                           what-if remembers the flag it last set per NWK/IEEE and skips the question
                           when nothing changed: one EZSP round trip fewer per OTA block.
  c-level-ash              bellows' ASH stuffs, unstuffs and randomises frames in per-byte Python loops;
                           the what-if uses the same regex/big-integer forms as the emulator's ASH codec.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
WHATIFS = ("cached-extended-timeout", "c-level-ash")


def _apply(whatif: str) -> None:
    """Wrap the bellows function the what-if changes (in this process only)."""
    if whatif == "cached-extended-timeout":
        import bellows.ezsp.v4 as v4  # noqa: PLC0415

        stock = v4.EZSPv4.set_extended_timeout

        async def remembered(self: Any, nwk: Any, ieee: Any, extended_timeout: bool = True) -> None:
            last = self.__dict__.setdefault("_whatif_extended_timeout", {})
            if last.get(int(nwk)) == (ieee, extended_timeout):
                return
            await stock(self, nwk, ieee, extended_timeout)
            last[int(nwk)] = (ieee, extended_timeout)

        v4.EZSPv4.set_extended_timeout = remembered
    elif whatif == "c-level-ash":
        import bellows.ash as ash  # noqa: PLC0415

        from rig.emu import ash_codec  # noqa: PLC0415 - the same framing rules, without per-byte loops

        ash.DataFrame._randomize = staticmethod(ash_codec.randomize)
        ash.AshProtocol._stuff_bytes = staticmethod(ash_codec.stuff)
        ash.AshProtocol._unstuff_bytes = staticmethod(lambda data: bytearray(ash_codec.unstuff(bytes(data))))
    else:
        raise SystemExit(f"--whatif: found {whatif!r}, expected one of {', '.join(WHATIFS)}")


def _child(whatif: str, argv: list[str]) -> int:
    for one in whatif.split("+") if whatif != "stock" else ():
        _apply(one)
    sys.path.insert(0, str(BENCH))
    import ota_throughput  # noqa: PLC0415

    return ota_throughput.main(argv)


def _transfer(whatif: str, size: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", whatif, "--sizes", str(size), "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not rows:
        raise SystemExit(f"{whatif} run failed (exit {out.returncode}):\n{out.stderr[-2000:]}")
    return rows[0]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return _child(argv[1], argv[2:])
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="200000", help="comma-separated image sizes (default 200000)")
    p.add_argument("--pairs", type=int, default=3, help="stock/what-if pairs per size (default 3)")
    p.add_argument("--whatif", action="append", choices=WHATIFS,
                   help="which what-if (repeatable; default: each one, then all together)")
    args = p.parse_args(argv)
    chosen = args.whatif or [*WHATIFS, "+".join(WHATIFS)]
    print(f"{'size':>7}  {'what-if':<40} {'pair':>4}  {'stock s':>8}  {'what-if s':>9}  {'ratio':>6}")
    for size in (int(s) for s in args.sizes.split(",")):
        for whatif in chosen:
            ratios = []
            for n in range(1, args.pairs + 1):
                stock, changed = _transfer("stock", size), _transfer(whatif, size)
                ratios.append(stock["seconds"] / changed["seconds"])
                print(f"{size:>7}  {whatif:<40} {n:>4}  {stock['seconds']:>8.2f}  {changed['seconds']:>9.2f}"
                      f"  {ratios[-1]:>6.2f}", flush=True)
            print(f"{size:>7}  {whatif:<40} {'median speed-up':>30}  {statistics.median(ratios):>6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
