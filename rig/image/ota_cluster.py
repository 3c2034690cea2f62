"""The OTA Upgrade cluster's numbers (ZCL chapter 11, 0x0019), written once for every room: command ids,
the ZCL status codes the cluster uses, and the wildcards. The file format and the cluster are one
specification; this leaf is where the emulator, the hub and the report all read them."""

from __future__ import annotations

import enum

OTA_CLUSTER = 0x0019
SE_PROFILE = 0x0109
DEFAULT_RESPONSE = 0x0B  # ZCL general command id

UPGRADE_TIME_WAIT = 0xFFFFFFFF  # Upgrade End Response: wait for a later "upgrade now"
WILDCARD_MANUFACTURER = 0xFFFF
WILDCARD_IMAGE_TYPE = 0xFFFF
WILDCARD_VERSION = 0xFFFFFFFF


class Status(enum.IntEnum):
    """The ZCL statuses the OTA cluster's commands and Default Responses carry."""

    SUCCESS = 0x00
    FAILURE = 0x01
    NOT_AUTHORIZED = 0x7E
    MALFORMED_COMMAND = 0x80
    UNSUP_CLUSTER_COMMAND = 0x81
    UNSUP_MANUF_CLUSTER_COMMAND = 0x83
    ABORT = 0x95
    INVALID_IMAGE = 0x96
    WAIT_FOR_DATA = 0x97
    NO_IMAGE_AVAILABLE = 0x98
    REQUIRE_MORE_IMAGE = 0x99


class Cmd(enum.IntEnum):
    """Command ids; client -> server and server -> client share one numbering."""

    IMAGE_NOTIFY = 0x00
    QUERY_NEXT_IMAGE = 0x01
    QUERY_NEXT_IMAGE_RSP = 0x02
    IMAGE_BLOCK = 0x03
    IMAGE_PAGE = 0x04
    IMAGE_BLOCK_RSP = 0x05
    UPGRADE_END = 0x06
    UPGRADE_END_RSP = 0x07
    QUERY_SPECIFIC_FILE = 0x08
    QUERY_SPECIFIC_FILE_RSP = 0x09


SERVER_TO_CLIENT = frozenset({Cmd.IMAGE_NOTIFY, Cmd.QUERY_NEXT_IMAGE_RSP, Cmd.IMAGE_BLOCK_RSP,
                              Cmd.UPGRADE_END_RSP, Cmd.QUERY_SPECIFIC_FILE_RSP})


def status_name(value: int) -> str | None:
    """0x96 -> 'INVALID_IMAGE'; None for a status the cluster does not use."""
    try:
        return Status(value).name
    except ValueError:
        return None
