"""A device's wrong F-codes become a rule of their own, in the capped device family.

`fcode_guessing` counted the larger of the account's and the device's wrong codes as the
account's: copiers of a fan's X-Device-Id guessing codes brought the fan's own attempt to a
block. The account's rule now counts the account's codes; `fcode_guessing_device` the
device's, starting from the account rule's settings (on or off, threshold, weight; an
action of block becomes review: a device's rule is claimed and forces review at most). Ops'
edits are kept: a row already there is left, and the account rule's description is only
rewritten where it is still the seeded one.
"""

from django.db import migrations

OLD = 'Wrong F-codes entered in this sale by the account or its device (the larger).'
NEW = 'Wrong F-codes entered in this sale by the account.'
DEVICE = ('fcode_guessing_device', 5, 30, 'score',
          'Wrong F-codes entered in this sale from this device, by any account; a device id '
          'is sent by the client and can be copied, so these are the device\'s points, '
          'capped with the other copyable details, never the account\'s.')


def seed(apps, schema_editor):
    """The device's rule starts from the settings of the rule it is split from (ops may have
    switched F-code scoring off, or moved its threshold or weight: the device's guesses were
    governed by that row until now); the code's defaults where there is none."""
    RuleSetting = apps.get_model("antiscalper", "RuleSetting")
    code, threshold, weight, action, description = DEVICE
    account = RuleSetting.objects.filter(code="fcode_guessing").first()
    defaults = {"threshold": threshold, "weight": weight, "action": action,
                "description": description}
    if account is not None:
        defaults.update(enabled=account.enabled, threshold=account.threshold,
                        weight=account.weight,
                        action="review" if account.action == "block" else account.action)
    RuleSetting.objects.get_or_create(code=code, defaults=defaults)
    RuleSetting.objects.filter(code="fcode_guessing", description=OLD).update(description=NEW)


def unseed(apps, schema_editor):
    RuleSetting = apps.get_model("antiscalper", "RuleSetting")
    RuleSetting.objects.filter(code=DEVICE[0]).delete()
    RuleSetting.objects.filter(code="fcode_guessing", description=NEW).update(description=OLD)


class Migration(migrations.Migration):
    dependencies = [("antiscalper", "0008_seed_ring_rules")]
    operations = [migrations.RunPython(seed, unseed)]
