"""``mailtls serve``: the command line of ``mailtls.serve`` (``cli/app.py`` only wires it in)."""

from __future__ import annotations

import argparse
import sys

from mailtls.cli.helpformat import HelpFormatter
from mailtls.errors import UsageError
from mailtls.model.ports import MAX_PORT

SERVE_HELP = """\
cases (see --list): per protocol a clean control over STARTTLS and over implicit
  TLS, STARTTLS stripped / refused / closed after the go-ahead, a response
  injected behind the go-ahead, self-signed / expired / wrong-name certificates,
  TLS 1.0 only, plaintext on the implicit-TLS port, authentication offered only
  before TLS; IMAP also PREAUTH and [ALERT] before TLS.

drives:
  interactive (no --run): each case prints the host, port and security setting
      to enter in your client; check or send mail, then the next case starts.
  --run 'CMD ...': runs CMD once per case (split like a shell would, run
      without one), with {host} {port} {user} {password} {cafile} {name}
      {case} {protocol} {workdir} {message} filled in; --run-implicit for the
      implicit-TLS cases if they need another command.

verdicts: safe, vulnerable (the client leaked or accepted something),
  inconclusive (the client did not get far enough). The password is a
  throwaway made for this run; credentials the client sends are never shown or
  stored, only how they came and a salted hash prefix.

examples:
  mailtls serve --protocol imap --run 'curl -sS --ssl-reqd --cacert {cafile}
      -u {user}:{password} imap://{host}:{port}/' --run-implicit 'curl -sS
      --cacert {cafile} -u {user}:{password} imaps://{host}:{port}/'
  mailtls serve --protocol smtp --listen 192.0.2.10 --write-ca ca.pem
      (a phone on the LAN)

exit codes: 0 every case safe, 2 a case vulnerable, 3 a case inconclusive or a
  usage error.
"""


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"must be > 0 and <= 3600: {text}")
    return value


def add_serve_command(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "serve",
        help="test a mail CLIENT: play hostile SMTP/IMAP/POP3 servers, one case per session",
        description="Play hostile (and one clean) mail servers, one test case per session, "
        "and judge what the mail client does: does it fall back to plaintext, accept a bad "
        "certificate or act on injected data?",
        epilog=SERVE_HELP,
        formatter_class=HelpFormatter,
    )
    p.add_argument("--protocol", metavar="LIST",
                   help="smtp, imap, pop3, comma-separated (default: all three)")
    p.add_argument("--case", action="append", default=[], metavar="ID",
                   help="only these cases (id or glob, e.g. 'imap.cert.*'; repeatable)")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    p.add_argument("--run", metavar="CMD", help="client command template, run once per case")
    p.add_argument("--run-implicit", metavar="CMD",
                   help="client command for the implicit-TLS cases (default: --run)")
    p.add_argument("--listen", default="127.0.0.1", metavar="ADDR",
                   help="address to listen on (default 127.0.0.1; anything else opens a port "
                   "to the network)")
    p.add_argument("--port-base", type=int, default=10000, metavar="N",
                   help="listen on N + the standard port (default 10000: 10587, 10465, "
                   "10143, 10993, 10110, 10995); 0 = ports chosen by the system")
    p.add_argument("--timeout", type=_positive, default=None, metavar="S",
                   help="seconds per case (default 30 with --run, 180 interactive)")
    p.add_argument("--idle-timeout", type=_positive, default=20.0, metavar="S",
                   help="close a connection after S seconds of client silence (default 20)")
    p.add_argument("--write-ca", metavar="FILE",
                   help="write the run's throwaway test CA (PEM) here, to trust it in the client")
    p.add_argument("--injection-hold", type=_positive, default=2.0, help=argparse.SUPPRESS)
    p.add_argument("--format", choices=("text", "json", "junit"), default="text",
                   help="text (default) for people; json (schema mailtls-serve/1); junit for CI")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="show the transcript of every case (default: only of unsafe ones)")
    p.add_argument("--no-color", action="store_true", help="no colour (also: NO_COLOR=1)")


def listen_warning(host: str) -> str | None:
    """The loud line for a non-loopback ``--listen`` (None on loopback)."""
    from mailtls.serve.runner import is_loopback

    if is_loopback(host):
        return None
    return (f"mailtls serve: WARNING: listening on {host}, NOT loopback: this opens ports to "
            "the network; anyone who can reach them can connect to the test servers while "
            "they run.")


def _ask(question: str) -> str | None:
    if sys.stdin is None or not sys.stdin.isatty():
        return None
    try:
        return input(question)
    except EOFError:
        return None


def run_serve_command(args: argparse.Namespace) -> int:
    import os

    from mailtls.serve.cases import select_cases
    from mailtls.serve.render import render_json, render_junit, render_terminal
    from mailtls.serve.runner import ServeConfig, exit_code, run_serve, select_protocols

    protocols = select_protocols(args.protocol)
    try:
        cases = select_cases(protocols, tuple(args.case))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.list:
        for case in cases:
            print(f"{case.id:30} {case.mode:9} {case.title}")
        return 0
    # a base, not a port: the highest port a case listens on is base + 995 (POP3S)
    if not 0 <= args.port_base <= MAX_PORT - 995:
        raise UsageError(f"--port-base out of range 0-{MAX_PORT - 995}: {args.port_base}")
    warning = listen_warning(args.listen)
    if warning:
        print(warning, file=sys.stderr)
    if args.write_ca:
        parent = os.path.dirname(os.path.abspath(args.write_ca))
        if not os.path.isdir(parent):
            raise UsageError(f"--write-ca: no such directory: {parent}")
    interactive = not (args.run or args.run_implicit)
    config = ServeConfig(
        cases=tuple(cases),
        listen=args.listen,
        port_base=args.port_base,
        run=args.run,
        run_implicit=args.run_implicit,
        case_timeout=args.timeout or (180.0 if interactive else 30.0),
        idle_timeout=args.idle_timeout,
        injection_hold=args.injection_hold,
        write_ca=args.write_ca,
        announce=lambda text: print(text, file=sys.stderr, flush=True),
        ask=_ask,
    )
    result = run_serve(config)
    code = exit_code(result)
    if args.format == "json":
        sys.stdout.write(render_json(result, code) + "\n")
    elif args.format == "junit":
        sys.stdout.write(render_junit(result) + "\n")
    else:
        color = False if args.no_color or os.environ.get("NO_COLOR") else None
        sys.stdout.write(render_terminal(result, verbose=args.verbose, color=color))
    return code
