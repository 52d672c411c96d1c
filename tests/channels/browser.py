"""A small no-JavaScript browser for end-to-end tests over real HTTP: a requests session
that reads the forms of a page and submits them as a person would (ticked boxes, the
chosen radio, the button pressed), following redirects one hop at a time."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

import requests


@dataclass
class Field:
    name: str
    kind: str
    value: str
    checked: bool = False
    disabled: bool = False
    options: list[tuple[str, bool]] = field(default_factory=list)


@dataclass
class Form:
    action: str
    method: str
    fields: list[Field] = field(default_factory=list)
    buttons: list[tuple[str, str, str]] = field(default_factory=list)  # (name, value, text)

    def values(self) -> list[tuple[str, str]]:
        data: list[tuple[str, str]] = []
        for f in self.fields:
            if f.disabled or not f.name:
                continue
            if f.kind in ("checkbox", "radio"):
                if f.checked:
                    data.append((f.name, f.value))
            elif f.kind == "select":
                chosen = [value for value, selected in f.options if selected] or [v for v, _ in f.options[:1]]
                data.extend((f.name, value) for value in chosen)
            elif f.kind not in ("submit", "button", "file", "reset"):
                data.append((f.name, f.value))
        return data

    def field_names(self) -> set[str]:
        return {f.name for f in self.fields}


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: Field | None = None
        self._option: tuple[str, bool] | None = None
        self._button: list[str] | None = None
        self._textarea: Field | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._form = Form(action=a.get("action", ""), method=a.get("method", "get").lower())
            self.forms.append(self._form)
        if self._form is None:
            return
        if tag == "input":
            kind = a.get("type", "text").lower()
            if kind in ("submit", "image"):
                self._form.buttons.append((a.get("name", ""), a.get("value", ""), a.get("value", "")))
                return
            self._form.fields.append(
                Field(
                    a.get("name", ""),
                    kind,
                    a.get("value", "on" if kind in ("checkbox", "radio") else ""),
                    "checked" in a,
                    "disabled" in a,
                )
            )
        elif tag == "select":
            self._select = Field(a.get("name", ""), "select", "", disabled="disabled" in a)
            self._form.fields.append(self._select)
        elif tag == "option" and self._select is not None:
            self._option = (a.get("value", ""), "selected" in a)
            self._select.options.append(self._option)
        elif tag == "textarea":
            self._textarea = Field(a.get("name", ""), "textarea", "", disabled="disabled" in a)
            self._form.fields.append(self._textarea)
        elif tag == "button" and a.get("type", "submit") == "submit":
            self._button = [a.get("name", ""), a.get("value", ""), ""]

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button[2] += data
        if self._textarea is not None:
            self._textarea.value += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "button" and self._button is not None and self._form is not None:
            name, value, text = self._button
            self._form.buttons.append((name, value, " ".join(text.split())))
            self._button = None


def forms_of(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


class Browser:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.history: list[requests.Response] = []

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.session.close()

    def url(self, path_or_url: str) -> str:
        return path_or_url if path_or_url.startswith("http") else f"{self.base_url}{path_or_url}"

    def get(self, path_or_url: str, *, follow: bool = True) -> requests.Response:
        response = self.session.get(self.url(path_or_url), allow_redirects=False, timeout=30)
        return self._settle(response, follow)

    def post(self, path_or_url: str, data: Any, *, follow: bool = True, files: Any = None) -> requests.Response:
        headers = {"Referer": self.url(path_or_url)}
        response = self.session.post(
            self.url(path_or_url), data=data, files=files, allow_redirects=False, timeout=30, headers=headers
        )
        return self._settle(response, follow)

    def _settle(self, response: requests.Response, follow: bool) -> requests.Response:
        self.history.append(response)
        hops = 0
        while follow and response.is_redirect and hops < 10:
            response = self.session.get(
                urljoin(response.url, response.headers["Location"]), allow_redirects=False, timeout=30
            )
            self.history.append(response)
            hops += 1
        return response

    def login(self, username: str, password: str) -> None:
        page = self.get("/accounts/login/")
        form = forms_of(page.text)[-1]
        data = dict(form.values()) | {"username": username, "password": password}
        response = self.post("/accounts/login/", data)
        assert response.status_code == 200 and "/accounts/login/" not in response.url, "login failed"

    def submit(
        self,
        response: requests.Response,
        *,
        form: int | None = None,
        having: str | None = None,
        button: str | None = None,
        set: dict[str, Any] | None = None,
        untick: tuple[tuple[str, str], ...] = (),
        tick: tuple[tuple[str, str], ...] = (),
        follow: bool = True,
        files: Any = None,
    ) -> requests.Response:
        """Submit a form of the page: among those with a field named `having` and a button whose
        text is `button` (the one pressed), the first (or the one at index `form`)."""
        candidates = forms_of(response.text)
        if having is not None:
            candidates = [f for f in candidates if having in f.field_names()]
        if button is not None:
            candidates = [f for f in candidates if any(b[2] == button for b in f.buttons)]
        assert candidates, f"no form with {having!r} / {button!r}"
        chosen = candidates[form or 0]
        for name, value in untick:
            for f in chosen.fields:
                if f.name == name and f.value == value:
                    f.checked = False
        for name, value in tick:
            for f in chosen.fields:
                if f.name == name and f.value == value:
                    f.checked = True
        data = chosen.values()
        for name, value in (set or {}).items():
            data = [(n, v) for n, v in data if n != name]
            for item in value if isinstance(value, list) else [value]:
                data.append((name, item))
        if button is not None:
            match = [b for b in chosen.buttons if b[2] == button]
            assert match, f"no button {button!r} in {chosen.buttons}"
            if match[0][0]:
                data.append((match[0][0], match[0][1]))
        action = urljoin(response.url, chosen.action or response.url)
        if chosen.method == "get":
            query = "&".join(f"{n}={v}" for n, v in data)
            return self.get(f"{action.split('?')[0]}?{query}", follow=follow)
        return self.post(action, data, follow=follow, files=files)
