"""The SMTP submission session of ``mailtls serve`` (RFC 5321, RFC 6409, RFC 3207, RFC 4954).

EHLO lists PIPELINING 8BITMIME ENHANCEDSTATUSCODES SIZE, STARTTLS when the case offers it and
``AUTH PLAIN LOGIN`` where the case offers authentication. Credentials are taken (and recorded)
whenever the client sends them, offered or not - as an attacker would. MAIL, RCPT, DATA accept
anything; the message body is counted, never kept.
"""

from __future__ import annotations

from .session import Session, redact_auth


class SMTPSession(Session):
    protocol = "smtp"

    async def greet(self) -> None:
        await self.send(f"220 {self.ctx.server_name} ESMTP mailtls serve")

    def ehlo_lines(self) -> list[str]:
        caps = [f"{self.ctx.server_name} greets you", "PIPELINING", "8BITMIME",
                "ENHANCEDSTATUSCODES", "SIZE 10240000"]
        if self.starttls_offered:
            caps.append("STARTTLS")
        if self.auth_offered:
            caps.append("AUTH PLAIN LOGIN")
        return [f"250-{c}" for c in caps[:-1]] + [f"250 {caps[-1]}"]

    def injection(self, go_ahead: str) -> list[str]:
        # a complete answer to the EHLO a client must send next
        return [f"250-{self.ctx.server_name} injected", "250 AUTH PLAIN LOGIN"]

    def redact(self, line: str) -> str:
        return redact_auth(line)

    async def handle(self, line: str) -> bool:
        verb, _, args = line.partition(" ")
        verb = verb.upper()
        self.rec.command(verb, tls=self.tls)
        if verb in ("EHLO", "HELO"):
            if verb == "HELO":
                await self.send(f"250 {self.ctx.server_name}")
            else:
                await self.send(*self.ehlo_lines())
        elif verb == "STARTTLS":
            if self.tls or not self.starttls_offered:
                await self.send("502 5.5.1 STARTTLS not available")
            elif self.case.starttls_reply == "refuse":
                await self.send("454 4.7.0 TLS not available due to temporary reason")
            else:
                return await self.starttls("220 2.0.0 Ready to start TLS")
        elif verb == "AUTH":
            await self.auth(args)
        elif verb == "MAIL":
            if not self.tls:
                self.rec.message_started_plaintext = True
                self.event("a mail transaction started IN PLAINTEXT")
            await self.send("250 2.1.0 OK")
        elif verb == "RCPT":
            await self.send("250 2.1.5 OK")
        elif verb == "DATA":
            await self.data()
        elif verb in ("RSET", "NOOP"):
            await self.send("250 2.0.0 OK")
        elif verb == "VRFY":
            await self.send("252 2.1.5 Cannot VRFY user")
        elif verb == "QUIT":
            await self.send("221 2.0.0 Bye")
            self.rec.completed = self.rec.authenticated or self.rec.message_accepted
            self.rec.closed_by = "client"
            return False
        else:
            await self.send("502 5.5.2 Command not recognized")
        return True

    async def auth(self, args: str) -> None:
        ok = await self.sasl(args, label="AUTH", go_on="334 ",
                             cancelled="501 5.7.0 Authentication cancelled",
                             unsupported="504 5.5.4 Unrecognized authentication type")
        if ok is not None:
            await self.send("235 2.7.0 Authentication successful" if ok
                            else "535 5.7.8 Authentication credentials invalid")

    async def data(self) -> None:
        await self.send("354 End data with <CR><LF>.<CR><LF>")
        lines = size = 0
        while True:
            line = await self.recv(log=False)
            if line == ".":
                break
            lines += 1
            size += len(line) + 2
        self.rec.log("C", f"(message: {lines} lines, {size} bytes, not kept)", tls=self.tls)
        self.rec.log("C", ".", tls=self.tls)
        self.rec.message_accepted = True
        self.rec.message_tls = self.tls
        await self.send("250 2.0.0 OK queued (and dropped: mailtls serve)")

