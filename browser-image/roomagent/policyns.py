"""Run a command (the room's Chromium) with the room's browser policy as its managed policy,
without touching the machine's own Chromium policy.

    python -m roomagent.policyns POLICY.json -- chromium ARGS...
    python -m roomagent.policyns --check [POLICY.json]

Chromium on Linux reads managed policy only from /etc/chromium/policies/managed. The image
installs browser-image/policies/watchparty.json there; a local room (ROOM_RUNTIME=local) runs on
the user's machine, whose /etc is theirs. So the command runs in a private mount namespace in
which that one directory is the room's policy (a read-only bind mount of a directory holding only
a copy of POLICY.json); the machine and every other process keep seeing their own /etc.

- as root: `unshare(CLONE_NEWNS)`, mounts, exec;
- otherwise: a user namespace mapping the caller to root (`unshare --user --map-root-user
  --mount`), the mounts, then a nested user namespace mapping the caller back to their own uid,
  so the command runs as the user (Chromium keeps its own sandbox, which refuses to run as root).

Where /etc/chromium/policies/managed does not exist, /etc/chromium/policies is covered by a
directory holding only `managed/`, or, without that, /etc/chromium by a copy of itself plus
`policies/managed/` (the copy is private to the namespace). Without /etc/chromium at all, or
where the kernel refuses the namespaces (e.g. Ubuntu's AppArmor restriction of unprivileged
user namespaces), it exits with EXIT_UNAVAILABLE before running anything; the launcher checks this
first (`--check`) and then runs Chromium without it, loudly (launcher.py).

This process must be single-threaded when it unshares a user namespace: it is its own program,
exec'd by the launcher, never imported into the agent.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import sys
import tempfile
from pathlib import Path

MANAGED_DIR = Path("/etc/chromium/policies/managed")
POLICY_NAME = "watchparty.json"
EXIT_UNAVAILABLE = 97

_CLONE_NEWNS = 0x00020000
_CLONE_NEWUSER = 0x10000000
_MS_RDONLY = 0x1
_MS_NOSUID = 0x2
_MS_NODEV = 0x4
_MS_REMOUNT = 0x20
_MS_BIND = 0x1000
_MS_REC = 0x4000
_MS_PRIVATE = 0x40000

_libc = ctypes.CDLL(None, use_errno=True)


class Unavailable(RuntimeError):
    pass


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise Unavailable(f"{what}: {os.strerror(err)}")


def _unshare(flags: int, what: str) -> None:
    _check(_libc.unshare(flags), what)


def _mount(source: str, target: str, fstype: str | None, flags: int, what: str) -> None:
    _check(
        _libc.mount(
            source.encode(), target.encode(), fstype.encode() if fstype else None, flags, None
        ),
        what,
    )


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _map_ids(uid_inside: int, uid_outside: int, gid_inside: int, gid_outside: int) -> None:
    """Map this process's ids in the user namespace it just entered (one id each)."""
    try:
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{uid_inside} {uid_outside} 1\n")
        _write("/proc/self/gid_map", f"{gid_inside} {gid_outside} 1\n")
    except OSError as e:
        raise Unavailable(f"user namespace id map: {e}") from e


def _staged(policy: Path, stage: Path) -> tuple[Path, Path]:
    """What to bind where: the directory to mount (in `stage`) and the one it covers."""
    managed = stage / "managed"
    managed.mkdir(parents=True)
    shutil.copyfile(policy, managed / POLICY_NAME)
    (managed / POLICY_NAME).chmod(0o444)
    if MANAGED_DIR.is_dir():
        return managed, MANAGED_DIR
    policies = MANAGED_DIR.parent
    if policies.is_dir():
        # Only the managed directory inside: the machine's other policies stay out of rooms.
        return stage, policies
    etc_chromium = policies.parent
    if etc_chromium.is_dir():
        # Covered by a copy of itself (Chromium's master_preferences and the like) plus ours.
        mirror = stage / "mirror"
        shutil.copytree(etc_chromium, mirror, symlinks=True)
        (mirror / "policies").mkdir()
        shutil.copytree(managed, mirror / "policies" / "managed")
        return mirror, etc_chromium
    raise Unavailable(f"{etc_chromium} does not exist (is Chromium installed?)")


def enter(policy: Path, stage: Path) -> None:
    """Enter a private mount namespace in which MANAGED_DIR holds only `policy`; as a user, end
    in a user namespace in which this process has its own uid and gid again."""
    if not policy.is_file():
        raise Unavailable(f"policy file {policy} not found")
    uid, gid = os.geteuid(), os.getegid()
    if uid == 0:
        _unshare(_CLONE_NEWNS, "unshare(mount namespace)")
    else:
        _unshare(_CLONE_NEWUSER | _CLONE_NEWNS, "unshare(user + mount namespace)")
        _map_ids(0, uid, 0, gid)
    # Nothing mounted here propagates back to the machine.
    _mount("none", "/", None, _MS_REC | _MS_PRIVATE, "make / private")
    source, target = _staged(policy, stage)
    _mount(str(source), str(target), None, _MS_BIND | _MS_REC, f"bind {target}")
    _mount(
        str(source),
        str(target),
        None,
        _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _MS_NOSUID | _MS_NODEV,
        f"read-only {target}",
    )
    installed = MANAGED_DIR / POLICY_NAME
    if sorted(p.name for p in MANAGED_DIR.iterdir()) != [POLICY_NAME] or (
        installed.read_bytes() != policy.read_bytes()
    ):
        raise Unavailable(f"{MANAGED_DIR} does not hold the room's policy after mounting")
    if uid != 0:
        _unshare(_CLONE_NEWUSER, "unshare(user namespace back to the caller's uid)")
        _map_ids(uid, 0, gid, 0)


def default_policy() -> Path | None:
    """The room's browser policy beside the agent's code: browser-image/policies/ in a
    checkout, roomagent/policies/ in a wheel (None in the image, which installs it instead)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "policies", here.parent / "policies"):
        if (candidate / POLICY_NAME).is_file():
            return candidate / POLICY_NAME
    return None


def main(argv: list[str]) -> int:
    check = argv[:1] == ["--check"]
    if check:
        argv = argv[1:]
        if not argv:  # `watchparty doctor`: the default policy
            found = default_policy()
            if found is None:
                print("policyns: no policy file beside the agent", file=sys.stderr)
                return EXIT_UNAVAILABLE
            argv = [str(found)]
    if not argv or (not check and (len(argv) < 3 or argv[1] != "--")):
        print(__doc__, file=sys.stderr)
        return 2
    policy, command = Path(argv[0]), argv[2:]
    # The staged copy lives in a private temp dir; it is mounted, so it may go once mounted
    # (the mount keeps the directory alive) but a copy of a few KB is left to the temp dir's
    # owner (the launcher removes its own temp dir).
    stage = Path(tempfile.mkdtemp(prefix="wp-policy-", dir=os.environ.get("WP_POLICY_STAGE")))
    try:
        enter(policy, stage)
    except Unavailable as e:
        print(f"policyns: {e}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    if check:
        return 0
    os.execvp(command[0], command)
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
