"""What a message's text may be, for every kind of channel and every writer of it: an
agent's reply (messenger.services.sending.reply_rules) and the texts the product sends by
itself (a department's out-of-hours reply, channels.hours). Kept here, below the apps that
send, so that the settings of a department can be held to the same limit as a reply."""

from __future__ import annotations

# The longest message, in Unicode code points (the Send API itself takes more).
# The one place of this rule: the services, their errors, the API's schema, the composers'
# counters and hints all read it here (through reply_rules for the messenger app).
MAX_TEXT_LENGTH = 1600


def text_length(text: str) -> int:
    """Characters as the product counts them: Unicode code points (JS ``[...text].length``)."""
    return len(text)


def normalize_text(text: str) -> str:
    # Browsers submit a textarea's line breaks as CRLF; the counter in the page sees LF.
    # NUL is no character of a message (and PostgreSQL text cannot hold it): it is dropped.
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").strip()
