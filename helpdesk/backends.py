"""Login by username whatever its case: "ADMIN" signs in user "admin".

Usernames are unique case-insensitively (the database has a unique index on lower(username)),
so at most one user matches.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

UserModel = get_user_model()


class CaseInsensitiveModelBackend(ModelBackend):
    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> Any:
        if username is None:
            username = kwargs.get(UserModel.USERNAME_FIELD)
        if username is None or password is None:
            return None
        user = UserModel._default_manager.filter(**{f"{UserModel.USERNAME_FIELD}__iexact": username}).first()
        if user is None:
            # As ModelBackend does: hash anyway, so that an unknown name takes as long as a wrong password.
            UserModel().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
