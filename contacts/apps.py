from __future__ import annotations

from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "contacts"
    verbose_name = "Contacts"

    def ready(self) -> None:
        from contacts import receivers
        from privacy.signals import contact_erased

        contact_erased.connect(receivers.contact_erased, dispatch_uid="contacts.contact_erased")
