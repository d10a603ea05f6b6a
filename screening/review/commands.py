"""``screening review ...``: the committee review's periodic job by hand (the blueprint's command group)."""

import click
from flask.cli import with_appcontext

from screening.review import tasks


@click.command("notify-overdue")
@with_appcontext
def notify_overdue_command():
    """Notify the committees about cases past their due date (once per case; beat does this hourly)."""
    ids = tasks.notify_overdue()
    click.echo(f"notified {len(ids)} overdue case(s)" + (f": {', '.join(map(str, ids))}" if ids else ""))
