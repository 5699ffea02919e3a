"""`watchparty`: serve, worker, beat, migrate, createsuperuser, doctor."""

from __future__ import annotations

import asyncio
import getpass
import os
import shutil
import socket
import subprocess
import sys
from typing import Annotated

import typer

from controlplane.settings import Settings

app = typer.Typer(help="Watch Party control plane", no_args_is_help=True, add_completion=False)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (the web app and the API)")] = 8000,
    agent_port: Annotated[
        int | None,
        typer.Option(help="Port of the room agents' listener (default AGENT_PORT; 0: a free one)"),
    ] = None,
    migrate: Annotated[bool, typer.Option(help="Upgrade the schema first")] = True,
    workers: Annotated[int, typer.Option(help="Worker processes (needs REDIS_URL when > 1)")] = 1,
) -> None:
    """Run the API server: the public listener on --port, the agent channel on --agent-port."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from controlplane.main import server_options
    from controlplane.services.secret_file import with_secrets

    settings = with_secrets(Settings())
    if refusal := settings.bind_refusal(host):
        typer.echo(f"error: {refusal}", err=True)
        raise typer.Exit(1)
    settings.check_production()
    if workers > 1 and not settings.REDIS_URL:
        raise typer.BadParameter("several workers share state only through Redis: set REDIS_URL")
    agent_port = settings.AGENT_PORT if agent_port is None else agent_port
    if agent_port == port:
        raise typer.BadParameter("the agent channel needs a port of its own (--agent-port)")
    if migrate:
        from controlplane.migrate import upgrade_head

        upgrade_head(settings)
    options = {"host": host, "workers": workers, **server_options(settings)}
    config = uvicorn.Config("controlplane.main:app_factory", factory=True, port=port, **options)
    # Both sockets are bound here, before any worker starts, so every worker serves both and a
    # port of 0 is known before the app (which routes by the port a request arrived on) reads it.
    sockets = [
        config.bind_socket(),
        uvicorn.Config("controlplane.main:app_factory", port=agent_port, **options).bind_socket(),
    ]
    agent_port = sockets[1].getsockname()[1]
    os.environ["AGENT_PORT"] = str(agent_port)
    if "AGENT_CONTROL_URL" not in settings.model_fields_set:
        # Rooms on this host dial the agent port we actually serve on.
        dial = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        os.environ["AGENT_CONTROL_URL"] = f"ws://{dial}:{agent_port}"
    if workers > 1:
        Multiprocess(config, sockets=sockets).run()
    else:
        uvicorn.Server(config).run(sockets=sockets)


@app.command()
def migrate() -> None:
    """Upgrade the database schema to the newest revision."""
    from controlplane.migrate import upgrade_head

    settings = Settings()
    upgrade_head(settings)
    typer.echo(f"schema at head ({'sqlite' if settings.is_sqlite else 'postgresql'})")


def _celery(args: list[str]) -> None:
    settings = Settings()
    if not settings.REDIS_URL:
        raise typer.BadParameter(
            "the worker and beat need REDIS_URL (embedded mode runs jobs in-process)"
        )
    from controlplane.worker.celery_app import celery_app

    celery_app.start(argv=args)


@app.command()
def worker(concurrency: Annotated[int, typer.Option()] = 2) -> None:
    """Run a Celery worker (e-mail, reaper sweeps)."""
    _celery(["worker", "--loglevel=INFO", f"--concurrency={concurrency}", "-Q", "watchparty"])


@app.command()
def beat() -> None:
    """Run Celery beat (the periodic schedule)."""
    _celery(["beat", "--loglevel=INFO"])


@app.command()
def firewall(
    watch: Annotated[
        float, typer.Option(help="Keep running: re-apply when missing, checking every N seconds")
    ] = 0,
    check: Annotated[
        bool, typer.Option(help="Only report: exit 1 when the rules are missing")
    ] = False,
) -> None:
    """Apply the Docker rooms' egress firewall (iptables; root in the host's network namespace).

    For a control plane that cannot apply the rules itself (it runs in a container without the
    host's network, with DOCKER_EGRESS_FIREWALL=false): the Compose stack runs this in a small
    privileged service with the same settings, so the rules are the ones the runtime would apply.
    """
    import time

    from controlplane.runtime.docker_firewall import Firewall, FirewallError

    fw = Firewall(Settings())
    if check:  # a health check: exit 0 only when the rules are in place
        raise typer.Exit(0 if fw.installed() else 1)
    try:
        fw.apply()
    except FirewallError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"room egress firewall applied ({', '.join(fw.chains)})")
    while watch > 0:
        time.sleep(watch)
        try:
            if not fw.installed():
                fw.apply()
                typer.echo("room egress firewall was missing: re-applied")
        except FirewallError as exc:  # keep watching: the next round may succeed
            typer.echo(f"error: {exc}", err=True)


@app.command()
def createsuperuser(
    email: Annotated[str, typer.Option(prompt=True)],
    username: Annotated[str, typer.Option(prompt=True)],
    password: Annotated[str | None, typer.Option(help="Asked for when omitted")] = None,
) -> None:
    """Create an administrator account (or promote an existing one with that e-mail)."""
    from controlplane.admin import create_superuser

    pw = password or getpass.getpass("Password: ")
    try:
        created = asyncio.run(
            create_superuser(settings=Settings(), email=email, username=username, password=pw)
        )
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"superuser {'created' if created else 'promoted'}: {email}")


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _local_policy() -> str:
    """Whether a local room's Chromium can get the room's managed policy (a private mount
    namespace, roomagent/policyns.py), as its launcher would try it."""
    probe = subprocess.run(
        [sys.executable, "-m", "roomagent.policyns", "--check"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if probe.returncode == 0:
        return "applied in a private mount namespace"
    why = (probe.stderr.strip().splitlines() or [f"exit {probe.returncode}"])[-1]
    return f"UNAVAILABLE ({why}): rooms run without it, see docs/operations.md, Threat model"


@app.command()
def doctor() -> None:
    """Report which optional parts this machine has and which mode will be used."""
    settings = Settings()
    rows: list[tuple[str, bool, str]] = []
    docker_ok = False
    if shutil.which("docker"):
        docker_ok = (
            subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
        )
    rows.append(("Docker engine", docker_ok, "docker info" if docker_ok else "not reachable"))
    for name, binary in [
        ("Xvfb", "Xvfb"),
        ("Chromium", "chromium"),
        ("PulseAudio", "pulseaudio"),
        ("coturn", "turnserver"),
    ]:
        path = shutil.which(binary)
        rows.append((name, path is not None, path or "not installed"))
    rows.append(("Redis server", _port_open("127.0.0.1", 6379), "127.0.0.1:6379"))
    rows.append(("PostgreSQL server", _port_open("127.0.0.1", 5432), "127.0.0.1:5432"))
    width = max(len(r[0]) for r in rows)
    for name, ok, note in rows:
        typer.echo(f"{name:<{width}}  {'yes' if ok else 'no ':<3}  {note}")
    typer.echo(f"\nmode: {settings.mode}")
    problems = settings.insecure_reasons() if settings.ENVIRONMENT == "production" else []
    for p in problems:
        typer.echo(f"production problem: {p}")
    if settings.ROOM_RUNTIME == "local":
        missing = [n for n, ok, _ in rows[1:4] if not ok]
        if missing:
            typer.echo(
                f"local rooms need: {', '.join(missing)} (apt-get install xvfb chromium pulseaudio)"
            )
        typer.echo(f"local rooms' browser policy: {_local_policy()}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    app()
