"""Response codes and alert codes the back end uses, in one configurable place.

Confirmed by the sources (domain.md): N63 with Response Code I0 (SECMP0024 legal text); device alert
codes 0x8F8A / 0x8F89 / 0x8F8B and the CCS08 ResponseCode values 0-3 (RTDS vectors); N60/N61 as the
ESME/GSME "delivered / failed to be delivered" DCC alerts (SEC news, Nov 2021).

NOT confirmed (domain.md §5): the DUIS response codes for an in-progress rejection, "too busy", CPL
mismatch or an unauthorised sender; the DCC alert codes for PPMID/HCALCS transferred/discarded; the
GBCS message code of the 0x8F8B alert (0x012B per RTDS vs 0x0129 per gbcs-parser). For those the rig
uses placeholders: error codes in an "E9xx" range that no DUIS text defines, and alert codes that
default to the ESME/GSME ones. Change them per bench through `Codes(...)`.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Codes:
    # --- service responses ---------------------------------------------------------------------
    success: str = "I0"  # a synchronous answer (SR 11.2 from the register, CS06 accepted)
    acknowledged: str = "I99"  # request accepted, outcome follows as alerts
    # placeholders (unconfirmed): rig-defined, deliberately outside any known DUIS range
    unknown_user: str = "E901"
    not_authorised: str = "E902"
    invalid_request: str = "E903"  # bad base64, malformed OTA header, version mismatch, too large
    not_on_cpl: str = "E904"
    in_progress: str = "E905"  # every listed device already In Progress
    no_valid_device: str = "E906"
    nothing_to_activate: str = "E907"
    notice_period: str = "E908"  # CS06 planned with < 7 days' notice and no security flag
    bulk_approval_required: str = "E909"
    bad_signature: str = "E910"  # a GB image whose manufacturer signature does not verify
    # --- DCC alerts ----------------------------------------------------------------------------
    ch_activation: str = "N63"  # confirmed (SECMP0024)
    ch_activation_response_code: str = "I0"  # confirmed (Table 42)
    delivered_to_ch: str = "N60"  # confirmed for ESME/GSME; used for PPMID/HCALCS until DUIS says
    delivery_failed: str = "N61"  # idem (also used for "gave up after long retry")
    firmware_changed: str = "RIG-FWCHG"  # local/unexplained change (geo option 2 equivalent), rig-only
    version_regression: str = "RIG-FWREG"  # R-VER-03, rig-only
    # --- device alerts (GBCS) -----------------------------------------------------------------
    transfer_success: int = 0x8F8A
    transfer_failure: int = 0x8F89
    activation_result: int = 0x8F8B
    ccs08_message_code: int = 0x0128
    activation_message_code: int = 0x012B  # RTDS vector; gbcs-parser says 0x0129


DEFAULT_CODES = Codes()
