"""The project's own scripts: the README's two commands, the lock, and the promise that the test
suite never touches the services of the machine it runs on (it may be a real mail host)."""

from __future__ import annotations

import re
import stat
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"

# What only an administrator may do to a system service or its configuration.
FORBIDDEN = [
    r"\bsystemctl\s+(?:\S+\s+)*(?:stop|disable|mask|kill|restart|reload|reenable|edit|set-property)\b",
    r"\bupdate-rc\.d\b",
    r"\binvoke-rc\.d\b",
    r"\bservice\s+\S+\s+(?:stop|restart|reload|force-reload)\b",
    r"/etc/init\.d/\S+\s+(?:stop|restart|reload)\b",
    r"\b(?:postfix|dovecot|postsuper|doveadm)\s+(?:stop|reload|flush|abort)\b",
    r"\bpostconf\s+-e\b",
    r"\bkill(?:all)?\s",
    r"\bpkill\b",
    r">\s*/etc/(?!apt/)",  # writing a system configuration file
    r"\brm\s+(?:-\S+\s+)*/etc/",
]


def _shell_scripts() -> list[Path]:
    found = [SCRIPTS / "test", SCRIPTS / "mailtls", SCRIPTS / "lock", ROOT / ".ci" / "run"]
    found += sorted((SCRIPTS / "install").glob("*.sh"))
    found += sorted((SCRIPTS / "lib").glob("*.sh"))
    return found


def _code_lines(path: Path) -> list[tuple[int, str]]:
    return [(n, line) for n, line in enumerate(path.read_text().splitlines(), 1)
            if not line.lstrip().startswith("#")]


@pytest.mark.parametrize("path", _shell_scripts(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_script_stops_disables_or_reconfigures_a_service(path: Path) -> None:
    bad = [f"{path.name}:{n}: {line.strip()}" for n, line in _code_lines(path)
           for pattern in FORBIDDEN if re.search(pattern, line)]
    assert bad == []


@pytest.mark.parametrize("path", sorted((SCRIPTS / "install").glob("*.sh")),
                         ids=lambda p: p.name)
def test_install_scripts_install_through_the_one_apt_library(path: Path) -> None:
    """No install script calls apt-get install itself: scripts/lib/apt.sh is the one way in."""
    code = "\n".join(line for _, line in _code_lines(path))
    assert 'source "$(dirname "$0")/../lib/apt.sh"' in code
    assert not re.search(r"apt-get\s+(?:-\S+\s+)*install", code)
    assert path.stat().st_mode & stat.S_IXUSR


def test_the_apt_library_is_idempotent_and_starts_no_service() -> None:
    """It installs only what is missing (dpkg-query first), says what it installs, and keeps
    maintainer scripts from starting a service with a policy-rc.d of its own only if there is
    none (and removes only that one)."""
    text = (SCRIPTS / "lib" / "apt.sh").read_text()
    assert "dpkg-query" in text, "must check what is installed before installing"
    assert re.search(r"apt_say\s+\"installing", text), "must say what it installs"
    assert "[ ! -e /usr/sbin/policy-rc.d ]" in text
    assert re.search(r'if \[ -n "\$_apt_policy_ours" \]; then rm -f /usr/sbin/policy-rc.d', text)
    assert "--force-confold" in text, "must keep every existing configuration file"


def test_the_test_script_runs_every_install_script_and_ci_runs_the_test_script() -> None:
    test = (SCRIPTS / "test").read_text()
    assert re.search(r'for script in scripts/install/\*\.sh; do\s+bash "\$script"', test)
    ci = [line for _, line in _code_lines(ROOT / ".ci" / "run") if line.strip()]
    assert ci[-1].strip() == "exec bash scripts/test"
    assert not (SCRIPTS / "install-interop").exists()


def test_readme_quick_start_is_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = quick.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in block.strip().splitlines()]
    assert commands == ["scripts/mailtls demo", "scripts/test"]
    for name in ("mailtls", "test", "lock"):
        assert (SCRIPTS / name).stat().st_mode & stat.S_IXUSR, name


def _name(requirement: str) -> str:
    name = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert name, requirement
    return re.sub(r"[-_.]+", "-", name.group(0)).lower()


def test_constraints_pin_every_dependency_exactly() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]

    def requirements(names: list[str]) -> set[str]:  # "mailtls[fleet]": that extra's, too
        out: set[str] = set()
        for requirement in names:
            own = re.fullmatch(r"mailtls\[([\w,-]+)\]", requirement.split(";")[0].strip())
            if own:
                for extra in own.group(1).split(","):
                    out |= requirements(extras[extra])
            else:
                out.add(_name(requirement))
        return out

    wanted = requirements(project["dependencies"]) | requirements(extras["test"])
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep and re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", version), line
            pins[_name(name)] = version
    assert wanted - pins.keys() == set()
    assert "mailtls" not in pins


def test_every_test_folder_is_a_package() -> None:
    """A folder of tests without ``__init__.py`` would be imported by pytest under bare module
    names and found by mypy as a namespace package: the helpers' ``tests.x.y`` names would
    then name a second copy of each module."""
    folders = {p.parent for p in (ROOT / "tests").rglob("*.py")}
    assert sorted(str(f.relative_to(ROOT)) for f in folders
                  if not (f / "__init__.py").exists()) == []
