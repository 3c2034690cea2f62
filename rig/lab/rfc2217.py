"""Open ser2net's RFC 2217 ports (what a labgrid exporter serves) with serialx, which bellows uses.

serialx 1.15.1 opens `rfc2217://host:port` but, after the COM-PORT-OPTION handshake, waits for the
server to echo SET-LINESTATE-MASK and SET-MODEMSTATE-MASK (codes 110/111). ser2net 4.x (gensio)
answers those two with the current NOTIFY-LINESTATE / NOTIFY-MODEMSTATE (106/107) instead, so
serialx times out before the first byte. Every other setting (baud rate, data size, parity, stop
size, flow control) is acknowledged as serialx expects. `install()` registers, through serialx's
own URI-handler registry, a transport for `rfc2217://` that sends the two masks without waiting for
an echo; bellows, zigpy and serialx themselves stay unchanged, and a server that does echo the masks
works as before (the echo is simply not waited for).
"""

from __future__ import annotations

import logging

from serialx.common import register_uri_handler
from serialx.platforms.serial_rfc2217 import RFC2217Serial, RFC2217SerialTransport
from serialx.platforms.serial_rfc2217.types import Rfc2217CmdId, Rfc2217Command

LOGGER = logging.getLogger(__name__)

# The masks only ask the server to report line/modem state changes; the rig needs no answer to them.
_UNACKED_BY_SER2NET = frozenset({Rfc2217CmdId.SET_LINESTATE_MASK, Rfc2217CmdId.SET_MODEMSTATE_MASK})
UNIQUE_SCHEME = "rfc2217-ser2net://"
_installed = False


class Ser2netRfc2217Transport(RFC2217SerialTransport):
    async def _send_and_wait(self, cmd: Rfc2217Command) -> Rfc2217Command:
        if cmd.CMD_ID in _UNACKED_BY_SER2NET:
            self._send_command(cmd)
            LOGGER.debug("sent %s without waiting for an echo (ser2net 4 answers with a notify)",
                         type(cmd).__name__)
            return cmd
        return await super()._send_and_wait(cmd)


def install() -> None:
    """Make `rfc2217://` URLs (in this process) open through the ser2net-tolerant transport."""
    global _installed
    if _installed:
        return
    register_uri_handler(scheme="rfc2217://", unique_scheme=UNIQUE_SCHEME, sync_cls=RFC2217Serial,
                         async_transport_cls=Ser2netRfc2217Transport, weight=10,
                         connect_kwargs=frozenset({"connect_timeout", "receive_buffer_size"}))
    _installed = True
