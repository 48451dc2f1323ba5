"""Payment.fingerprint, the gateway's fingerprint of the instrument, backfilled for every
existing payment with an instrument: the linking ties accounts by it from now on, so a
payment made before this migration must carry the one the gateway would have given."""

import hashlib
import hmac
import re
import unicodedata

from django.conf import settings
from django.db import migrations, models


def _fingerprint(instrument: str) -> str:
    # shop.payments.instrument_fingerprint as it was when this migration was written: a
    # migration keeps its own copy, so that a later change there cannot rewrite history here.
    text = unicodedata.normalize("NFKC", instrument or "")
    text = "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in text)
    normal = re.sub(r"[\s\-]", "", text).lower()
    if not normal:
        return ""
    key = settings.PAYMENT_GATEWAY_FINGERPRINT_KEY.encode()
    return hmac.new(key, normal.encode(), hashlib.sha256).hexdigest()[:32]


def backfill(apps, schema_editor):
    Payment = apps.get_model("shop", "Payment")
    instruments = (Payment.objects.exclude(instrument="").values_list("instrument", flat=True)
                   .order_by().distinct())
    for instrument in instruments.iterator():  # one UPDATE per distinct instrument
        Payment.objects.filter(instrument=instrument, fingerprint="").update(
            fingerprint=_fingerprint(instrument))


class Migration(migrations.Migration):

    dependencies = [
        ('shop', '0005_address_building'),
    ]

    operations = [
        migrations.AddField(
            model_name='payment',
            name='fingerprint',
            field=models.CharField(blank=True, db_index=True, max_length=64),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
    ]
