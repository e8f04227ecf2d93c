"""Delivery: how a finished run reaches people and systems, by job.

    recipients.py     who gets what (export mail, failure alert, success notice, weekly summary)
    render.py         subjects, bodies (templates/emails/), attachments or links
    display.py        times, dates, sizes and periods as mails show them
    files.py          the files a finished run produced (RunFile, files_of)
    policy.py         retry backoff, giving up, the sending lease, the attachment limit
    outbox.py         the queue (mail_messages): enqueue, de-duplication, claim, record, retry
    channels.py       the channel interface (Channel, RunFile, Attempt, DeliveryResult) and registry
    email_channel.py  e-mail, the first channel; the per-run mail service
    email_sending.py  one SMTP connection a pass, refusals, the daily quota's holds, the run's record
    mailer.py         SMTP with timeouts, per-recipient answers, the development outbox
    quota.py          MAIL_DAILY_LIMIT_PER_BUSINESS
    dispatch.py       what the runner and scheduler call: deliver a run, pass over the outbox
    summary.py        the weekly summary

The channel interface (channels.py). A channel is a `Channel` subclass with a `kind` and three
methods; the outbox does everything else (queue, retry with backoff, give up, lease, de-duplicate):

    queue(run, files, destination=None, index=0, now=None) -> int
        put the run's deliveries in the outbox with `outbox.enqueue(..., channel=self.kind,
        key_parts=(self.kind, run.id, index))` (a dedupe key per target: never twice); commit.
    attempt(row) -> Attempt(outcome, error)
        one try at one queued row: ACCEPTED, TRANSIENT (retried with backoff), PERMANENT or
        UNCERTAIN (retried after the lease). Never raises for a delivery problem.
    record(run_id) -> None   (optional)
        mirror the channel's rows onto the run (e-mail writes `email_delivery`).

`deliver(run, files, destination, index) -> DeliveryResult` (queue, attempt now, record, report
per target) is inherited. `files` is a list of `RunFile` (files.py). A new channel is a module beside email_channel.py (or in its own package) whose
class is decorated with `@register` and whose module is listed in `channels.CHANNEL_MODULES`;
`dispatch.channels_for(run)` hands it each of the schedule's `destinations` of its kind.
"""

from dashboard.delivery.dispatch import deliver_run_result, process_outbox
from dashboard.delivery.summary import send_export_summary_report

__all__ = ["deliver_run_result", "process_outbox", "send_export_summary_report"]
