"""`rig run`'s exit codes, in one leaf module: the CLI returns them, and its --help and the README's table
are generated from EXIT_CODES (rig.plan.reference), so the three cannot drift apart."""

from __future__ import annotations

EXIT_USAGE = 2  # arguments, bench file or outputs are wrong: nothing ran
EXIT_RADIO = 3  # the stick did not answer: nothing ran
EXIT_NOTHING_RAN = 5  # every plan was skipped (the bench lacks what they need) or none was found
EXIT_INTERNAL = 70  # a bug in the rig itself (sysexits EX_SOFTWARE); pytest printed the trace

EXIT_CODES = [
    (0, "every plan that ran passed (plans the bench cannot run are listed as skipped, with the reason)"),
    (1, "a plan failed, errored (the rig or the radio failed mid-plan) or did not load"),
    (EXIT_USAGE, "nothing ran: bad arguments, a missing plan path, a bench-file error, an output that cannot "
                 "be written, or a profile or image a plan names is missing or broken"),
    (EXIT_RADIO, "the stick did not answer (worded as `rig doctor` words it, with the port): before the plans "
                 "(nothing ran), or when a plan started (that plan is an ERROR, the rest are not run)"),
    (EXIT_NOTHING_RAN, "no plan ran: none found, or the bench cannot run any of them (the reasons are printed)"),
    (EXIT_INTERNAL, "a bug in the rig (pytest printed the trace; please report it)"),
    (130, "stopped by Ctrl-C: the plan under way is ABORTED; its record, the summary and the report are written"),
    (143, "stopped by SIGTERM: as for Ctrl-C"),
]


def exit_codes_text() -> str:
    return "exit codes:\n" + "\n".join(f"  {code:<4} {text}" for code, text in EXIT_CODES)
