"""Customers' attachments kept in our own storage.

Facebook's CDN URLs expire after a while, and an image shown from them tells Facebook who
looks at it. After the webhook has committed, a Celery task (messenger.tasks.attachments.attachments_download,
on the `downloads` queue) downloads each downloadable attachment of a customer's message
(image, video, audio, file: not a location, a shared link, a template or a sticker) into the
default storage under the organization and the message, and records on the attachment entry:

    "stored_name" (the storage name), "size" (bytes), "content_type"

next to the original "url"; or, when the file is not kept, "download_error" (readable) and
"download_error_code" (stable): not found, larger than Facebook's 25 MB limit, an address
the safe fetcher refuses (helpdesk.netfetch: not https, not a Facebook CDN host in
production, an address inside our network), or over the caps (10 files per message, 50 per
webhook POST: marked by `caps.attachments_cap` before the messages are stored).
Agents get the stored copy only through views that check who may see the conversation.

- `entries`: what an attachment entry says: downloadable or not, why a file is not kept;
- `caps`: the caps per message and per webhook POST, applied to a POST's message rows, and
  which inserted messages then have something to download;
- `fetching`: one download through the safe fetcher into our storage;
- `storage`: where a kept file lies in our storage and under what name;
- `downloads`: the service the task calls: download a message's files, or give up on them;
- `catch_up`: queue the downloads no task ever took up.

Callers import the module they need (`from messenger.services.attachments import downloads`).
"""

from __future__ import annotations

# The webhook's follow-ups share the catch-up window of the downloads and read it here.
from messenger.services.attachments.catch_up import CATCH_UP_AFTER, CATCH_UP_BATCH, CATCH_UP_WINDOW

__all__ = ["CATCH_UP_AFTER", "CATCH_UP_BATCH", "CATCH_UP_WINDOW"]
