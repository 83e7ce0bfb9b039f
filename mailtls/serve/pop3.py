"""The POP3 session of ``mailtls serve`` (RFC 1939, RFC 2449 CAPA, RFC 2595 §4 STLS, RFC 5034).

An empty maildrop. CAPA lists TOP UIDL RESP-CODES, STLS when the case offers it, and USER and
SASL PLAIN LOGIN where the case offers authentication. USER/PASS and AUTH are taken (and
recorded) whenever the client sends them.
"""

from __future__ import annotations

from .session import Session, redact_auth


class POP3Session(Session):
    protocol = "pop3"
    user: str | None = None

    async def greet(self) -> None:
        await self.send(f"+OK {self.ctx.server_name} POP3 mailtls serve ready")

    def capabilities(self) -> list[str]:
        caps = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE"]
        if self.starttls_offered:
            caps.append("STLS")
        if self.auth_offered:
            caps += ["USER", "SASL PLAIN LOGIN"]
        return [*caps, "IMPLEMENTATION mailtls-serve"]

    def injection(self, go_ahead: str) -> list[str]:
        # a complete answer to the CAPA a client sends next
        return ["+OK Capability list follows", "USER", "SASL PLAIN", "."]

    def redact(self, line: str) -> str:
        verb = line.partition(" ")[0]
        if verb.upper() == "PASS":
            return f"{verb} ***"
        return redact_auth(line)

    async def handle(self, line: str) -> bool:
        verb, _, args = line.partition(" ")
        verb = verb.upper()
        self.rec.command(verb, tls=self.tls)
        if verb == "CAPA":
            await self.send("+OK Capability list follows", *self.capabilities(), ".")
        elif verb == "STLS":
            if self.tls or not self.starttls_offered:
                await self.send("-ERR Unknown command")
            elif self.case.starttls_reply == "refuse":
                await self.send("-ERR [SYS/TEMP] TLS not available right now")
            else:
                return await self.starttls("+OK Begin TLS negotiation")
        elif verb == "USER":
            self.user = args
            await self.send("+OK")
        elif verb == "PASS":
            self.credential("USER/PASS", args)
            if self.check_password(self.user, args):
                await self.send("+OK Logged in")
            else:
                await self.send("-ERR [AUTH] Authentication failed")
        elif verb == "AUTH":
            await self.auth(args)
        elif verb == "STAT":
            await self.send("+OK 0 0")
        elif verb in ("LIST", "UIDL"):
            if args:
                await self.send("-ERR No such message")
            else:
                await self.send("+OK 0 messages", ".")
        elif verb in ("RETR", "TOP", "DELE"):
            await self.send("-ERR No such message")
        elif verb in ("NOOP", "RSET"):
            await self.send("+OK")
        elif verb == "QUIT":
            await self.send("+OK Bye")
            self.rec.completed = self.rec.authenticated
            self.rec.closed_by = "client"
            return False
        else:
            await self.send("-ERR Unknown command")
        return True

    async def auth(self, args: str) -> None:
        if not args.partition(" ")[0]:
            await self.send("+OK", *(["PLAIN", "LOGIN"] if self.auth_offered else []), ".")
            return
        ok = await self.sasl(args, label="AUTH", go_on="+ ",
                             cancelled="-ERR Authentication cancelled",
                             unsupported="-ERR Unsupported authentication mechanism")
        if ok is not None:
            await self.send("+OK Logged in" if ok else "-ERR [AUTH] Authentication failed")
