from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("tickets", "0003_ticket_parts")]

    operations = [
        migrations.AddConstraint(
            model_name="ticket",
            constraint=models.UniqueConstraint(
                condition=models.Q(("state__in", ["open", "pending"])),
                fields=("organization", "conversation"),
                name="ticket_one_active_per_conversation",
            ),
        ),
    ]
