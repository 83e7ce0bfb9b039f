"""A small in-process DNS server for the domain tests: UDP and TCP on a loopback address, answers
from zone files (fixtures/zones), the AD bit on request, SERVFAIL, REFUSED, silence
(timeouts) and truncation (TCP retry) per name. Names outside its zones are REFUSED, so nothing
ever falls through to a real resolver.

It runs its own asyncio loop in a daemon thread, so ``mailtls`` can run in the test's thread
with ``asyncio.run`` and query it like any resolver (``--resolver 127.0.0.1:PORT``).
"""

from __future__ import annotations

import asyncio
import struct
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone

ZONES = Path(__file__).parents[2] / "fixtures" / "zones"


def load_zone(name: str, substitutions: Mapping[str, str] | None = None) -> str:
    """The text of ``fixtures/zones/<name>.zone`` with every ``@@KEY@@`` replaced."""
    text = (ZONES / f"{name}.zone").read_text()
    for key, value in (substitutions or {}).items():
        text = text.replace(f"@@{key}@@", value)
    assert "@@" not in text, f"unreplaced placeholder in {name}.zone"
    return text


def _names(items: Iterable[str]) -> set[str]:
    return {i.lower().rstrip(".") for i in items}


class FakeDNS:
    """``ad``: set the AD bit (emulating a validating resolver) except for names under
    ``unsigned``. ``servfail``/``refused``/``silent``/``truncate``: names (``name`` or
    ``name/TYPE``) answered SERVFAIL, REFUSED, not at all, or truncated over UDP."""

    def __init__(
        self,
        *zone_texts: str,
        ad: bool = False,
        unsigned: Iterable[str] = (),
        servfail: Iterable[str] = (),
        refused: Iterable[str] = (),
        silent: Iterable[str] = (),
        truncate: Iterable[str] = (),
        host: str = "127.0.0.1",
    ) -> None:
        self.zones = [
            dns.zone.from_text(t, origin=None, relativize=False, check_origin=False)
            for t in zone_texts
        ]
        self.ad = ad
        self.unsigned = _names(unsigned)
        self.servfail = _names(servfail)
        self.refused = _names(refused)
        self.silent = _names(silent)
        self.truncate = _names(truncate)
        self.host = host
        self.port = 0
        self.queries: list[tuple[str, str, str]] = []  # (name, type, "udp"/"tcp")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-dns",
                                        daemon=True)
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None

    # -- answering ------------------------------------------------------------------------------

    def _zone_for(self, qname: dns.name.Name) -> dns.zone.Zone | None:
        best = None
        for zone in self.zones:
            assert zone.origin is not None
            if qname.is_subdomain(zone.origin) and (
                best is None or len(zone.origin) > len(best.origin)  # type: ignore[arg-type]
            ):
                best = zone
        return best

    @staticmethod
    def _hit(names: set[str], qname: str, qtype: str) -> bool:
        return qname in names or f"{qname}/{qtype}".lower() in names

    def _signed(self, name: str) -> bool:
        return self.ad and not any(name == u or name.endswith("." + u) for u in self.unsigned)

    def answer(self, wire: bytes, transport: str) -> bytes | None:
        query = dns.message.from_wire(wire)
        question = query.question[0]
        qname, qtype = question.name, question.rdtype
        text = qname.to_text().rstrip(".").lower()
        type_text = dns.rdatatype.to_text(qtype)
        self.queries.append((text, type_text, transport))
        if self._hit(self.silent, text, type_text):
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.RA
        if self._hit(self.servfail, text, type_text):
            response.set_rcode(dns.rcode.SERVFAIL)
            return response.to_wire()
        if self._hit(self.refused, text, type_text):
            response.set_rcode(dns.rcode.REFUSED)
            return response.to_wire()
        if transport == "udp" and self._hit(self.truncate, text, type_text):
            response.flags |= dns.flags.TC
            return response.to_wire()
        secure = True
        name = qname
        for _ in range(8):  # follow CNAMEs inside the zones
            zone = self._zone_for(name)
            if zone is None:
                if name == qname:
                    response.set_rcode(dns.rcode.REFUSED)
                    return response.to_wire()
                break
            secure = secure and self._signed(name.to_text().rstrip(".").lower())
            node = zone.get_node(name)
            if node is None:
                exists = any(n.is_subdomain(name) for n in zone.nodes)
                if not exists:
                    response.set_rcode(dns.rcode.NXDOMAIN)
                break
            rdataset = node.get_rdataset(dns.rdataclass.IN, qtype)
            if rdataset is not None:
                response.answer.append(dns.rrset.from_rdata_list(name, rdataset.ttl,
                                                                 list(rdataset)))
                break
            cname = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.CNAME)
            if cname is None or qtype == dns.rdatatype.CNAME:
                break
            response.answer.append(dns.rrset.from_rdata_list(name, cname.ttl, list(cname)))
            name = next(iter(cname)).target
        if secure and self.ad and (query.flags & dns.flags.AD or query.ednsflags & dns.flags.DO):
            response.flags |= dns.flags.AD
        return response.to_wire()

    # -- serving --------------------------------------------------------------------------------

    async def _start(self) -> None:
        server = self

        class UDP(asyncio.DatagramProtocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.transport = transport

            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                out = server.answer(data, "udp")
                if out is not None:
                    self.transport.sendto(out, addr)  # type: ignore[attr-defined]

        loop = asyncio.get_running_loop()
        for _attempt in range(20):  # a UDP port whose TCP twin is free too
            udp, _ = await loop.create_datagram_endpoint(UDP, local_addr=(self.host, 0))
            port = udp.get_extra_info("sockname")[1]
            try:
                self._tcp = await asyncio.start_server(self._serve_tcp, self.host, port)
            except OSError:
                udp.close()
                continue
            self._udp, self.port = udp, port
            return
        raise OSError("no free UDP+TCP port pair on " + self.host)

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                         ) -> None:
        try:
            while True:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                out = self.answer(await reader.readexactly(length), "tcp")
                if out is None:
                    await asyncio.sleep(3600)
                else:
                    writer.write(struct.pack("!H", len(out)) + out)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
        for task in asyncio.all_tasks():
            if task is not asyncio.current_task():
                task.cancel()

    def start(self) -> FakeDNS:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(5)
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        self._loop.close()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def asked(self, name: str, rdtype: str | None = None) -> bool:
        n = name.lower().rstrip(".")
        return any(q[0] == n and (rdtype is None or q[1] == rdtype) for q in self.queries)

    def __enter__(self) -> FakeDNS:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
