# The fixtures come from tests/journeys/conftest.py; their names are parameters below.
"""The six journeys of the product in a real browser (Debian's chromium through Playwright),
against the helpdesk served by ``live_server`` and its Graph API sandbox playing Facebook:

1. an admin sets up a Messenger channel from nothing and keeps its page authorized;
2. an agent holds a conversation with a customer who writes from the sandbox's simulator,
   through the reply windows; another converts a chat to a ticket (twice) and answers from
   the ticket;
3. an agent who does not answer a channel never sees its conversations;
4. an agent who works in Japanese reads the product, its notices and emails in Japanese;
5. an admin turns on round robin for a channel, an agent goes online, and a customer's new
   conversation lands in the agent's "Mine" by itself;
6. an agent answers with a canned response that greets the customer by name, asks a colleague
   in a private note with an @ mention (never sent to Facebook), labels the conversation,
   finds it with the inbox's label filter and closes it with another in one bulk action.

Each ends with a screenshot of its last step among the test artifacts.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from django.core import mail
from django.db.models import F
from django.utils import timezone
from playwright.sync_api import expect

from canned import services as canned_services
from channels.models import Channel, DepartmentSettings
from helpdesk.models import Department, Membership, Notification, Role
from labels.models import Label
from messenger import tasks as messenger_tasks
from messenger.models import Contact, Conversation, FacebookPage, Message, PageStatus
from messenger.sandbox import customers, people, revocations
from messenger.sandbox.models import SandboxCustomer, SandboxCustomerMessage, SandboxSendCall
from tests import factories
from tests.channels.facebook import DEMO_PAGE, Facebook
from tests.channels.images import image_bytes
from tests.chromium import BROWSER_MARKS, new_page, screenshot
from tests.journeys.conftest import Worker
from tickets.models import Ticket

pytestmark = BROWSER_MARKS

SIMULATOR_POLL_MS = 2000
INBOX_POLL_MS = 2000
# Long enough for a couple of polls on a busy machine.
LIVE_TIMEOUT_MS = 10_000


def log_in(page: Any, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    # Signing in lands on the organization's home page; these journeys go on from the inbox.
    page.wait_for_url(re.compile(r".*/o/[\w-]+/$"))
    page.goto(f"{page.url}inbox/")


def alert_texts(page: Any) -> list[str]:
    """What the page's alerts and toasts say (a toast of an error is an alert, others a status)."""
    return [" ".join(text.split()) for text in page.locator("[role=alert], .hd-toast").all_inner_texts()]


# --------------------------------------------------------------------------- 1. the admin


def test_an_admin_sets_up_a_messenger_channel_and_keeps_its_page_authorized(
    chromium: Any, facebook: Facebook, worker: Worker, tmp_path: Any
) -> None:
    organization = factories.make_org("alpha", name="Alpha Retail")
    factories.make_member(organization, role=Role.ADMIN, username="alpha-admin")
    page = new_page(chromium)
    log_in(page, facebook.url, "alpha-admin")

    # A department for the team that will answer Messenger.
    page.get_by_role("link", name="Settings").click()
    page.get_by_label("New department").fill("Online shop")
    page.get_by_role("button", name="Add department").click()
    page.wait_for_selector("input[name=name][value='Online shop']")

    # Its first agent: invited by email, he chooses his own name, username and password.
    page.get_by_role("link", name="Members").click()
    page.get_by_label("Email address").fill("kenji@alpha.example")
    page.get_by_label("Role").select_option(label="Agent")
    page.get_by_label("Online shop").check()
    page.get_by_role("button", name="Send invitation").click()
    page.wait_for_selector("tr:has-text('kenji@alpha.example') >> text=Online shop")
    invitation_path = re.search(r"/invitations/[\w-]+/", mail.outbox[-1].body)
    assert invitation_path
    kenji = new_page(chromium)
    kenji.goto(f"{facebook.url}{invitation_path.group(0)}")
    kenji.get_by_label("First name").fill("Kenji")
    kenji.get_by_label("Last name").fill("Sato")
    kenji.get_by_label("Username").fill("kenji")
    kenji.get_by_label(re.compile(r"^Password\W*$")).fill(factories.PASSWORD)
    kenji.get_by_label("Password again").fill(factories.PASSWORD)
    kenji.get_by_role("button", name="Create account and join").click()
    kenji.wait_for_url(re.compile(r".*/o/alpha/$"))
    kenji.context.close()
    page.reload()
    page.wait_for_selector("tr:has-text('Kenji Sato') >> text=Online shop")

    # The channel, with an icon, and its Facebook Page linked through Facebook's dialog.
    icon = tmp_path / "shop-icon.png"
    icon.write_bytes(image_bytes("PNG", (64, 64), "orange"))
    page.get_by_role("link", name="Channels").click()
    page.get_by_role("link", name="Messenger").first.click()
    page.get_by_role("link", name="Create channel").click()
    page.get_by_label("Icon").set_input_files(str(icon))
    page.get_by_label("Name").fill("Web shop")
    page.get_by_label("Department").select_option(label="Online shop")
    page.get_by_role("button", name="Save and add Facebook Page").click()
    page.wait_for_url(re.compile(r".*/sandbox/dialog/.*"))
    assert page.get_by_label("pages_messaging").is_checked()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r".*/messenger/oauth/choose/.*"))
    page.get_by_label(re.compile("Demo Page")).check()
    page.get_by_role("button", name="Link the chosen Pages").click()
    page.wait_for_url(re.compile(r".*/settings/channels/\d+/$"))
    assert "“Demo Page” is linked and active." in alert_texts(page)
    assert page.locator("tr:has-text('Demo Page') .badge").get_by_text("Active").is_visible()
    current_icon = page.get_by_alt_text("Current icon")
    assert current_icon.evaluate("image => image.complete && image.naturalWidth") == 64
    channel = Channel.objects.get(organization=organization, name="Web shop")
    assert channel.department.name == "Online shop"

    # The agent answers this channel (Settings → Agents).
    page.get_by_role("link", name="Agents").click()
    page.get_by_role("link", name="Associate Kenji Sato").click()
    dialog = page.get_by_role("dialog", name="Channels of Kenji Sato")
    dialog.get_by_label("Web shop").check()
    dialog.get_by_role("button", name="Save").click()
    page.wait_for_selector("text=Channels of Kenji Sato saved.")
    assert page.locator("tr:has-text('Kenji Sato') .badge").all_inner_texts() == ["Web shop"]

    # Idle chats of the department become tickets after 90 minutes (Settings → Tickets).
    page.get_by_role("link", name="Tickets").last.click()
    page.get_by_label("Online shop").fill("90")
    page.get_by_role("button", name="Save").click()
    page.wait_for_selector("text=Ticket settings saved.")
    assert page.get_by_label("Online shop").input_value() == "90"
    department = Department.objects.get(organization=organization, name="Online shop")
    assert DepartmentSettings.objects.get(department=department).ticket_delay_minutes == 90

    # Disable the channel (confirmed in a dialog), then enable it again from the list.
    page.get_by_role("link", name="Channels").click()
    page.get_by_role("link", name="Messenger").first.click()
    page.get_by_role("link", name="Web shop").click()
    page.get_by_role("link", name="Disable channel").click()
    confirm = page.get_by_role("dialog", name="Disable “Web shop”?")
    assert "neither sends nor receives messages" in confirm.inner_text()
    confirm.get_by_role("button", name="Yes, disable").click()
    page.wait_for_selector("text=Channel disabled: it no longer sends or receives messages.")
    assert page.locator("h2 + .badge").inner_text() == "Disabled"
    page.get_by_role("button", name="Enable channel").click()
    page.wait_for_selector("text=Channel enabled.")
    assert page.locator("h2 + .badge").inner_text() == "Enabled"
    channel.refresh_from_db()
    assert channel.is_enabled

    # Facebook expires the page's token (the sandbox's controls, in another tab) ...
    controls = page.context.new_page()
    controls.goto(f"{facebook.url}/sandbox/")
    controls.locator("tr:has-text('Demo Page')").get_by_role("button", name="Expire page tokens").click()
    controls.wait_for_load_state()
    controls.close()
    # ... and a day later the product's hourly token check finds out.
    FacebookPage.objects.filter(channel=channel).update(token_checked_at=timezone.now() - timedelta(days=1, hours=1))
    messenger_tasks.token_expiry_sweep.apply()
    page.reload()
    row = page.locator("tr:has-text('Demo Page')")
    assert "Token expired" in row.inner_text()

    # Re-authorize: through Facebook's dialog again, and the page is active.
    row.get_by_role("link", name="Re-authorize Demo Page").click()
    page.wait_for_url(re.compile(r".*/sandbox/dialog/.*"))
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r".*/settings/channels/\d+/$"))
    assert "“Demo Page” is authorized again and active." in alert_texts(page)
    assert page.locator("tr:has-text('Demo Page') .badge").get_by_text("Active").is_visible()
    assert FacebookPage.objects.get(channel=channel).status == PageStatus.ACTIVE
    screenshot(page, "1-admin-page-authorized-again")


# --------------------------------------------------------------------------- 2. the agent


def _web_shop_answered_by_kenji() -> Channel:
    """What the admin's journey sets up: the "Web shop" channel with Facebook's Demo Page
    linked (a live sandbox token), answered by the agent Kenji Sato."""
    organization = factories.make_org("alpha", name="Alpha Retail")
    department = factories.make_department(organization, "Online shop")
    kenji = factories.make_member(
        organization, username="kenji", departments=[department], first_name="Kenji", last_name="Sato"
    )
    channel = factories.make_channel(organization, department, name="Web shop")
    factories.associate(kenji, channel)
    token = people.sandbox_page_token_issue(page_id=DEMO_PAGE)
    factories.make_page(channel, page_id=DEMO_PAGE, name="Demo Page", token=token)
    return channel


def _time_passes(conversation: Conversation, customer: SandboxCustomer, delta: timedelta) -> None:
    """Move the conversation into the past on both sides: the product's records of it and
    Facebook's (the sandbox checks the same windows on the Send API)."""
    Conversation.objects.filter(pk=conversation.pk).update(
        last_inbound_at=F("last_inbound_at") - delta,
        last_message_at=F("last_message_at") - delta,
        created_at=F("created_at") - delta,
    )
    Contact.objects.filter(pk=conversation.contact_id).update(created_at=F("created_at") - delta)
    Message.objects.filter(conversation=conversation).update(sent_at=F("sent_at") - delta)
    SandboxCustomer.objects.filter(pk=customer.pk).update(last_message_at=F("last_message_at") - delta)
    SandboxCustomerMessage.objects.filter(customer=customer).update(sent_at=F("sent_at") - delta)
    SandboxSendCall.objects.filter(page__page_id=customer.page.page_id, psid=customer.psid).update(
        created_at=F("created_at") - delta
    )


def test_an_agent_answers_a_customer_through_the_reply_windows(
    chromium: Any, facebook: Facebook, worker: Worker
) -> None:
    channel = _web_shop_answered_by_kenji()
    customer = SandboxCustomer.objects.get(page__page_id=DEMO_PAGE, first_name="Aiko")

    inbox = new_page(chromium)
    log_in(inbox, facebook.url, "kenji")
    assert inbox.get_by_text("No conversations yet.").is_visible()

    # The customer writes from Messenger (the simulator, in a browser of her own).
    messenger = new_page(chromium)
    messenger.goto(f"{facebook.url}/sandbox/simulator/{DEMO_PAGE}/")
    messenger.get_by_role("link", name=re.compile("Aiko Tanaka")).click()
    messenger.get_by_label("Message").fill("Bonjour — when will my parcel arrive?")
    messenger.get_by_role("button", name="Send", exact=True).click()
    messenger.wait_for_selector("#thread >> text=Bonjour — when will my parcel arrive?")
    worker.run_queued()  # the new contact's profile: her name

    # It shows up in the agent's inbox by itself, under her name.
    inbox.wait_for_selector("#conversation-list >> text=Aiko Tanaka", timeout=LIVE_TIMEOUT_MS)
    assert "Bonjour — when will my parcel arrive?" in inbox.locator("#conversation-list").inner_text()
    inbox.get_by_role("link", name=re.compile("Aiko Tanaka")).click()
    inbox.wait_for_selector("#transcript-panel >> text=Bonjour — when will my parcel arrive?")
    assert inbox.locator("#reply-window").inner_text().strip() == "Reply window: 23 h left"

    # The agent answers; a worker sends it through the Send API; Messenger shows it.
    inbox.get_by_label("Your reply").fill("Tomorrow morning, Aiko. Sorry for the wait!")
    inbox.get_by_role("button", name="Send").click()
    reply = inbox.locator("#transcript-panel li:has-text('Tomorrow morning, Aiko. Sorry for the wait!')")
    reply.get_by_text("Queued").wait_for()
    assert "messenger.sending.send_message" in worker.names()
    worker.run_queued()
    messenger.wait_for_selector("#thread >> text=Tomorrow morning, Aiko. Sorry for the wait!", timeout=LIVE_TIMEOUT_MS)

    # Messenger delivers it (the simulator's polling sends the delivery) and she reads it.
    reply.locator(".hd-tick[title=Delivered]").wait_for(timeout=LIVE_TIMEOUT_MS)
    messenger.get_by_role("button", name="Mark as read").click()
    reply.locator(".hd-tick-read[title=Read]").wait_for(timeout=LIVE_TIMEOUT_MS)
    assert messenger.locator("#thread .hd-tick-read").count() == 1

    # 1,601 characters are one too many: the counter says so and Send is off.
    inbox.get_by_label("Your reply").fill("é" * 1601)
    assert inbox.locator("#composer-count [data-count]").inner_text() == "1,601"
    assert "1 character too many" in inbox.locator("#composer-count").inner_text()
    assert inbox.get_by_role("button", name="Send").is_disabled()
    # Without JavaScript nothing stops the button: the server refuses the message.
    plain = new_page(chromium, java_script_enabled=False)
    log_in(plain, facebook.url, "kenji")
    plain.goto(inbox.url)
    plain.get_by_label("Your reply").fill("é" * 1601)
    plain.get_by_role("button", name="Send").click()
    assert "A message can be at most 1,600 characters." in alert_texts(plain)
    assert plain.get_by_label("Your reply").input_value() == "é" * 1601  # nothing typed is lost
    assert Message.objects.filter(conversation__channel=channel, direction="out").count() == 1
    plain.context.close()
    inbox.get_by_label("Your reply").fill("")

    # A day later only a human agent may answer, with the HUMAN_AGENT tag.
    conversation = Conversation.objects.get(channel=channel)
    _time_passes(conversation, customer, timedelta(hours=25))
    inbox.wait_for_selector("#reply-window >> text=Human agent window: 5 days left", timeout=LIVE_TIMEOUT_MS)
    assert "Sent with the human agent tag" in inbox.locator("#reply-window").inner_text()
    inbox.get_by_label("Your reply").fill("Did your parcel arrive safely?")
    inbox.get_by_role("button", name="Send").click()
    inbox.locator("#transcript-panel li:has-text('Did your parcel arrive safely?')").get_by_text("Queued").wait_for()
    worker.run_queued()
    late = messenger.locator("#thread .hd-bubble:has-text('Did your parcel arrive safely?')")
    late.wait_for(timeout=LIVE_TIMEOUT_MS)
    assert "HUMAN_AGENT" in late.inner_text()
    inbox.locator("#transcript-panel li:has-text('Did your parcel arrive safely?')").get_by_text(
        "human agent"
    ).wait_for(timeout=LIVE_TIMEOUT_MS)

    # After seven days the window is closed: the composer turns itself off.
    _time_passes(conversation, customer, timedelta(days=7))
    inbox.wait_for_selector(
        "#reply-window >> text=Window closed: the customer must write first", timeout=LIVE_TIMEOUT_MS
    )
    assert inbox.get_by_label("Your reply").is_disabled()
    assert inbox.get_by_role("button", name="Send").is_disabled()
    inbox.locator("#conversation-list .hd-window-closed").wait_for(timeout=LIVE_TIMEOUT_MS)
    screenshot(inbox, "2-agent-window-closed")


def test_an_agent_turns_a_chat_into_a_ticket_and_answers_from_it(
    chromium: Any, facebook: Facebook, worker: Worker
) -> None:
    _web_shop_answered_by_kenji()
    inbox = new_page(chromium)
    log_in(inbox, facebook.url, "kenji")

    messenger = new_page(chromium)
    messenger.goto(f"{facebook.url}/sandbox/simulator/{DEMO_PAGE}/")
    messenger.get_by_role("link", name=re.compile("Aiko Tanaka")).click()
    messenger.get_by_label("Message").fill("My parcel arrived broken")
    messenger.get_by_role("button", name="Send", exact=True).click()
    messenger.wait_for_selector("#thread >> text=My parcel arrived broken")
    worker.run_queued()

    inbox.wait_for_selector("#conversation-list >> text=Aiko Tanaka", timeout=LIVE_TIMEOUT_MS)
    inbox.get_by_role("link", name=re.compile("Aiko Tanaka")).click()
    inbox.wait_for_selector("#transcript-panel >> text=My parcel arrived broken")
    conversation_url = inbox.url
    inbox.get_by_role("button", name="Convert to ticket").click()
    inbox.wait_for_url(re.compile(r".*/tickets/\d+/$"))
    ticket = Ticket.objects.get()
    assert inbox.get_by_role("heading", level=1).inner_text() == "My parcel arrived broken"
    inbox.wait_for_selector("#ticket-transcript .hd-bubble-in >> text=My parcel arrived broken")

    # Converting the same chat again takes the agent to the ticket that is already open.
    inbox.goto(conversation_url)
    inbox.get_by_role("button", name="Convert to ticket").click()
    inbox.wait_for_url(re.compile(rf".*/tickets/{ticket.pk}/$"))
    assert f"This conversation already has an open ticket: #{ticket.pk}." in " ".join(
        inbox.locator(".alert").all_inner_texts()
    )
    assert Ticket.objects.count() == 1

    # A reply from the ticket page is in its thread at once, then its ticks follow live.
    inbox.get_by_label("Reply", exact=True).fill("Sorry! A replacement leaves today.")
    inbox.get_by_role("button", name="Send reply").click()
    reply = inbox.locator("#ticket-transcript li:has-text('Sorry! A replacement leaves today.')")
    reply.get_by_text("Queued").wait_for()
    worker.run_queued()
    messenger.wait_for_selector("#thread >> text=Sorry! A replacement leaves today.", timeout=LIVE_TIMEOUT_MS)
    reply.locator(".hd-tick[title=Delivered]").wait_for(timeout=LIVE_TIMEOUT_MS)

    # The customer's answer joins the open ticket by itself.
    messenger.get_by_label("Message").fill("Thank you!")
    messenger.get_by_role("button", name="Send", exact=True).click()
    inbox.wait_for_selector("#ticket-transcript .hd-bubble-in >> text=Thank you!", timeout=LIVE_TIMEOUT_MS)
    assert "Agent Agent" not in inbox.locator("#ticket-transcript").inner_text()
    screenshot(inbox, "2-agent-ticket-thread")


# --------------------------------------------------------------------------- 3. isolation


def test_an_agent_who_does_not_answer_a_channel_never_sees_its_conversations(
    chromium: Any, facebook: Facebook, worker: Worker
) -> None:
    shop = _web_shop_answered_by_kenji()
    # Mai works in the same department but does not answer this channel.
    factories.make_member(shop.organization, username="mai", departments=[shop.department], first_name="Mai")
    customer = SandboxCustomer.objects.get(page__page_id=DEMO_PAGE, first_name="Aiko")
    customers.sandbox_customer_message(page_id=DEMO_PAGE, psid=customer.psid, text="I would like to return my shoes")
    worker.run_queued()
    conversation = Conversation.objects.get(channel=shop)

    # The agent of the channel sees it ...
    kenji_page = new_page(chromium)
    log_in(kenji_page, facebook.url, "kenji")
    assert "I would like to return my shoes" in kenji_page.locator("#conversation-list").inner_text()

    # ... the other agent of the same department does not, even after the list refreshed.
    mai_page = new_page(chromium)
    log_in(mai_page, facebook.url, "mai")
    with mai_page.expect_response(re.compile(r".*/inbox/list/.*")):
        pass
    assert mai_page.get_by_text("No conversations yet.").is_visible()
    assert "Aiko" not in mai_page.locator("#conversation-list").inner_text()
    assert "Web shop" not in mai_page.get_by_label("Channel").inner_text()

    # Its address, typed in, is not found.
    response = mai_page.goto(f"{facebook.url}/o/alpha/inbox/{conversation.pk}/")
    assert response is not None and response.status == 404
    assert mai_page.get_by_role("heading", name="Page not found").is_visible()
    assert "I would like to return my shoes" not in mai_page.content()
    assert mai_page.get_by_role("link", name="Back to the inbox").get_attribute("href") == "/o/alpha/inbox/"
    screenshot(mai_page, "3-isolation-not-found")


# --------------------------------------------------------------------------- 4. in Japanese


def test_an_agent_who_works_in_japanese_reads_the_product_and_its_notices_in_japanese(
    chromium: Any, facebook: Facebook, worker: Worker
) -> None:
    shop = _web_shop_answered_by_kenji()
    organization = shop.organization
    assert organization.language == "en"
    # An admin who reads Japanese, and gets the page's notices by email.
    factories.make_member(organization, role=Role.ADMIN, username="yui", email="yui@alpha.example")
    Membership.objects.filter(organization=organization, user__username="yui").update(
        language="ja", time_zone="Asia/Tokyo"
    )

    # Kenji chooses Japanese and Tokyo's time in his Preferences: the product answers in Japanese.
    page = new_page(chromium)
    log_in(page, facebook.url, "kenji")
    page.goto(f"{facebook.url}/o/alpha/preferences/")
    page.get_by_label("Language").select_option(label="日本語")
    page.get_by_label("Time zone").select_option("Asia/Tokyo")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("status").filter(has_text="個人設定を保存しました。").wait_for()
    assert page.locator("html").get_attribute("lang") == "ja"

    # A customer writes: the notice of the new conversation reads Japanese to him...
    customer = SandboxCustomer.objects.get(page__page_id=DEMO_PAGE, first_name="Aiko")
    customers.sandbox_customer_message(page_id=DEMO_PAGE, psid=customer.psid, text="注文した靴が届きません")
    worker.run_queued()
    notice = Notification.objects.get(user__username="kenji")
    page.goto(f"{facebook.url}/o/alpha/notifications/")
    item = page.locator(f"a[href$='/notifications/{notice.pk}/']")
    assert "との新しい会話" in item.inner_text()
    assert "New conversation" not in page.locator("main").inner_text()
    # ... and opening it takes him to the conversation and marks it read.
    item.click()
    page.wait_for_url(re.compile(r".*/o/alpha/inbox/\d+/$"))
    assert "注文した靴が届きません" in page.locator("#transcript-panel").inner_text()
    notice.refresh_from_db()
    assert notice.read_at is not None
    screenshot(page, "4-japanese-conversation")

    # Facebook expires the page's token; the hourly check tells the admins, each in their language.
    assert revocations.sandbox_tokens_expire(page_id=DEMO_PAGE) >= 1
    FacebookPage.objects.filter(channel=shop).update(token_checked_at=timezone.now() - timedelta(days=1, hours=1))
    mail.outbox.clear()
    messenger_tasks.token_expiry_sweep.apply()
    worker.run_queued()
    [email] = [message for message in mail.outbox if message.to == ["yui@alpha.example"]]
    assert "再認証が必要です" in email.subject
    assert "トークンの有効期限切れ" in email.body


# --------------------------------------------------------------------------- 5. routing


def test_a_new_conversation_lands_in_the_online_agents_mine_by_round_robin(
    chromium: Any, facebook: Facebook, worker: Worker
) -> None:
    shop = _web_shop_answered_by_kenji()
    organization = shop.organization
    factories.make_member(organization, role=Role.ADMIN, username="alpha-admin")
    # Mai answers the channel too, but she has not come online: round robin passes her by.
    mai = factories.make_member(
        organization, username="mai", departments=[shop.department], first_name="Mai", last_name="Ito"
    )
    factories.associate(mai, shop)

    # The admin turns on round robin on the channel's page (Settings → Channels).
    admin = new_page(chromium)
    log_in(admin, facebook.url, "alpha-admin")
    admin.get_by_role("link", name="Settings").click()
    admin.get_by_role("link", name="Channels").click()
    admin.get_by_role("link", name="Messenger").first.click()
    admin.get_by_role("link", name="Web shop").click()
    admin.get_by_label("Automatic assignment").select_option(label="Round robin")
    admin.get_by_role("button", name="Save", exact=True).click()
    admin.wait_for_selector("text=Channel saved.")
    assert admin.get_by_label("Automatic assignment").input_value() == "round_robin"
    shop.refresh_from_db()
    assert shop.assignment_mode == "round_robin"

    # Kenji signs in: signing in leaves him offline, so he goes online from the header's menu.
    inbox = new_page(chromium)
    log_in(inbox, facebook.url, "kenji")
    status_menu = inbox.get_by_role("button", name=re.compile("^Your status: Offline"))
    status_menu.click()
    inbox.get_by_role("button", name="Online", exact=True).click()
    inbox.get_by_role("button", name=re.compile("^Your status: Online")).wait_for()
    assert inbox.url.endswith("/o/alpha/inbox/")  # the switch brings him back where he was
    assert worker.run_queued() == ["messenger.routing.drain_agent"]  # the queue is empty yet
    inbox.get_by_role("link", name=re.compile("^Mine")).click()
    inbox.wait_for_url(re.compile(r".*/inbox/\?view=mine$"))
    assert inbox.get_by_text("No conversation is assigned to you.").is_visible()

    # A customer writes from Messenger (the simulator, in a browser of her own).
    messenger = new_page(chromium)
    messenger.goto(f"{facebook.url}/sandbox/simulator/{DEMO_PAGE}/")
    messenger.get_by_role("link", name=re.compile("Aiko Tanaka")).click()
    messenger.get_by_label("Message").fill("Hello, can I still change my delivery address?")
    messenger.get_by_role("button", name="Send", exact=True).click()
    messenger.wait_for_selector("#thread >> text=Hello, can I still change my delivery address?")
    ran = worker.run_queued()  # her profile, and the drain of the channel's queue she joined
    assert "messenger.routing.drain_channel" in ran, ran

    # Round robin gave it to Kenji: it shows up in his "Mine" by itself, counted.
    inbox.wait_for_selector("#conversation-list >> text=Aiko Tanaka", timeout=LIVE_TIMEOUT_MS)
    inbox.wait_for_selector("#inbox-view-count-mine >> text=1", timeout=LIVE_TIMEOUT_MS)
    conversation = Conversation.objects.get(channel=shop)
    assert conversation.assignee is not None and conversation.assignee.username == "kenji"
    inbox.get_by_role("link", name=re.compile("Aiko Tanaka")).click()
    inbox.wait_for_selector("#transcript-panel >> text=Hello, can I still change my delivery address?")
    system_line = inbox.locator("#transcript-panel .hd-system-line", has_text="round robin")
    assert "Assigned to Kenji Sato by round robin." in system_line.inner_text()
    screenshot(inbox, "5-routing-assigned-by-round-robin")


# --------------------------------------------------------------------------- 6. the toolkit


def test_an_agent_answers_with_a_canned_response_asks_a_colleague_in_a_note_and_closes_in_bulk(
    chromium: Any, facebook: Facebook, worker: Worker
) -> None:
    shop = _web_shop_answered_by_kenji()
    organization = shop.organization
    admin = factories.make_member(organization, role=Role.ADMIN, username="alpha-admin")
    hanako = factories.make_member(
        organization,
        username="hanako",
        departments=[shop.department],
        first_name="Hanako",
        last_name="Mori",
        email="hanako@alpha.example",
    )
    factories.associate(hanako, shop)
    # What the admin prepared: a shared canned response and a label.
    canned_services.canned_response_create(
        organization=organization,
        membership=admin,
        acting_user=admin.user,
        scope="organization",
        shortcut="parcel",
        title="Parcel on its way",
        body_en="Hello {{contact.first_name}}, your parcel left our warehouse this morning.",
    )
    refund = Label.objects.create(organization=organization, name="Refund", color="red")
    # An older conversation of the channel, answered already, that the agent tidies up too.
    other_contact = factories.make_contact(FacebookPage.objects.get(channel=shop), display_name="Ken Ono")
    older = factories.make_conversation(FacebookPage.objects.get(channel=shop), other_contact)
    factories.make_message(older, text="Thanks, all good!")

    # The customer writes from Messenger.
    messenger = new_page(chromium)
    messenger.goto(f"{facebook.url}/sandbox/simulator/{DEMO_PAGE}/")
    messenger.get_by_role("link", name=re.compile("Aiko Tanaka")).click()
    messenger.get_by_label("Message").fill("Where is my parcel? I may want a refund.")
    messenger.get_by_role("button", name="Send", exact=True).click()
    messenger.wait_for_selector("#thread >> text=Where is my parcel? I may want a refund.")
    worker.run_queued()  # her profile: her name

    inbox = new_page(chromium)
    log_in(inbox, facebook.url, "kenji")
    inbox.wait_for_selector("#conversation-list >> text=Aiko Tanaka", timeout=LIVE_TIMEOUT_MS)
    inbox.get_by_role("link", name=re.compile("Aiko Tanaka")).click()
    inbox.wait_for_selector("#transcript-panel >> text=Where is my parcel? I may want a refund.")

    # "/" and a few letters of the title: the canned response fills the composer with her name.
    composer = inbox.locator("#composer-text")
    composer.click()
    inbox.keyboard.type("/parc")
    inbox.locator("#canned-listbox [role=option]").first.wait_for()
    inbox.keyboard.press("Enter")
    expected = "Hello Aiko, your parcel left our warehouse this morning."
    expect(composer).to_have_value(expected)
    inbox.keyboard.type(" It arrives tomorrow.")
    inbox.get_by_role("button", name="Send").click()
    inbox.locator(f"#transcript-panel li:has-text('{expected} It arrives tomorrow.')").wait_for()
    worker.run_queued()
    messenger.wait_for_selector(f"#thread >> text={expected} It arrives tomorrow.", timeout=LIVE_TIMEOUT_MS)

    # A private note for Hanako, with an @ mention picked from the list.
    inbox.click("#composer-mode-note")
    composer.click()
    inbox.keyboard.type("She may ask for a refund, can you check the order @hana")
    inbox.wait_for_selector("#composer-mentions [role=option] >> text=Hanako Mori")
    inbox.keyboard.press("Enter")
    inbox.get_by_role("button", name="Add note").click()
    inbox.wait_for_selector("#transcript-panel .hd-note >> text=@Hanako Mori")
    worker.run_queued()
    # The note stays in the team: Facebook got the reply and nothing else.
    calls = SandboxSendCall.objects.filter(page__page_id=DEMO_PAGE)
    assert [call.text for call in calls if not call.sender_action] == [f"{expected} It arrives tomorrow."]
    assert not any("check the order" in json.dumps(call.request_body) for call in calls)
    messenger.wait_for_timeout(SIMULATOR_POLL_MS)
    assert "check the order" not in messenger.locator("#thread").inner_text()

    # Hanako is told: in the app, and by email.
    assert any(message.to == ["hanako@alpha.example"] for message in mail.outbox)
    colleague = new_page(chromium)
    log_in(colleague, facebook.url, "hanako")
    colleague.goto(f"{facebook.url}/o/alpha/notifications/")
    notice = colleague.locator("main a", has_text="Kenji Sato mentioned you in a note")
    notice.first.click()
    colleague.wait_for_selector("#transcript-panel .hd-note >> text=can you check the order")

    # Kenji labels the conversation "Refund" and finds it with the label filter.
    inbox.select_option("#conversation-label-add", label="Refund")
    inbox.click("#conversation-label-add-button")
    inbox.wait_for_selector("#conversation-labels >> text=Remove the label Refund")
    inbox.goto(f"{facebook.url}/o/alpha/inbox/")
    inbox.click("#inbox-labels-summary")
    inbox.check(f"#inbox-label-{refund.pk}")
    inbox.click("text=Apply labels")
    inbox.wait_for_url(re.compile(rf".*/o/alpha/inbox/\?.*label={refund.pk}.*"))
    assert inbox.locator(".hd-contact-name").all_inner_texts() == ["Aiko Tanaka"]

    # Back to all of them: both conversations closed in one bulk action.
    inbox.goto(f"{facebook.url}/o/alpha/inbox/")
    aiko = Conversation.objects.get(channel=shop, contact__first_name="Aiko")
    inbox.click(f"#bulk-check-{aiko.pk}")
    inbox.click(f"#bulk-check-{older.pk}", modifiers=["Shift"])
    assert inbox.inner_text("#bulk-count") == "2 selected"
    inbox.click("#bulk-form [data-bulk-action=close]")
    inbox.wait_for_selector("#toasts >> text=Conversations closed: 2.")
    inbox.wait_for_selector(f"#conversation-link-{aiko.pk} >> text=Closed")
    assert set(Conversation.objects.filter(channel=shop).values_list("state", flat=True)) == {"closed"}
    screenshot(inbox, "6-toolkit-bulk-closed")
