"""E-mail notifications, sent by the outbox after the change that causes them is committed.

    notify(session, "decision_issued", recipients=[researcher],
           context={"proposal_id": 7, "proposal_title": "…", "outcome": "approved"})

* ``service.notify`` checks the event, the recipients and the context (plain values only: ids,
  strings, numbers, dates; never ORM objects) and enqueues ONE ``mail.send`` outbox message per
  recipient in the caller's transaction. Nothing leaves before commit; a rollback sends nothing.
* Events are data (``events.EVENTS``, ``events.register_event``): the context keys each needs,
  allowed values, the default link and an example context that the tests render in every
  language. Each feature registers its own in its ``notifications.py``.
* The ``mail.send`` handler (``tasks``) renders ``templates/mail/<event>.<language>.txt`` (blocks
  ``subject`` and ``body``) in an immutable sandbox with autoescape on for every template
  (``render``), adds an HTML alternative, and hands the message to a ``transports.MailTransport``
  (SMTP, .eml files, memory).
* Idempotency, at-least-once: the message is sent, then a ``SentMail`` row (unique per outbox
  message) is written in the transaction that marks the outbox message done. A crash between the
  two sends the mail again on retry, with the same ``Message-ID``; a message whose row exists is
  never sent again. See docs/web.md, "Notifications".
"""
