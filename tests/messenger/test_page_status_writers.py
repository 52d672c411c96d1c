"""One module writes a page's authorization status: messenger/pages/authorization.py. Every
other module of the product (linking, the sweep, the Graph-call wrapper, the demo seeding)
asks it, so that a page can only move through the states that module allows. The Graph
sandbox (messenger/sandbox) has models of its own and is left out."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("helpdesk", "channels", "messenger", "tickets")
STATE_MACHINE = ROOT / "messenger" / "pages" / "authorization.py"
EXEMPT = (ROOT / "messenger" / "sandbox",)

# The fields that make up a page's authorization state.
STATE_FIELDS = {"status", "reauthorization_reason"}
WRITE_METHODS = {"update", "create", "get_or_create", "update_or_create"}
PAGE_STATUSES = {"active", "expiring_soon", "reauthorization_required"}


def _is_page_status(value: ast.AST) -> bool:
    """PageStatus.X, or one of its values written out."""
    if isinstance(value, ast.Constant):
        return value.value in PAGE_STATUSES
    return any(isinstance(node, ast.Name) and node.id == "PageStatus" for node in ast.walk(value))


def _names_facebook_page(node: ast.AST) -> bool:
    return any(isinstance(inner, ast.Name) and inner.id == "FacebookPage" for inner in ast.walk(node))


def _writes_state(field: str, value: ast.AST) -> bool:
    return field == "reauthorization_reason" or (field == "status" and _is_page_status(value))


def page_status_writes(source: str) -> list[int]:
    """The lines of `source` that write a page's authorization status."""
    lines: list[int] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            values = (
                node.value.elts
                if isinstance(node.value, ast.Tuple) and len(targets) == 1 and isinstance(targets[0], ast.Tuple)
                else None
            )
            flat = [
                (target, values[index] if values and index < len(values) else node.value)
                for outer in targets
                for index, target in enumerate(outer.elts if isinstance(outer, ast.Tuple) else [outer])
            ]
            if any(
                isinstance(target, ast.Attribute) and target.attr in STATE_FIELDS and _writes_state(target.attr, value)
                for target, value in flat
                if value is not None
            ):
                lines.append(node.lineno)
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in WRITE_METHODS or name == "FacebookPage":
                if any(
                    keyword.arg in STATE_FIELDS and _writes_state(keyword.arg, keyword.value)
                    for keyword in node.keywords
                ):
                    lines.append(node.lineno)
            elif name == "bulk_update" and _names_facebook_page(func):
                fields = node.args[1] if len(node.args) > 1 else None
                named = (
                    {element.value for element in ast.walk(fields) if isinstance(element, ast.Constant)}
                    if fields
                    else set()
                )
                if named & STATE_FIELDS:
                    lines.append(node.lineno)
    return sorted(lines)


def test_no_module_but_the_state_machine_writes_a_page_status() -> None:
    offenders = []
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if path == STATE_MACHINE or "migrations" in path.parts or any(path.is_relative_to(e) for e in EXEMPT):
                continue
            for line in page_status_writes(path.read_text(encoding="utf-8")):
                offenders.append(f"{path.relative_to(ROOT)}:{line}")
    assert offenders == [], "a page's status is written outside messenger/pages/authorization.py"


def test_the_check_sees_each_way_a_status_is_written() -> None:
    source = """
FacebookPage.objects.filter(pk=1).update(status=PageStatus.ACTIVE)
page.status = PageStatus.EXPIRING_SOON
page.status, page.reauthorization_reason = PageStatus.REAUTHORIZATION_REQUIRED, reason
FacebookPage(page_id="1", status="active")
FacebookPage.objects.bulk_update(pages, ["status", "updated_at"])
pages.update(reauthorization_reason="")
"""
    assert page_status_writes(source) == [2, 3, 4, 5, 6, 7]


def test_reading_a_status_or_writing_another_models_status_is_not_a_write() -> None:
    source = """
FacebookPage.objects.filter(status=PageStatus.ACTIVE).exclude(status=PageStatus.EXPIRING_SOON)
message.status = MessageStatus.SENT
Message.objects.filter(pk=1).update(status=MessageStatus.FAILED)
Message.objects.bulk_update(messages, ["status"])
if page.status == PageStatus.ACTIVE:
    pass
"""
    assert page_status_writes(source) == []


def test_the_state_machine_itself_is_seen_writing() -> None:
    assert len(page_status_writes(STATE_MACHINE.read_text(encoding="utf-8"))) >= 8
