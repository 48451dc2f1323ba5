"""Seed the rule settings and the risk policy with their defaults (antiscalper.rules)."""

from django.db import migrations

# code, threshold, weight, action, description: frozen here, edited in admin afterwards.
DEFAULTS = [
    ('new_account', 7, 15, 'score',
     'Account age in days at the attempt; fleets register accounts just before a sale.'),
    ('reservation_burst_device', 3, 25, 'score',
     'Accounts that reserved this sale from this device; one phone reserves for one.'),
    ('reservation_burst_ip', 30, 10, 'score',
     "Accounts reserving from this IP within a minute of this account's reservation."),
    ('fast_after_open', 250, 25, 'score',
     'Milliseconds from the opening to the attempt; a human needs more than 250 ms to see the button turn live and press it.'),
    ('robotic_timing', 0.15, 20, 'score',
     "Coefficient of variation of the gaps between the account's last attempts (at least 5 attempts); scripts retry on a metronome, people do not."),
    ('account_velocity', 8, 20, 'score',
     "The account's attempts in the 10 seconds up to this one."),
    ('ip_velocity', 300, 10, 'score',
     'Attempts from this IP in the same 10-second bucket.'),
    ('shared_address', 3, 25, 'score',
     'Accounts that hold this delivery address (normalised); households are 1-2.'),
    ('shared_phone', 3, 25, 'score',
     'Accounts using this phone as their own or on an address.'),
    ('shared_payment', 3, 30, 'score',
     'Accounts that paid with this payment instrument.'),
    ('device_accounts', 3, 35, 'score',
     'Accounts seen on this device in this sale.'),
    ('opening_crowd_device', 2, 25, 'score',
     'Accounts on this device within 10 s of the opening.'),
    ('opening_crowd_subnet', 20, 10, 'score',
     'Accounts on this /24 (/64) subnet within 10 s of the opening; a campus NAT does this too, which is why it is an IP rule.'),
    ('linked_cluster', 4, 40, 'block',
     "Size of the account's cluster (accounts linked by device, phone, address or payment; rare identifiers link, common ones do not). Realtime adds the weight; the linking pass applies the action."),
    ('headless_agent', 1, 45, 'score',
     'Automation markers in the user agent or client hints (HeadlessChrome, PhantomJS, python-requests, curl, ...).'),
    ('client_headers', 2, 15, 'score',
     'Missing or inconsistent client headers (no Accept, no Accept-Language, no user agent, no device id, Chrome without sec-ch-ua or sec-ch-ua without Chromium).'),
    ('resale_history', 6, 20, 'score',
     'Flash sales the account bought in (paid, shipped, delivered) in 180 days.'),
    ('hoarding', 3, 20, 'score',
     'Orders the account let expire unpaid or whose deposit it forfeited in 180 days.'),
    ('fcode_guessing', 5, 30, 'score',
     'Wrong F-codes entered in this sale by the account or its device (the larger).'),
    ('blacklisted', 1, 100, 'block',
     'Identities of the attempt (account, device, IP, phone, address, payment) live on the blacklist mirror and not allowlisted.'),
]


def seed(apps, schema_editor):
    RuleSetting = apps.get_model("antiscalper", "RuleSetting")
    RiskPolicy = apps.get_model("antiscalper", "RiskPolicy")
    for code, threshold, weight, action, description in DEFAULTS:
        RuleSetting.objects.get_or_create(code=code, defaults={
            "threshold": threshold, "weight": weight, "action": action,
            "description": description})
    RiskPolicy.objects.get_or_create(pk=1, defaults={
        "review_score": 40, "block_score": 70, "ip_cap": 30})


def unseed(apps, schema_editor):
    apps.get_model("antiscalper", "RuleSetting").objects.filter(
        code__in=[row[0] for row in DEFAULTS]).delete()
    apps.get_model("antiscalper", "RiskPolicy").objects.filter(pk=1).delete()


class Migration(migrations.Migration):
    dependencies = [("antiscalper", "0002_risk_engine")]
    operations = [migrations.RunPython(seed, unseed)]
