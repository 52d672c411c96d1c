"""Japanese UI: every string is translated, the organization's language and time zone apply.

The catalogue check reads the sources themselves (templates through Django's own
`templatize`, Python through its AST), so a string added later without a Japanese
translation fails here, even if nobody ran makemessages.

`messenger/sandbox/**` is left out on purpose: the sandbox stands in for Facebook, whose
screens Facebook localises itself; it is not part of the helpdesk's UI.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.template.base import Lexer, TokenType
from django.utils import translation
from django.utils.translation.template import templatize

from helpdesk.models import Notification
from messenger.models import Direction
from tests import factories
from tests.conftest import Tenant, api_client_for

BASE_DIR = Path(settings.BASE_DIR)
APPS = (
    "helpdesk",
    "availability",
    "channels",
    "live",
    "labels",
    "sla",
    "messenger",
    "tickets",
    "csat",
    "canned",
    "home",
    "reports",
    "privacy",
    "outgoing",
    "contacts",
)
SKIPPED_PARTS = {"migrations", "sandbox", "tests", "bench", "__pycache__"}

# Strings whose Japanese is legitimately the same as the English. Keep this tiny.
SAME_IN_JAPANESE = {
    "Messenger",  # Facebook's product name, written in Latin letters in Japanese too.
    # The inbox's keyboard shortcuts (context "key"): the keys are the same on a Japanese keyboard.
    *("a", "c", "j", "k", "l", "n", "r", "s", "x", "Enter", "Esc"),
}

GETTEXT_FUNCTIONS = {
    "_",
    "gettext",
    "gettext_lazy",
    "pgettext",
    "pgettext_lazy",
    "ngettext",
    "ngettext_lazy",
    "npgettext",
    "npgettext_lazy",
}

# (context or None, singular, plural or None), and where it was found.
Msg = tuple[str | None, str, str | None]


def _message_from_call(name: str, literals: list[str]) -> Msg | None:
    """The message of one gettext-family call, given its leading string literals."""
    has_context = name.startswith(("pgettext", "npgettext"))
    plural = name.startswith(("ngettext", "npgettext"))
    needed = 1 + has_context + plural
    if len(literals) < needed:
        return None
    context = literals[0] if has_context else None
    singular = literals[1 if has_context else 0]
    return (context, singular, literals[needed - 1] if plural else None)


def _project_files(pattern: str) -> list[Path]:
    return sorted(
        path
        for app in APPS
        for path in (BASE_DIR / app).rglob(pattern)
        if not SKIPPED_PARTS.intersection(path.relative_to(BASE_DIR).parts)
    )


def _template_messages() -> dict[Msg, str]:
    """What makemessages would find in the templates: templatize, then read the gettext calls."""
    found: dict[Msg, str] = {}
    call = re.compile(r"\b(n?p?gettext|_)\(")
    for path in _project_files("templates/**/*.html"):
        source = templatize(path.read_text(encoding="utf-8"), origin=str(path))
        for match in call.finditer(source):
            literals: list[str] = []
            depth = 0
            tokens = tokenize.generate_tokens(io.StringIO(source[match.end() - 1 :]).readline)
            try:
                for token in tokens:
                    if token.type == tokenize.OP and token.string == "(":
                        depth += 1
                    elif token.type == tokenize.OP and token.string == ")":
                        depth -= 1
                        if depth == 0:
                            break
                    elif token.type == tokenize.STRING and depth == 1:
                        literals.append(ast.literal_eval(token.string))
            except (tokenize.TokenError, IndentationError):
                pass
            message = _message_from_call(match.group(1), literals)
            if message is not None:
                found.setdefault(message, str(path.relative_to(BASE_DIR)))
    return found


def _python_messages() -> dict[Msg, str]:
    found: dict[Msg, str] = {}
    for path in _project_files("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name not in GETTEXT_FUNCTIONS:
                continue
            literals = []
            for argument in node.args:
                if not (isinstance(argument, ast.Constant) and isinstance(argument.value, str)):
                    break
                literals.append(argument.value)
            message = _message_from_call(name, literals)
            if message is not None:
                found.setdefault(message, f"{path.relative_to(BASE_DIR)}:{node.lineno}")
    return found


def _japanese(message: Msg) -> list[str]:
    """The Japanese strings of a message that are still English (empty when translated)."""
    context, singular, plural = message
    with translation.override("ja"):
        if plural is None:
            translated = translation.pgettext(context, singular) if context else translation.gettext(singular)
            return [singular] if translated == singular else []
        untranslated = []
        for count, english in ((1, singular), (5, plural)):
            if context:
                translated = translation.npgettext(context, singular, plural, count)
            else:
                translated = translation.ngettext(singular, plural, count)
            if translated == english:
                untranslated.append(english)
        return untranslated


def _po_messages(path: Path) -> set[tuple[str | None, str]]:
    """(context, msgid) of every entry of a .po file (a small reader: enough for our catalogues)."""
    entries: set[tuple[str | None, str]] = set()
    context: str | None = None
    current: str | None = None
    field = ""
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if line.startswith(("msgctxt ", "msgid ", "msgid_plural ", "msgstr")) or not line.strip():
            if field == "msgid" and current is not None:
                entries.add((context, current))
                context = None
            if field == "msgctxt":
                context = current
            field, current = "", None
            if line.startswith("msgctxt "):
                field, current = "msgctxt", ast.literal_eval(line[len("msgctxt ") :])
            elif line.startswith("msgid "):
                field, current = "msgid", ast.literal_eval(line[len("msgid ") :])
        elif line.startswith('"') and current is not None:
            current += ast.literal_eval(line)
    return entries - {(None, "")}


_SHOWN_ATTRIBUTES = re.compile(r"""\b(?:aria-label|title|placeholder|alt|label|data-confirm)=(["'])(.*?)\1""", re.S)


def _unmarked_template_text(path: Path) -> list[str]:
    """English a template writes outside {% translate %}/{% blocktranslate %} (text and shown attributes)."""
    text: list[str] = []
    blocks: list[str] = []
    in_blocktranslate = False
    for token in Lexer(path.read_text(encoding="utf-8")).tokenize():
        if token.token_type == TokenType.BLOCK:
            words = token.split_contents()
            if words[0] in {"blocktranslate", "blocktrans"}:
                in_blocktranslate = True
            elif words[0] in {"endblocktranslate", "endblocktrans"}:
                in_blocktranslate = False
            elif words[0] == "block":
                blocks.append(words[1])
            elif words[0] == "endblock" and blocks:
                blocks.pop()
            text.append("\x00")
        elif token.token_type == TokenType.VAR:
            text.append("\x00")
        # The contents of blocks such as `main_class` are CSS class names, not words.
        elif (
            token.token_type == TokenType.TEXT
            and not in_blocktranslate
            and not (blocks and blocks[-1].endswith("_class"))
        ):
            text.append(token.contents)
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", "".join(text), flags=re.S)
    found = [value for _quote, value in _SHOWN_ATTRIBUTES.findall(html) if re.search(r"[A-Za-z]", value)]
    words = re.sub(r"&#?\w+;", " ", re.sub(r"<[^>]*>", " ", html, flags=re.S))
    found += [chunk.strip() for chunk in words.split("\x00") if re.search(r"[A-Za-z]", chunk)]
    return found


def test_no_template_writes_english_outside_the_translation_tags() -> None:
    unmarked = {
        f"{path.relative_to(BASE_DIR)}: {text!r}"
        for path in _project_files("templates/**/*.html")
        for text in _unmarked_template_text(path)
    }
    assert not unmarked, "Wrap these in {% translate %} or {% blocktranslate %}:\n" + "\n".join(sorted(unmarked))


def test_the_unmarked_text_check_sees_text_and_attributes(tmp_path: Path) -> None:
    template = tmp_path / "t.html"
    template.write_text(
        '{% load i18n %}{% block main_class %}container p-0{% endblock %}<p title="Hello">{% translate "Fine" %}'
        "{% blocktranslate %}Also {{ fine }}{% endblocktranslate %} Forgotten</p><script>var x = 1;</script>"
    )
    assert _unmarked_template_text(template) == ["Hello", "Forgotten"]


def test_the_inbox_script_takes_its_words_from_the_template() -> None:
    """inbox.js and app.js show only text the template rendered (data attributes), never English of their own."""
    inbox = (BASE_DIR / "messenger" / "static" / "messenger" / "inbox.js").read_text(encoding="utf-8")
    shared = (BASE_DIR / "helpdesk" / "static" / "helpdesk" / "app.js").read_text(encoding="utf-8")
    shown = re.compile(r"""(?:textContent|innerText|innerHTML|title|placeholder)\s*=\s*["'][^"']*[A-Za-z]""")
    dialogs = re.compile(r"""\b(?:alert|confirm|prompt)\(\s*["'`]""")
    for script in (inbox, shared):
        assert not shown.findall(script) and not dialogs.findall(script)
    assert "form.dataset.tooLong" in inbox and "form.dataset.confirm" in shared


@pytest.fixture(scope="module")
def messages() -> dict[Msg, str]:
    return {**_python_messages(), **_template_messages()}


def test_the_extraction_finds_the_strings_of_templates_and_python(messages: dict[Msg, str]) -> None:
    templates, python = _template_messages(), _python_messages()
    assert (None, "Inbox", None) in templates
    assert (
        None,
        "A Facebook Page needs re-authorization: its messages are not sent or received.",
        "%(counter)s Facebook Pages need re-authorization: their messages are not sent or received.",
    ) in templates
    assert (None, "The reply window is closed: the customer must write first.", None) in python
    assert ("webhook outcome", "Pending", None) in python
    assert ("%(count)d day", "%(count)d days") in {(m[1], m[2]) for m in python}
    assert len(templates) > 250 and len(python) > 250


def test_every_ui_string_has_a_japanese_translation(messages: dict[Msg, str]) -> None:
    untranslated = {
        f"{where}: {english!r}"
        for message, where in messages.items()
        for english in _japanese(message)
        if english not in SAME_IN_JAPANESE
    }
    assert not untranslated, "Not translated into Japanese (run makemessages, translate, compilemessages):\n" + (
        "\n".join(sorted(untranslated))
    )


def test_the_allowlist_holds_only_strings_that_exist(messages: dict[Msg, str]) -> None:
    assert SAME_IN_JAPANESE <= {singular for _context, singular, _plural in messages}


@pytest.mark.parametrize("language", ["ja", "en"])
def test_both_catalogues_list_every_string(messages: dict[Msg, str], language: str) -> None:
    catalogue = _po_messages(BASE_DIR / "locale" / language / "LC_MESSAGES" / "django.po")
    missing = {(context, singular) for context, singular, _plural in messages} - catalogue
    assert not missing, f"Missing from locale/{language}: {sorted(missing, key=str)}"


# --- The organization's language, in pages and in the API -------------------------------------


@pytest.fixture
def japanese(tenant_a: Tenant) -> Tenant:
    tenant_a.organization.language = "ja"
    tenant_a.organization.time_zone = "Asia/Tokyo"
    tenant_a.organization.save(update_fields=["language", "time_zone"])
    return tenant_a


def test_a_japanese_organization_gets_a_japanese_inbox(japanese: Tenant, client: Any) -> None:
    client.force_login(japanese.agent.user)
    page = client.get("/o/alpha/inbox/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="ja">' in page
    assert "受信箱" in page
    assert "チケット" in page
    assert ">Inbox<" not in page


def test_a_japanese_organization_gets_japanese_settings_pages(japanese: Tenant, client: Any) -> None:
    client.force_login(japanese.admin.user)
    page = client.get("/o/alpha/settings/departments/").content.decode()
    assert "部署を追加" in page
    assert 'data-confirm="「Support」を削除しますか？"' in page
    assert 'data-confirm-detail="この部署の削除済みチャネルとチケットは引き続き閲覧できます。"' in page
    assert "Add department" not in page


def test_a_member_who_chose_english_sees_english_in_a_japanese_organization(japanese: Tenant, client: Any) -> None:
    japanese.agent.language = "en"
    japanese.agent.save(update_fields=["language"])
    client.force_login(japanese.agent.user)
    page = client.get("/o/alpha/inbox/", HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert '<html lang="en">' in page
    assert "Inbox" in page
    assert "受信箱" not in page


def test_the_organization_switch_page_speaks_the_current_organizations_language(japanese: Tenant, client: Any) -> None:
    client.force_login(japanese.agent.user)
    page = client.get("/organizations/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "所属している組織" in page
    assert "Your organizations" not in page


def test_the_login_page_follows_the_browser_language(db: Any, client: Any) -> None:
    page = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert "ヘルプデスクにログイン" in page


def test_an_api_error_is_in_the_organizations_language_with_the_same_code(japanese: Tenant, tenant_b: Tenant) -> None:
    # An agent writing an admin resource: refused in the initial checks.
    ja = api_client_for(japanese.agent).post("/api/v1/departments/", {"name": "営業"}, format="json")
    en = api_client_for(tenant_b.agent).post("/api/v1/departments/", {"name": "Sales"}, format="json")
    assert ja.status_code == en.status_code == 403
    assert ja.json()["error"]["code"] == en.json()["error"]["code"] == "permission_denied"
    assert ja.json()["error"]["message"] == "この操作は管理者のみ行えます。"
    assert en.json()["error"]["message"] == "Only admins can change this."
    assert ja["Content-Language"] == "ja"


def test_a_domain_error_and_its_details_are_in_japanese(japanese: Tenant, tenant_b: Tenant) -> None:
    body = {"name": japanese.department.name}
    ja = api_client_for(japanese.admin).post("/api/v1/departments/", body, format="json")
    en = api_client_for(tenant_b.admin).post("/api/v1/departments/", {"name": tenant_b.department.name}, format="json")
    assert ja.status_code == en.status_code
    assert ja.json()["error"]["code"] == en.json()["error"]["code"]
    assert ja.json()["error"]["message"] == "この名前の部署はすでに存在します。"
    assert ja.json()["error"]["details"] == {"name": ["すでに使用されています。"]}

    missing = api_client_for(japanese.admin).get("/api/v1/departments/999999/")
    assert missing.status_code == 404
    assert missing.json()["error"] == {"code": "not_found", "message": "見つかりません。", "details": None}


def test_a_serializer_validation_error_is_in_japanese(japanese: Tenant) -> None:
    response = api_client_for(japanese.admin).post("/api/v1/departments/", {}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert response.json()["error"]["message"] == "入力内容が正しくありません。"
    # DRF's own messages come from its Japanese catalogue.
    assert response.json()["error"]["details"]["name"] != ["This field is required."]


def test_a_forwarding_notice_is_written_in_the_recipients_language(japanese: Tenant) -> None:
    channel = factories.make_channel(japanese.organization, japanese.department)
    factories.associate(japanese.agent, channel)
    conversation = factories.make_conversation(factories.make_page(channel))
    client = api_client_for(japanese.admin)
    japanese.admin.language = "en"
    japanese.admin.save(update_fields=["language"])
    response = client.post(
        f"/api/v1/conversations/{conversation.pk}/forward/", {"to_membership_id": japanese.agent.pk}, format="json"
    )
    assert response.status_code == 200, response.content
    notice = Notification.objects.get(user=japanese.agent.user, kind=Notification.Kind.CONVERSATION_FORWARDED)
    assert "との会話が転送されました" in notice.title


# --- The organization's time zone ---------------------------------------------------------------


def test_times_are_shown_in_the_organizations_time_zone(japanese: Tenant, tenant_b: Tenant, client: Any) -> None:
    at = datetime(2024, 3, 1, 15, 30, tzinfo=UTC)  # 00:30 the next day in Tokyo
    for tenant in (japanese, tenant_b):
        Notification.objects.create(
            organization=tenant.organization, user=tenant.agent.user, kind="new_conversation", title="Hello"
        )
    Notification.objects.update(created_at=at)

    client.force_login(japanese.agent.user)
    tokyo = client.get("/o/alpha/notifications/").content.decode()
    assert '<time datetime="2024-03-02T00:30:00+09:00" title="2024年3月2日 00:30">2024年3月2日</time>' in tokyo

    client.force_login(tenant_b.agent.user)
    utc = client.get("/o/bravo/notifications/").content.decode()
    assert '<time datetime="2024-03-01T15:30:00+00:00" title="1 Mar 2024, 15:30">1 Mar 2024</time>' in utc


def test_a_message_time_in_the_transcript_is_in_the_organizations_time_zone(japanese: Tenant, client: Any) -> None:
    channel = factories.make_channel(japanese.organization, japanese.department)
    factories.associate(japanese.agent, channel)
    conversation = factories.make_conversation(factories.make_page(channel))
    factories.make_message(conversation, direction=Direction.INBOUND, sent_at=datetime(2024, 3, 1, 15, 30, tzinfo=UTC))
    client.force_login(japanese.agent.user)
    page = client.get(f"/o/alpha/inbox/{conversation.pk}/").content.decode()
    # The day once, as the transcript's separator; each bubble its time, the full date as its title.
    assert '<time datetime="2024-03-02">2024年3月2日</time>' in page
    assert '<time datetime="2024-03-02T00:30:00+09:00" title="2024年3月2日 00:30">00:30</time>' in page
