"""GBCS alert payloads against the RTDS vectors."""

from __future__ import annotations

import calendar

from rig.backend.gbcs import activation_alert, ccs08_transfer_alert


def test_gbcs_payloads_match_the_rtds_vectors():
    t = calendar.timegm((2015, 1, 1, 0, 0, 0))
    ccs08 = ccs08_transfer_alert(0x8F8A, t, "00:db:12:34:56:78:90:a4", 0x0123ABCD, 0)
    assert ccs08.hex().upper() == ("3029020300" "8F8A180F" + b"20150101000000Z".hex().upper()
                                   + "040800DB1234567890A4" "04040123ABCD" "020100")
    act = activation_alert(0x8F8B, t, 0x1234ABCD, 0)
    assert act.hex().upper() == ("301F020300" "8F8B180F" + b"20150101000000Z".hex().upper() + "04041234ABCD" "020100")
