"""zigbee-herdsman's EZSP frames, read out of its ember adapter (dist/adapter/ember/ezsp/*.js).

herdsman has no frame tables: each `ezspXxx` method writes its request into a buffalo and reads the
response back, and `callbackDispatch` reads each callback. This reads those methods' write/read
calls in order (expanding the buffalo's struct helpers into primitives) and evaluates
`this.version` conditions for one protocol version, giving a wire layout per frame id.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.interop.wire_layout import Layout

PRIMITIVE = {
    "UInt8": ("int8",), "Int8": ("int8",), "UInt16": ("int16",), "Int16": ("int16",),
    "UInt32": ("int32",), "Int32": ("int32",), "IeeeAddr": ("bytes8",), "ListUInt8": ("bytes*",),
    "Buffer": ("bytes*",), "BufferCopy": ("bytes*",), "ListUInt16": ("int16*",),
    "EmberKeyData": ("bytes16",), "Payload": ("int8", "bytes*"),
}
_CALL = re.compile(r"(?:this\.buffalo|this\.callbackBuffalo|sendBuffalo|this)\.(write|read)([A-Za-z0-9]+)\(")
_VERSION_IF = re.compile(r"if \(this\.version\s*(<|>=|>|<=|===)\s*(0x[0-9a-fA-F]+|\d+)\)")
_OPS = {"<": int.__lt__, ">=": int.__ge__, ">": int.__gt__, "<=": int.__le__, "===": int.__eq__}


def _methods(source: str, indent: str = "    ") -> dict[str, list[str]]:
    """Class methods at `indent`: name -> body lines (up to the closing brace at that indent)."""
    out: dict[str, list[str]] = {}
    lines = source.splitlines()
    head = re.compile(rf"^{indent}(?:static )?(?:async )?([A-Za-z0-9_]+)\(.*\) \{{$")
    i = 0
    while i < len(lines):
        match = head.match(lines[i])
        if match:
            body = []
            i += 1
            while i < len(lines) and lines[i] != f"{indent}}}":
                body.append(lines[i])
                i += 1
            out.setdefault(match.group(1), body)
        i += 1
    return out


class HerdsmanFrames:
    def __init__(self, package: Path) -> None:
        self.ended = ""
        ezsp_dir = package / "dist" / "adapter" / "ember" / "ezsp"
        self.buffalo = _methods((ezsp_dir / "buffalo.js").read_text())
        source = (ezsp_dir / "ezsp.js").read_text()
        self.methods = _methods(source)
        enums = (ezsp_dir / "enums.js").read_text()
        self.frame_ids = {name: int(value, 0) for name, value in
                          re.findall(r'EzspFrameID\[EzspFrameID\["([A-Z0-9_]+)"\] = (\w+)\]', enums)}
        self.version = package.joinpath("package.json").read_text().split('"version": "')[1].split('"')[0]

    # -- one method body -> tokens ---------------------------------------------------------------------
    def _expand(self, direction: str, name: str, version: int) -> Layout:
        if name == "Status":
            return ("int8",) if version < 14 else ("int32",)
        if name in PRIMITIVE:
            return PRIMITIVE[name]
        body = self.buffalo.get(f"{direction}{name}")
        if body is None:
            return (f"?{direction}{name}",)
        return self._walk(body, direction, version)

    def _walk(self, lines: list[str], direction: str, version: int) -> Layout:
        self.ended = ""
        tokens: list[str] = []
        stack: list[tuple[str, bool]] = []  # (kind, active) per open block
        closed: tuple[str, bool] | None = None  # the block a lone "}" just closed (for a following else)
        for raw in lines:
            line = raw.split("//", 1)[0].strip()  # commented-out calls are not on the wire
            if line.startswith("}"):
                closed = stack.pop() if stack else None
                line = line[1:].strip()
                if not line.startswith("else"):
                    continue
            if line.startswith("else"):
                kind, was = closed if closed else ("block", True)
                match = _VERSION_IF.search(line)
                if kind == "version" and match:  # else if (this.version ...)
                    stack.append(("version", not was and _OPS[match.group(1)](version, int(match.group(2), 0))))
                else:
                    stack.append((kind, not was if kind == "version" else True))
                closed = None
                continue
            closed = None
            active = all(a for _, a in stack)
            in_loop = any(k == "loop" for k, _ in stack)
            if active and line.startswith(("return", "throw")) and any(k == "version" for k, _ in stack):
                self.ended = line.split()[0]  # this version leaves the method here
                break
            if active:
                for d, name in _CALL.findall(line):
                    if d != direction or name in ("Command", "CommandByte"):
                        continue
                    for tok in self._expand(d, name, version):
                        tokens.append(tok + "*" if in_loop and not tok.endswith("*") else tok)
            if line.endswith("{"):
                match = _VERSION_IF.search(line)
                if match:
                    stack.append(("version", _OPS[match.group(1)](version, int(match.group(2), 0))))
                elif line.startswith(("for (", "for(", "while")):
                    stack.append(("loop", True))
                else:
                    stack.append(("block", True))
        return tuple(tokens)

    # -- the frames -------------------------------------------------------------------------------------
    def commands(self, version: int) -> dict[int, tuple[str, Layout, Layout]]:
        """frame id -> (herdsman method, request layout, response layout)."""
        out: dict[int, tuple[str, Layout, Layout]] = {}
        for method, body in self.methods.items():
            text = "\n".join(body)
            match = re.search(r"startCommand\(enums_2\.EzspFrameID\.([A-Z0-9_]+)\)", text)
            if not method.startswith("ezsp") or not match or "sendCommand(sendBuffalo)" not in text:
                continue
            split = next(i for i, line in enumerate(body) if "sendCommand(sendBuffalo)" in line)
            request = self._walk(body[:split], "write", version)
            if self.ended:  # e.g. `if (this.version < 0x0e) throw ...`: not sent in this version
                continue
            response = self._walk(body[split:], "read", version)
            out[self.frame_ids[match.group(1)]] = (method, request, response)
        return out

    def callbacks(self, version: int) -> dict[int, tuple[str, Layout]]:
        """frame id -> (herdsman handler, callback layout), from callbackDispatch's switch."""
        body = self.methods["callbackDispatch"]
        out: dict[int, tuple[str, Layout]] = {}
        case = re.compile(r"case enums_2\.EzspFrameID\.([A-Z0-9_]+): \{")
        i = 0
        while i < len(body):
            match = case.search(body[i])
            if not match:
                i += 1
                continue
            block = []
            i += 1
            while i < len(body) and "break;" not in body[i]:
                block.append(body[i])
                i += 1
            out[self.frame_ids[match.group(1)]] = (match.group(1), self._walk(block, "read", version))
        return out


def adapter_frames(package: Path) -> dict[int, tuple[str, set[str]]]:
    """Every frame herdsman's ember adapter can send: frame id -> (herdsman's frame name, callers).

    Follows each `ezsp.xxx(` call in dist/adapter/ember/adapter/*.js (commented-out calls are not
    calls) through ezsp.js's own methods (send -> ezspSendUnicast, ezspGetEndpointFlags ->
    ezspGetExtendedValue) to the methods that start frames. Callers are `file:function`.
    """
    frames = HerdsmanFrames(package)
    starts: dict[str, str] = {}
    for method, body in frames.methods.items():
        match = re.search(r"startCommand\(enums_2\.EzspFrameID\.([A-Z0-9_]+)\)", "\n".join(body))
        if match:
            starts[method] = match.group(1)

    def resolve(method: str, seen: tuple[str, ...] = ()) -> list[str]:
        if method in starts:
            return [starts[method]]
        body = "\n".join(line.split("//", 1)[0] for line in frames.methods.get(method, []))
        out: list[str] = []
        for callee in re.findall(r"this\.([A-Za-z0-9]+)\(", body):
            if callee in frames.methods and callee not in seen and callee != method:
                out += resolve(callee, (*seen, method))
        return out

    found: dict[int, tuple[str, set[str]]] = {}
    adapter_dir = package / "dist" / "adapter" / "ember" / "adapter"
    for path in sorted(adapter_dir.glob("*.js")):
        for caller, body in _methods(path.read_text()).items():
            code = "\n".join(line.split("//", 1)[0] for line in body)
            for method in set(re.findall(r"ezsp\.([A-Za-z0-9]+)\(", code)):
                for name in resolve(method):
                    entry = found.setdefault(frames.frame_ids[name], (name, set()))
                    entry[1].add(f"{path.name}:{caller}")
    return found
