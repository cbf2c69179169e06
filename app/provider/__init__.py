"""The provider's side of the contract (SPEC §6): its event records as we read them, its statuses,
and what applying a batch of them changed. Imports nothing of ours but app.core: the catalogue,
the registrations, the sync and the stream all build on it."""
