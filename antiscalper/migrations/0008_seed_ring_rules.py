"""Seed the rules that look past the sale (antiscalper.lookback) with their defaults.

Frozen here, edited in admin afterwards; an existing row (ops already set it) is kept.
"""

from django.db import migrations

# code, threshold, weight, action, description
DEFAULTS = [
    ('registration_burst', 5, 15, 'score',
     'Admitted accounts of this sale (this one too) registered within 2 minutes of this account; a ring registers its accounts in a batch.'),
    ('dormant_account', 180, 15, 'score',
     'Age in days of an account with no history before this sale (no order, no attempt in another sale); rings age accounts and keep them idle until a hot sale.'),
    ('device_history', 5, 20, 'score',
     'Accounts seen on this device in other sales within 180 days; a household shares one device among a few.'),
    ('ip_history', 50, 10, 'score',
     'Accounts seen on this IP in other sales within 180 days; a campus NAT does this too, which is why it is an IP rule.'),
]


def seed(apps, schema_editor):
    RuleSetting = apps.get_model("antiscalper", "RuleSetting")
    for code, threshold, weight, action, description in DEFAULTS:
        RuleSetting.objects.get_or_create(code=code, defaults={
            "threshold": threshold, "weight": weight, "action": action,
            "description": description})


def unseed(apps, schema_editor):
    apps.get_model("antiscalper", "RuleSetting").objects.filter(
        code__in=[row[0] for row in DEFAULTS]).delete()


class Migration(migrations.Migration):
    dependencies = [("antiscalper", "0007_lookback_indexes")]
    operations = [migrations.RunPython(seed, unseed)]
