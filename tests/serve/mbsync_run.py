"""Run mbsync (isync) once against ``mailtls serve``: writes an mbsyncrc for one case, then
executes mbsync with it. Usage: mbsync_run.py WORKDIR HOST PORT USER PASSWORD CAFILE TLSTYPE
(TLSTYPE: STARTTLS or IMAPS; isync 1.4 calls the setting SSLType). The --run template of
the isync tests."""

import os
import sys

workdir, host, port, user, password, cafile, tls_type = sys.argv[1:8]
maildir = os.path.join(workdir, "mail")
os.makedirs(maildir, exist_ok=True)
config = os.path.join(workdir, "mbsyncrc")
with open(config, "w", encoding="utf-8") as f:
    f.write(f"""IMAPAccount serve
Host {host}
Port {port}
User {user}
Pass {password}
SSLType {tls_type}
CertificateFile {cafile}
SystemCertificates no
AuthMechs LOGIN

IMAPStore remote
Account serve

MaildirStore local
Path {maildir}/
Inbox {maildir}/INBOX

Channel serve
Far :remote:
Near :local:
Patterns INBOX
Create Near
Sync Pull
SyncState *
""")
os.execvp("mbsync", ["mbsync", "-c", config, "-a"])
