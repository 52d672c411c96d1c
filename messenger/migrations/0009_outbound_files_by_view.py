"""Agents' files sent before they were served by the attachment views carried a public
/media/ address in "url"; they become a "stored_name" like the others (the address no
longer serves anything), so the transcript links them through the view and a retry uploads
them to Facebook."""

from urllib.parse import unquote, urlsplit

from django.db import migrations

OUTBOUND_PREFIX = "messenger/outbound/"
BATCH = 500


def _stored(entry):
    if not isinstance(entry, dict) or entry.get("stored_name") or not isinstance(entry.get("url"), str):
        return None
    path = unquote(urlsplit(entry["url"]).path)
    at = path.find("/" + OUTBOUND_PREFIX)
    if at < 0:
        return None
    moved = {key: value for key, value in entry.items() if key != "url"}
    moved["stored_name"] = path[at + 1 :]
    return moved


def outbound_urls_to_stored_names(apps, schema_editor):
    Message = apps.get_model("messenger", "Message")
    changed = []
    rows = Message.objects.filter(direction="out", kind="attachment").only("pk", "attachments")
    for message in rows.iterator(chunk_size=BATCH):
        attachments = message.attachments if isinstance(message.attachments, list) else []
        moved = [_stored(entry) for entry in attachments]
        if any(entry is not None for entry in moved):
            message.attachments = [new or old for new, old in zip(moved, attachments, strict=True)]
            changed.append(message)
        if len(changed) >= BATCH:
            Message.objects.bulk_update(changed, ["attachments"])
            changed = []
    if changed:
        Message.objects.bulk_update(changed, ["attachments"])


class Migration(migrations.Migration):
    dependencies = [("messenger", "0008_reliability")]

    operations = [migrations.RunPython(outbound_urls_to_stored_names, migrations.RunPython.noop, elidable=True)]
