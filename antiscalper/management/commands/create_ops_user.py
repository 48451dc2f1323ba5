"""Create a least-privilege ops account: staff (so it can log in to the admin), in the "ops"
group only, never a superuser.

Ops staff need the admin, but a superuser can read every F-code, edit prices and delete the
evidence behind a block; this gives them exactly the "ops" group (setup_ops_group, which it
runs first so the group is current). The password is generated and printed once, like the
demo's, unless --password-stdin reads it; an existing account is refused unless --reset,
which also strips any superuser flag and other groups and direct permissions.
"""

from __future__ import annotations

import secrets
import sys
from io import StringIO

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from antiscalper.management.commands.setup_ops_group import GROUP


class Command(BaseCommand):
    help = "Create a staff account holding only the 'ops' group's permissions."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--email", default="")
        parser.add_argument("--password-stdin", action="store_true",
                            help="Read the password from standard input instead of "
                                 "generating one.")
        parser.add_argument("--reset", action="store_true",
                            help="The account exists: make it ops-only again (no superuser, "
                                 "no other group or permission) and set a new password.")

    def handle(self, *args, username: str, email: str, password_stdin: bool, reset: bool,
               **options) -> None:
        password = sys.stdin.readline().rstrip("\n") if password_stdin else \
            secrets.token_urlsafe(18)
        users = get_user_model()
        with transaction.atomic():
            call_command("setup_ops_group", stdout=StringIO())
            user = users.objects.filter(username=username).first()
            if user is not None and not reset:
                raise CommandError(f"{username!r} exists; pass --reset to make it ops-only.")
            user = user or users(username=username)
            try:
                validate_password(password, user)
            except ValidationError as error:
                raise CommandError(" ".join(error.messages)) from None
            user.email = email or user.email
            user.is_staff, user.is_superuser, user.is_active = True, False, True
            user.set_password(password)
            user.save()
            user.user_permissions.clear()
            user.groups.set([Group.objects.get(name=GROUP)])
        self.stdout.write(f"Ops account {username!r} ready (staff, group {GROUP!r} only).")
        if not password_stdin:
            self.stdout.write(f"Password (shown once): {password}")
