"""Reminders (SPEC §4.6): REMINDERS_BEFORE_SECONDS before an event, each visitor confirmed
before that moment gets one notice — once per registration, offset and event time.

Every replica runs the loop. A round (event, offset, event time) is claimed by writing its
`EventReminder` row in the unit of work that queues its notices, so that one process does each
round, and a round that rolled back (a crash) is claimed again; each notice's outbox key says
the same once more. A moved event has a new time, and so new rounds; a cancelled one, or one
that has started, has none.
"""

import uuid
from datetime import datetime, timedelta

from app.core.database import Database, UnitOfWork, utcnow
from app.events.service import Catalogue
from app.outbox.service import Outbox
from app.provider.records import CANCELLED_PROVIDER_STATUS
from app.registrations.lifecycle import Surroundings
from app.registrations.notices import Notices
from app.registrations.repository import RegistrationRepository
from app.tickets.repository import TicketRepository


async def send_due_reminders(database: Database, around: Surroundings) -> int:
    """One round of the loop: every reminder due now, each event's in a unit of work of its
    own. Returns how many were queued."""
    now = utcnow()
    queued = 0
    for offset in around.settings.reminder_offsets:
        async with database.transaction() as work:
            until = now + timedelta(seconds=offset)
            due = await TicketRepository(work.session).events_due_a_reminder(offset, now, until)
        for event_id, event_time in due:
            async with database.transaction() as work:
                queued += await _remind(work, around, event_id, event_time, offset)
    return queued


async def _remind(
    work: UnitOfWork, around: Surroundings, event_id: uuid.UUID, event_time: datetime, offset: int
) -> int:
    event = await Catalogue(work, around.catalogue_version).read(event_id)
    if event.event_time != event_time or event.provider_status == CANCELLED_PROVIDER_STATUS:
        return 0  # changed since it was found: the next round sees it as it is
    rounds = TicketRepository(work.session)
    if not await rounds.start_reminder_round(event_id, offset, event_time):
        return 0  # another process did it
    registrations = RegistrationRepository(work.session)
    notices = Notices(Outbox(work, around.relay_wake), around.settings.public_base)
    window_opened = event_time - timedelta(seconds=offset)
    visitors = await registrations.confirmed_before(event_id, window_opened)
    for registration in visitors:
        notice_id = await notices.reminder(registration, event, event.venue, offset)
        await registrations.set_notice(registration.id, notice_id)
    await rounds.finish_reminder_round(event_id, offset, event_time, len(visitors))
    if visitors:
        work.after_commit(lambda: around.metrics.reminders_sent.inc(len(visitors)))
    return len(visitors)
