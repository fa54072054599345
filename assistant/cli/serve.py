"""`trustline serve`: the web app under gunicorn (or Werkzeug with --dev)."""

from __future__ import annotations

import os
import sys

import click

from nlp import TrustlineNLPError

from .. import settings
from .common import setting


@click.command()
@click.option(
    "--host",
    default=setting("TRUSTLINE_HOST"),
    show_default="TRUSTLINE_HOST or 127.0.0.1",
    help="Interface to bind.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=setting("TRUSTLINE_PORT"),
    show_default="TRUSTLINE_PORT or 5000",
    help="TCP port.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=setting("TRUSTLINE_WORKERS"),
    show_default="TRUSTLINE_WORKERS or 2",
    help="gunicorn worker processes.",
)
@click.option(
    "--threads",
    type=click.IntRange(1, 4096),
    default=setting("TRUSTLINE_THREADS"),
    show_default="TRUSTLINE_THREADS or 256",
    help="Threads per worker (each open event stream holds one).",
)
@click.option(
    "--dev",
    is_flag=True,
    help="Use Werkzeug's development server (one process) instead of gunicorn.",
)
def serve(host: str, port: int, workers: int, threads: int, dev: bool) -> None:
    """Run the web app: the sidebar, the API and the webhooks.

    It runs under gunicorn and loads the pipeline once, before the workers fork, so that
    errors show at once. SIGTERM stops it gracefully, Ctrl-C at once.
    """
    from .. import create_app
    from ..auth import hash_key, new_key
    from ..engine import preload

    dev_key = None
    if not settings.BY_NAME["TRUSTLINE_API_KEY_HASHES"].read():
        dev_key = new_key()
        os.environ["TRUSTLINE_API_KEY_HASHES"] = hash_key(dev_key)
    # The demo agent desktop is off unless TRUSTLINE_DEMO asks (`make run` does).
    app = create_app()
    try:
        preload(app)
    except TrustlineNLPError as exc:
        raise click.ClickException(str(exc)) from exc
    from ..sidebar.demo import seed_app

    seeded = seed_app(app)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    server = "Werkzeug development server" if dev else f"gunicorn, {workers} x {threads} threads"
    click.echo(f"Trustline is running at {url}  (health: {url}healthz; {server})")
    if app.config["TRUSTLINE_DEMO"]:
        click.echo(
            f"Demo agent desktop: {url} (three demo customers"
            + (", just seeded" if seeded else "")
            + "). Set TRUSTLINE_DEMO=0 on a server others can reach."
        )
    if dev_key:
        click.echo(
            "API key for this run (set TRUSTLINE_API_KEY_HASHES to keep your own):\n"
            f"  curl -H 'Authorization: Bearer {dev_key}' -H 'Content-Type: application/json' "
            f'-d \'{{"text": "cust prefers email"}}\' {url}api/v1/extract'
        )
    sys.stdout.flush()
    if dev:
        from werkzeug.serving import run_simple

        from ..webhooks.worker import start_worker_thread

        start_worker_thread(app)  # delivers webhooks when TRUSTLINE_WEBHOOK_WORKER is on
        run_simple(host, port, app, threaded=True, use_reloader=False)
        return
    from .. import serving

    serving.run(
        app,
        host=host,
        port=port,
        workers=workers,
        threads=threads,
        graceful_timeout=settings.BY_NAME["TRUSTLINE_GRACEFUL_TIMEOUT"].read(),
    )
