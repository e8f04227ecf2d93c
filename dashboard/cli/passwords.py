"""Reading a password on the command line without leaving it in `ps` or the shell's history."""

from __future__ import annotations

import sys

import click

MIN_PASSWORD_LENGTH = 8


def password_options(fn):
    """`--password` (kept: the contract names it; visible in `ps`) and `--password-stdin`."""
    fn = click.option(
        "--password-stdin",
        is_flag=True,
        help="Read the password from the first line of standard input (for scripts).",
    )(fn)
    fn = click.option(
        "--password",
        default=None,
        help="The password (avoid: visible in `ps` and shell history). Without it: a prompt.",
    )(fn)
    return fn


def read_password(password: str | None, from_stdin: bool) -> str:
    """The password from stdin, the option (with a warning) or a hidden prompt typed twice.

    Raises click.UsageError for a missing or short password (exit 2, a clear message)."""
    if from_stdin and password is not None:
        raise click.UsageError("give either --password or --password-stdin, not both.")
    if from_stdin:
        line = sys.stdin.readline()
        value = line.rstrip("\r\n")
        if not value:
            raise click.UsageError("--password-stdin: standard input held no password.")
    elif password is not None:
        click.echo(
            "Warning: --password is visible to other users in `ps` and stays in shell history; "
            "prefer the prompt or --password-stdin.",
            err=True,
        )
        value = password
    else:
        if not sys.stdin.isatty():
            raise click.UsageError("no password: use --password-stdin (no terminal to prompt on).")
        value = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    if len(value) < MIN_PASSWORD_LENGTH:
        raise click.UsageError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters.")
    return value
