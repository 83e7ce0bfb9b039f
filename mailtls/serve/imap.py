"""The IMAP session of ``mailtls serve`` (RFC 9051 / RFC 3501, RFC 2595 §3.1, RFC 4959 SASL-IR).

One empty INBOX, enough for curl, mbsync and desktop clients to log in, list, select, fetch
nothing and log out. Capabilities: IMAP4rev1 ID NAMESPACE UIDPLUS LITERAL+, STARTTLS when the
case offers it, ``LOGINDISABLED`` before TLS unless the case offers login there, and
``AUTH=PLAIN AUTH=LOGIN SASL-IR`` where it does. LOGIN and AUTHENTICATE are taken (and
recorded) whenever the client sends them. Literals (``{n}`` and ``{n+}``) are read.
"""

from __future__ import annotations

import re

from .cases import ALERT_MARKER
from .session import ClientGone, Session

_LITERAL = re.compile(r"\{(\d+)(\+?)\}$")
_MAX_LITERAL = 1 << 20
_FLAGS = r"(\Answered \Flagged \Deleted \Seen \Draft)"


def next_tag(tag: str) -> str:
    """The tag a client that counts would use next ("A001" -> "A002", "7" -> "8")."""
    match = re.search(r"(\d+)$", tag)
    if match is None:
        return tag + "1"
    digits = match.group(1)
    return tag[: match.start()] + str(int(digits) + 1).zfill(len(digits))


def parse_astrings(text: str) -> list[str]:
    """Atoms and quoted strings (literals were already inlined as quoted text)."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] == " ":
            i += 1
        elif text[i] == '"':
            i += 1
            chars: list[str] = []
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                chars.append(text[i])
                i += 1
            i += 1
            out.append("".join(chars))
        else:
            end = text.find(" ", i)
            end = n if end < 0 else end
            out.append(text[i:end])
            i = end
    return out


class IMAPSession(Session):
    protocol = "imap"

    def capabilities(self) -> str:
        caps = ["IMAP4rev1", "ID", "NAMESPACE", "UIDPLUS", "LITERAL+"]
        if self.starttls_offered:
            caps.append("STARTTLS")
        if self.auth_offered:
            caps += ["AUTH=PLAIN", "AUTH=LOGIN", "SASL-IR"]
        else:
            caps.append("LOGINDISABLED")
        return " ".join(caps)

    async def greet(self) -> None:
        if self.case.preauth:
            self.rec.authenticated = True
            await self.send(f"* PREAUTH [CAPABILITY {self.capabilities()}] "
                            f"{self.ctx.server_name} logged in as you")
        elif self.case.alert:
            await self.send(f"* OK [ALERT] {ALERT_MARKER}: your mailbox will be deleted, "
                            "call +1-555-0100 now")
        else:
            await self.send(f"* OK [CAPABILITY {self.capabilities()}] {self.ctx.server_name} "
                            "IMAP4rev1 mailtls serve ready")

    def injection(self, go_ahead: str) -> list[str]:
        # a complete answer to the CAPABILITY (or LOGIN) a counting client sends next
        tag = next_tag(go_ahead.split(" ", 1)[0])
        return ["* CAPABILITY IMAP4rev1 AUTH=PLAIN", f"{tag} OK completed"]

    def redact(self, line: str) -> str:
        parts = line.split(" ", 3)
        if len(parts) >= 3 and parts[1].upper() == "LOGIN":
            return f"{parts[0]} {parts[1]} ***"
        if len(parts) >= 4 and parts[1].upper() == "AUTHENTICATE":
            return f"{parts[0]} {parts[1]} {parts[2]} ***"
        return line

    async def command_line(self, first: str) -> str:
        """``first`` with its literals read and inlined as quoted strings."""
        line = first
        for _ in range(16):
            match = _LITERAL.search(line)
            if match is None:
                return line
            size = int(match.group(1))
            if size > _MAX_LITERAL:
                raise ClientGone
            if not match.group(2):
                await self.send("+ Ready for literal data")
            data = (await self.read_bytes(size)).decode("utf-8", "replace")
            rest = await self.recv(log=False)
            quoted = '"' + data.replace("\\", "\\\\").replace('"', '\\"') + '"'
            line = line[: match.start()] + quoted + rest
        return line

    async def handle(self, line: str) -> bool:  # noqa: C901 (a split is still to do: issue 15)
        line = await self.command_line(line)
        tag, _, rest = line.partition(" ")
        command, _, args = rest.partition(" ")
        command = command.upper()
        if command == "UID":
            sub, _, args = args.partition(" ")
            command = f"UID {sub.upper()}"
        if not tag or not command:
            await self.send("* BAD Missing tag or command")
            return True
        self.rec.command(command, tls=self.tls)
        if command == "LOGOUT":
            await self.send("* BYE logging out", f"{tag} OK LOGOUT completed")
            self.rec.completed = self.rec.authenticated
            self.rec.closed_by = "client"
            return False
        if command == "CAPABILITY":
            await self.send(f"* CAPABILITY {self.capabilities()}", f"{tag} OK CAPABILITY completed")
        elif command == "STARTTLS":
            if self.rec.authenticated:
                await self.send(f"{tag} BAD STARTTLS not allowed in the authenticated state")
            elif self.tls or not self.starttls_offered:
                await self.send(f"{tag} BAD Unknown command")
            elif self.case.starttls_reply == "refuse":
                await self.send(f"{tag} NO [UNAVAILABLE] TLS is not available right now")
            else:
                return await self.starttls(f"{tag} OK Begin TLS negotiation now")
        elif command == "LOGIN":
            parts = parse_astrings(args)
            user, password = ([*parts, "", ""])[:2]
            self.credential("LOGIN", password)
            ok = self.check_password(user, password)
            await self._result(tag, ok)
        elif command == "AUTHENTICATE":
            await self.authenticate(tag, args)
        elif command in ("NOOP", "CHECK", "ENABLE", "SUBSCRIBE", "UNSUBSCRIBE", "CLOSE",
                         "EXPUNGE", "UID EXPUNGE", "CREATE", "UNSELECT", "IDLE"):
            if command == "IDLE":
                await self.send("+ idling")
                await self.recv()
            await self.send(f"{tag} OK {command} completed")
        elif command == "ID":
            await self.send('* ID ("name" "mailtls serve")', f"{tag} OK ID completed")
        elif command == "NAMESPACE":
            await self.send('* NAMESPACE (("" "/")) NIL NIL', f"{tag} OK NAMESPACE completed")
        elif command in ("LIST", "LSUB"):
            await self.send(f'* {command} (\\HasNoChildren) "/" INBOX', f"{tag} OK {command} done")
        elif command in ("SELECT", "EXAMINE"):
            await self.send("* 0 EXISTS", "* 0 RECENT", f"* FLAGS {_FLAGS}",
                            "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen "
                            "\\Draft \\*)] Flags permitted",
                            "* OK [UIDVALIDITY 1] UIDs valid", "* OK [UIDNEXT 1] Predicted next",
                            f"{tag} OK [{'READ-ONLY' if command == 'EXAMINE' else 'READ-WRITE'}]"
                            f" {command} completed")
        elif command == "STATUS":
            await self.send("* STATUS INBOX (MESSAGES 0 RECENT 0 UIDNEXT 1 UIDVALIDITY 1 "
                            "UNSEEN 0)", f"{tag} OK STATUS completed")
        elif command in ("SEARCH", "UID SEARCH"):
            await self.send("* SEARCH", f"{tag} OK SEARCH completed")
        elif command in ("FETCH", "UID FETCH", "STORE", "UID STORE", "COPY", "UID COPY"):
            await self.send(f"{tag} OK {command} completed")
        elif command == "APPEND":
            await self.send(f"{tag} OK [APPENDUID 1 1] APPEND completed (and dropped)")
        else:
            await self.send(f"{tag} BAD Unknown command")
        return True

    async def authenticate(self, tag: str, args: str) -> None:
        ok = await self.sasl(args, label="AUTHENTICATE", go_on="+ ",
                             cancelled=f"{tag} BAD AUTHENTICATE cancelled",
                             unsupported=f"{tag} NO Unsupported authentication mechanism")
        if ok is not None:
            await self._result(tag, ok)

    async def _result(self, tag: str, ok: bool) -> None:
        if ok:
            await self.send(f"{tag} OK [CAPABILITY {self.capabilities()}] Logged in")
        else:
            await self.send(f"{tag} NO [AUTHENTICATIONFAILED] Authentication failed")
