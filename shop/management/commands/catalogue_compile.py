"""`manage.py catalogue_compile`: compile the storefront's translations (locale/*/django.po)
into the .mo files Django reads, with polib, so that no gettext install is needed (Django's
own compilemessages wants msgfmt). Run it after editing a .po; a test fails while a .mo
says something else than its .po (shop/tests/test_languages.py)."""

from __future__ import annotations

from pathlib import Path

import polib
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Compile locale/*/LC_MESSAGES/django.po into django.mo (polib, no gettext needed)."

    def handle(self, *args, **options) -> None:
        sources = sorted(Path(p) for root in settings.LOCALE_PATHS
                         for p in Path(root).glob("*/LC_MESSAGES/django.po"))
        if not sources:
            raise CommandError(f"no django.po under {settings.LOCALE_PATHS}")
        for source in sources:
            catalogue = polib.pofile(str(source))
            untranslated = catalogue.untranslated_entries()
            if untranslated:
                raise CommandError(f"{source}: {len(untranslated)} messages have no translation, "
                                   f"the first: {untranslated[0].msgid!r}")
            catalogue.save_as_mofile(str(source.with_suffix(".mo")))
            self.stdout.write(f"{source.with_suffix('.mo')}: {len(catalogue)} messages")
