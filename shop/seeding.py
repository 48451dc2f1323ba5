"""Demo data: a small Mi catalog and N customers with fan levels and addresses.

Bulk inserts in batches and one shared password hash make 10,000 customers take seconds,
not the hours PBKDF2 would need per user. Re-running adds only what is missing.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from shop.addresses import building_normalize
from shop.models import Address, Customer, FanLevel, Product, Sku
from shop.services import address_normalize

User = get_user_model()

DEMO_PASSWORD = "flash-sale-demo"  # the shared password of seeded demo shoppers (not a secret)

CATALOG: list[tuple[str, str, list[tuple[str, str, str]]]] = [
    ("Mi 6", Product.Category.PHONE,
     [("MI6-64-BLK", "Mi 6 64GB Black", "2499.00"), ("MI6-128-BLU", "Mi 6 128GB Blue", "2899.00")]),
    ("Mi 9", Product.Category.PHONE, [("MI9-128-BLK", "Mi 9 6GB+128GB Black", "2999.00")]),
    ("Redmi Note 7", Product.Category.PHONE, [("RN7-64-BLU", "Redmi Note 7 64GB Blue", "999.00")]),
    ("Mi TV 4A 43\"", Product.Category.TV, [("TV4A-43", "Mi TV 4A 43-inch", "1699.00")]),
    ("Mi Band 3", Product.Category.WEARABLE, [("BAND3-BLK", "Mi Band 3 Black", "169.00")]),
    ("Mi Power Bank 2", Product.Category.POWER,
     [("PB2-10000", "Mi Power Bank 2 10000mAh", "79.00")]),
    ("Mi Type-C Cable", Product.Category.ACCESSORY, [("CABLE-C-1M", "Type-C cable 1 m", "19.00")]),
    ("Mi In-Ear Headphones", Product.Category.ACCESSORY,
     [("EAR-BASIC", "In-ear headphones Basic", "49.00")]),
    ("Mi 6 Case", Product.Category.ACCESSORY, [("CASE-MI6", "Mi 6 protective case", "29.00")]),
]

FAN_LEVEL_WEIGHTS = [
    (FanLevel.LV0, 30), (FanLevel.LV1, 35), (FanLevel.LV2, 20), (FanLevel.LV3, 12),
    (FanLevel.HONORARY, 3),
]
CITIES = ["Beijing", "Shanghai", "Shenzhen", "Guangzhou", "Chengdu", "Wuhan", "Hangzhou",
          "Nanjing", "Xi'an", "Tianjin"]
STREETS = ["Zhongguancun Road", "Nanjing Road", "Shennan Avenue", "Tianhe Road", "Chunxi Road",
           "Jiefang Avenue", "Wensan Road", "Hunan Road", "Yanta Road", "Binjiang Avenue"]


def seed_catalog() -> int:
    """Create the demo catalog's products and SKUs that do not exist yet; returns SKUs created."""
    created = 0
    for name, category, skus in CATALOG:
        product, _ = Product.objects.get_or_create(name=name, defaults={"category": category})
        for code, sku_name, price in skus:
            _, made = Sku.objects.get_or_create(
                code=code, defaults={"product": product, "name": sku_name, "price": Decimal(price)}
            )
            created += made
    return created


def username_for(index: int) -> str:
    return f"fan{index:06d}"


# Mobile prefixes of the three Chinese carriers (as loadtests.double11.rings has them).
CARRIER_PREFIXES = ("134", "135", "136", "137", "138", "139", "150", "151", "152", "157",
                    "158", "159", "182", "183", "187", "188", "130", "131", "132", "155",
                    "156", "185", "186", "133", "153", "180", "181", "189", "177", "199")
PHONE_STRIDE = 48_271  # odd and not a multiple of 5: index -> suffix is one-to-one mod 10**8


def phone_for(index: int) -> str:
    """The seeded customer's phone: unique (the suffix alone is, below 10**8 customers) and
    spread over carriers and number blocks, as real shoppers' numbers are. A sequential run
    (139 00000001, 139 00000002, ...) is what a SIM farm buys: seeded as one, every demo
    fan sat in a phone block with a hundred others and linking tied them as a ring."""
    prefix = CARRIER_PREFIXES[index * 7 % len(CARRIER_PREFIXES)]
    return f"{prefix}{index * PHONE_STRIDE % 10**8:08d}"


def seed_customers(*, count: int, batch: int = 2000, start: int = 1,
                   progress: Callable[[int], None] | None = None) -> int:
    """Ensure customers fan{start}..fan{start+count-1} exist; returns how many were created."""
    now = timezone.now()
    password = make_password(DEMO_PASSWORD)
    levels, weights = zip(*FAN_LEVEL_WEIGHTS, strict=True)
    created = 0
    for first in range(start, start + count, batch):
        indexes = range(first, min(first + batch, start + count))
        names = [username_for(i) for i in indexes]
        existing = set(User.objects.filter(username__in=names).values_list("username", flat=True))
        missing = [i for i in indexes if username_for(i) not in existing]
        if missing:
            with transaction.atomic():
                User.objects.bulk_create(
                    User(username=username_for(i), password=password, date_joined=now)
                    for i in missing
                )
                ids = dict(User.objects.filter(
                    username__in=[username_for(i) for i in missing]
                ).values_list("username", "id"))
                customers = []
                for i in missing:
                    rng = random.Random(i)
                    customers.append(Customer(
                        user_id=ids[username_for(i)], phone=phone_for(i),
                        fan_level=rng.choices(levels, weights)[0],
                        is_verified=rng.random() < 0.8,
                        joined_at=now - timedelta(days=rng.randint(1, 5 * 365)),
                    ))
                Customer.objects.bulk_create(customers)
                customer_ids = dict(Customer.objects.filter(
                    user_id__in=ids.values()
                ).values_list("user_id", "id"))
                addresses = []
                for i in missing:
                    rng = random.Random(-i)
                    street, room = rng.choice(STREETS), rng.randint(101, 2999)
                    line1 = f"{rng.randint(1, 999)} {street}, Room {room}"
                    city = rng.choice(CITIES)
                    postcode = f"{rng.randint(100000, 899999)}"
                    addresses.append(Address(
                        customer_id=customer_ids[ids[username_for(i)]], recipient=f"Fan {i}",
                        phone=phone_for(i), line1=line1, city=city, postcode=postcode,
                        is_default=True,  # each seeded customer's only address
                        normalized=address_normalize(line1=line1, city=city, postcode=postcode),
                        building=building_normalize(line1=line1, city=city, postcode=postcode),
                    ))
                Address.objects.bulk_create(addresses)
            created += len(missing)
        if progress:
            progress(len(indexes))
    return created
