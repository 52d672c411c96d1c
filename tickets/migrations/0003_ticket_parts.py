from django.db import migrations


def define_parts(apps, schema_editor):
    """Existing tickets already record their messages (first..last): they keep them as their
    part. Each is linked to the conversation's previous ticket, and where a conversation holds
    several active tickets (converting twice made a second one) only its newest stays active,
    the older ones are resolved with the messages they cover (the newer one takes what comes)."""
    Ticket = apps.get_model("tickets", "Ticket")
    previous_by_conversation = {}
    active_by_conversation = {}
    for ticket in Ticket.objects.order_by("conversation_id", "id").only("id", "conversation_id", "state").iterator():
        previous = previous_by_conversation.get(ticket.conversation_id)
        if previous is not None:
            Ticket.objects.filter(pk=ticket.pk).update(follow_up_of_id=previous)
        previous_by_conversation[ticket.conversation_id] = ticket.pk
        if ticket.state in ("open", "pending"):
            older = active_by_conversation.get(ticket.conversation_id)
            if older is not None:
                Ticket.objects.filter(pk=older).update(state="resolved")
            active_by_conversation[ticket.conversation_id] = ticket.pk


class Migration(migrations.Migration):
    dependencies = [("tickets", "0002_ticket_threads")]

    operations = [migrations.RunPython(define_parts, migrations.RunPython.noop)]
