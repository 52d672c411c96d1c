"""Re-encrypt every stored page token under the newest key of TOKEN_ENCRYPTION_KEYS.

Rotation: put the new key first in TOKEN_ENCRYPTION_KEYS (keep the old ones after it),
deploy, run this command, then drop the old keys.
"""

from __future__ import annotations

from typing import Any

from cryptography.fernet import InvalidToken
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from messenger.crypto import TokenDecryptionError, reencrypt_token
from messenger.models import FacebookPage

BATCH = 500


class Command(BaseCommand):
    help = "Re-encrypt all Facebook Page tokens with the newest TOKEN_ENCRYPTION_KEYS key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=BATCH)

    def handle(self, *args: Any, **options: Any) -> None:
        batch_size = max(1, options["batch_size"])
        rotated = 0
        unreadable: list[int] = []
        last_pk = 0
        while True:
            with transaction.atomic():
                pages = list(
                    FacebookPage.objects.select_for_update()
                    .exclude(access_token_encrypted="")
                    .filter(pk__gt=last_pk)
                    .order_by("pk")
                    .only("pk", "access_token_encrypted")[:batch_size]
                )
                if not pages:
                    break
                last_pk = pages[-1].pk
                changed = []
                for page in pages:
                    try:
                        page.access_token_encrypted = reencrypt_token(page.access_token_encrypted)
                    except (TokenDecryptionError, InvalidToken):
                        unreadable.append(page.pk)
                        continue
                    changed.append(page)
                FacebookPage.objects.bulk_update(changed, ["access_token_encrypted"])
                rotated += len(changed)
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {rotated} page token(s) under the newest key."))
        if unreadable:
            # The ids only: never a token, not even an encrypted one.
            raise CommandError(
                f"{len(unreadable)} token(s) could not be decrypted with any configured key "
                f"(FacebookPage ids {', '.join(map(str, unreadable[:50]))}); those pages need re-authorization."
            )
