"""The Double-11 model as data: the phase curve, time compression and the cast of personas.

Pure Python (no Django, no Locust), shared by the command that prepares a run and by the
Locust processes that replay it. Where the numbers come from: docs/double11.md, quoted in
`curve.csv` (phases) and below (figures and persona shares); what is an assumption of this
model rather than a published figure says so.
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

from loadtests.double11 import rings

CURVE_CSV = Path(__file__).with_name("curve.csv")

# docs/double11.md, "Figures": one phone launch at scale 1.
RESERVATIONS_AT_SCALE_1 = 1_108_192     # Mi 6 reservations on JD.com
UNITS_AT_SCALE_1 = 80_000               # its first batch (14:1 oversubscribed)
PAYMENT_WINDOW_REAL_S = 30 * 60         # Tmall: pay within 30 min or the order closes

# docs/double11.md, "Personas": shares of all shoppers. The split inside the fleet (stealth) and
# inside the fans (campus) and the F-code quota are assumptions of this model.
SHARE_FAN = 0.60
SHARE_FCODE = 0.05
SHARE_BROWSER = 0.15
SHARE_SCALPER = 0.20
STEALTH_OF_SCALPERS = 0.20              # assumption (rings and deposit resellers: rings.py)
CAMPUS_OF_FANS = 0.10                   # assumption
CAMPUS_PER_IP = 200                     # assumption: one NAT address per campus
FCODE_QUOTA_OF_STOCK = 0.10             # assumption: F-code quota is 10 % of the stock
OPERATOR_ACCOUNTS = (5, 50)             # "a few operators, each driving 5-50 accounts"
PER_USER_LIMIT = 2                      # what a scalper account buys ("buy the limit")

# How often each persona asks for a page while it waits for T0 (personas.py and shopper.py pace
# themselves by these): the model's baseline B is every shopper waiting at its own pace, and
# the curve's multiples of B (curve.csv, `arrivals_x_b`) are the planned request arrivals.
WAIT_POLL_S = (2.0, 5.0)                # fans, campus fans, stealth: the sale page every 2-5 s
BOT_POLL_S = 1.0                        # scalper bots: the sale page once a second until T0
BROWSE_THINK_S = (2.0, 8.0)             # browsers and F-code holders: a page every 2-8 s

PERSONAS = ("fan", "campus", "office", "household", "fcode", "browser", "scalper", "stealth",
            "ring", "deposit")
SCALPER_PERSONAS = ("scalper", "stealth", "ring", "deposit")
GENUINE_PERSONAS = ("fan", "campus", "office", "household", "fcode", "browser")
TRAP_PERSONAS = ("campus", "office", "household")   # genuine, but they look linked

# Chinese ISP first octets: addresses that look like home broadband and mobile users.
_HOME_OCTETS = (36, 39, 42, 58, 59, 60, 61, 101, 110, 111, 112, 113, 114, 115, 116, 117, 118,
                119, 120, 121, 122, 123, 124, 125, 180, 182, 183, 202, 210, 211, 218, 219, 220,
                221, 222, 223)
BROWSER_UAS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; 23127PN0CC) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
)
BOT_UA = "okhttp/4.9.3"


@dataclass(frozen=True)
class Phase:
    name: str
    starts_s: float          # compressed seconds relative to T0
    ends_s: float
    users_from: float        # share of all shoppers present at the phase's start ...
    users_to: float          # ... and at its end (linear in between)
    arrivals_x_b: float      # planned request arrival rate, in multiples of the baseline B
    real_starts_s: float     # the phase in the real day, seconds relative to T0
    real_ends_s: float
    source: str


def curve_load(path: Path = CURVE_CSV) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def timeline(*, time_scale: float, min_phase_s: float, path: Path = CURVE_CSV) -> list[Phase]:
    """The curve compressed: each phase lasts its real length x time_scale, but at least
    min_phase_s, and the phases stay anchored at T0 (before it backwards, after it forwards)."""
    rows = curve_load(path)
    before = [r for r in rows if float(r["ends_s"]) <= 0]
    after = [r for r in rows if float(r["starts_s"]) >= 0]

    def length(row: dict) -> float:
        return max((float(row["ends_s"]) - float(row["starts_s"])) * time_scale, min_phase_s)

    def phase(row: dict, start: float, end: float) -> Phase:
        return Phase(name=row["phase"], starts_s=round(start, 3), ends_s=round(end, 3),
                     users_from=float(row["users_from"]), users_to=float(row["users_to"]),
                     arrivals_x_b=float(row["arrivals_x_b"]),
                     real_starts_s=float(row["starts_s"]), real_ends_s=float(row["ends_s"]),
                     source=row["source"])

    phases: list[Phase] = []
    end = 0.0
    for row in reversed(before):
        phases.insert(0, phase(row, end - length(row), end))
        end -= length(row)
    start = 0.0
    for row in after:
        phases.append(phase(row, start, start + length(row)))
        start += length(row)
    return phases


def payment_window_s(*, time_scale: float, min_phase_s: float) -> float:
    return max(PAYMENT_WINDOW_REAL_S * time_scale, min_phase_s)


@dataclass
class Account:
    username: str
    persona: str
    device: str
    ip: str
    user_agent: str
    card: str
    operator: str = ""            # scalpers: the operator driving the account
    drop_address: dict | None = None   # scalpers: the shared delivery address
    fcode: str = ""               # F-code holders: the code ops sent them
    token: str = ""               # a session from before the day (see Plan.live_login_share)
    # The identities of rings.py's personas (the data set-up, `loadtests.double11.setup`,
    # writes them before the run):
    sale: str = "main"            # "deposit": the deposit pre-sale (Plan.deposit_sale_id)
    joined_days: int = 0          # registered this many days before the sale (0: seeded as is)
    phone: str = ""               # the registered phone, when not the seeded one
    confirm_phone: bool = False   # confirm it by the code texted to it, during the run
    address: dict | None = None   # an address of its own with a history (office, household)
    history: list[int] = field(default_factory=list)   # days before the sale of earlier
                                                       # paid orders to `address`


@dataclass
class Cast:
    shoppers: int
    stock: int
    fcode_quota: int
    counts: dict[str, int]
    operators: dict[str, int] = field(default_factory=dict)
    accounts: list[Account] = field(default_factory=list)


def sizes(*, scale: float) -> tuple[int, int, int]:
    """Shoppers, units and F-code quota at this scale (at least a handful of each)."""
    shoppers = max(round(RESERVATIONS_AT_SCALE_1 * scale), 20)
    stock = max(round(UNITS_AT_SCALE_1 * scale), 2)
    quota = max(round(stock * FCODE_QUOTA_OF_STOCK), 1)
    return shoppers, stock, quota


def fcode_holders_for(*, shoppers: int, quota: int) -> int:
    return min(round(shoppers * SHARE_FCODE), quota)


def counts_for(*, shoppers: int, fcode_holders: int) -> dict[str, int]:
    scalpers = round(shoppers * SHARE_SCALPER)
    stealth = round(scalpers * STEALTH_OF_SCALPERS)
    browsers = round(shoppers * SHARE_BROWSER)
    fans = shoppers - fcode_holders - scalpers - browsers
    campus = round(fans * CAMPUS_OF_FANS)
    more = rings.counts_more(scalpers=scalpers, fans=fans)
    return {"fan": fans - campus - more["office"] - more["household"], "campus": campus,
            "office": more["office"], "household": more["household"], "fcode": fcode_holders,
            "browser": browsers, "scalper": scalpers - stealth - more["ring"] - more["deposit"],
            "stealth": stealth, "ring": more["ring"], "deposit": more["deposit"]}


def _mean(span: tuple[float, float]) -> float:
    return (span[0] + span[1]) / 2


def baseline_rps(counts: dict[str, int]) -> float:
    """B: requests per second from every shopper waiting for T0, each at its persona's pace
    (a pause between two requests; the time an answer takes is left out)."""
    every = {"fan": _mean(WAIT_POLL_S), "campus": _mean(WAIT_POLL_S),
             "office": _mean(WAIT_POLL_S), "household": _mean(WAIT_POLL_S),
             "ring": _mean(WAIT_POLL_S), "deposit": _mean(WAIT_POLL_S),
             "stealth": _mean(WAIT_POLL_S), "scalper": BOT_POLL_S,
             "browser": _mean(BROWSE_THINK_S), "fcode": _mean(BROWSE_THINK_S)}
    return round(sum(counts.get(p, 0) / every[p] for p in PERSONAS), 3)


def peak_x_b(path: Path = CURVE_CSV) -> tuple[str, float]:
    """The curve's peak: its phase of most arrivals, and their multiple of B."""
    row = max(curve_load(path), key=lambda r: float(r["arrivals_x_b"]))
    return row["phase"], float(row["arrivals_x_b"])


def planned_peak_rps(*, scale: float) -> float:
    """The requests per second the plan asks for at the peak of a replay at this scale."""
    shoppers, _, quota = sizes(scale=scale)
    counts = counts_for(shoppers=shoppers,
                        fcode_holders=fcode_holders_for(shoppers=shoppers, quota=quota))
    return peak_x_b()[1] * baseline_rps(counts)


def _home_ip(rng: random.Random) -> str:
    return (f"{rng.choice(_HOME_OCTETS)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}."
            f"{rng.randint(2, 254)}")


def _drop_address(rng: random.Random, n: int) -> dict:
    return {"recipient": f"Mr. Wang {n}", "phone": f"1{rng.randint(3000000000, 8999999999)}",
            "line1": f"{rng.randint(1, 300)} Huaqiangbei Road, Room {rng.randint(101, 2999)}",
            "city": "Shenzhen", "postcode": "518031"}


def _operator_sizes(rng: random.Random, total: int) -> list[int]:
    low, high = OPERATOR_ACCOUNTS
    result: list[int] = []
    while total > 0:
        size = min(rng.randint(low, high), total)
        result.append(size)
        total -= size
    if len(result) > 1 and result[-1] < low:
        last = result.pop()         # too small an operator: its accounts join the previous one
        result[-1] += last
    return result


def cast(*, usernames: list[str], fcodes: dict[str, str], shoppers: int, stock: int,
         fcode_quota: int, seed: int) -> Cast:
    """Give each account a persona and the identities it shows (device, IP, UA, card).

    `usernames` are fresh accounts without a code; `fcodes` maps the accounts ops issued a
    code to (they become the F-code persona). The server never sees this assignment."""
    rng = random.Random(seed)
    counts = counts_for(shoppers=shoppers, fcode_holders=len(fcodes))
    pool = list(usernames)
    rng.shuffle(pool)
    result = Cast(shoppers=shoppers, stock=stock, fcode_quota=fcode_quota, counts=counts)
    accounts = result.accounts

    def genuine(username: str, persona: str, ip: str | None = None, code: str = "") -> Account:
        return Account(username=username, persona=persona,
                       device=f"dev-{rng.getrandbits(64):016x}", ip=ip or _home_ip(rng),
                       user_agent=rng.choice(BROWSER_UAS), card=f"card-{rng.getrandbits(48):x}",
                       fcode=code)

    for username, code in fcodes.items():
        accounts.append(genuine(username, "fcode", code=code))
    take = iter(pool)
    for n in range(counts["fan"]):
        fan = genuine(next(take), "fan")
        if n < round(counts["fan"] * rings.DEPOSIT_FANS_OF_FANS):
            fan.sale = "deposit"        # genuine buyers of the deposit pre-sale
        accounts.append(fan)
    campus_ip = ""
    for n in range(counts["campus"]):
        if n % CAMPUS_PER_IP == 0:
            campus_ip = _home_ip(rng)
        accounts.append(genuine(next(take), "campus", ip=campus_ip))
    for _ in range(counts["browser"]):
        accounts.append(genuine(next(take), "browser"))
    # The fleet: accounts of one operator share a few devices, one proxy /24, one drop
    # address and one card; no think time.
    for op, size in enumerate(_operator_sizes(rng, counts["scalper"]), start=1):
        name = f"op{op}"
        result.operators[name] = size
        devices = [f"dev-{rng.getrandbits(64):016x}" for _ in range(max(1, size // 5))]
        subnet = f"{rng.choice(_HOME_OCTETS)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}"
        ips = [f"{subnet}.{rng.randint(2, 254)}" for _ in range(max(1, size // 10))]
        drop, card = _drop_address(rng, op), f"card-{rng.getrandbits(48):x}"
        # A farm's SIMs are a run of consecutive numbers (a virtual operator's 170 block, one
        # thousand numbers per operator: no two operators share a number).
        sims = 17_000_000_000 + op * 1_000
        for n in range(size):
            accounts.append(Account(username=next(take), persona="scalper",
                                    device=devices[n % len(devices)], ip=ips[n % len(ips)],
                                    user_agent=BOT_UA, card=card, operator=name,
                                    drop_address=drop, phone=str(sims + n)))
    # Stealth operators: human timing, distinct devices and residential IPs; their accounts
    # are linked only by the drop address (even operators) or the card (odd ones).
    stealth_total = counts["stealth"]
    for op, size in enumerate(_operator_sizes(rng, stealth_total), start=1):
        name = f"stealth{op}"
        result.operators[name] = size
        drop, card = _drop_address(rng, 100 + op), f"card-{rng.getrandbits(48):x}"
        for _ in range(size):
            account = genuine(next(take), "stealth")
            account.operator = name
            if op % 2 == 0:
                account.drop_address = drop
            else:
                account.card = card
            accounts.append(account)
    rings.cast_more(cast=result, take=take, rng=rng, counts=counts, make=genuine,
                    operator_sizes=_ring_sizes, octets=_HOME_OCTETS)
    return result


def _ring_sizes(rng: random.Random, total: int) -> list[int]:
    """Ring operators: 5-50 accounts like the fleet's, but a ring of RING_MIN is one too."""
    if total < OPERATOR_ACCOUNTS[0]:
        return [total] if total else []
    return _operator_sizes(rng, total)


@dataclass
class Plan:
    sale_id: int
    t0: float                   # the sale's start, Unix seconds
    ends_at: float              # the sale's end, Unix seconds
    time_scale: float
    min_phase_s: float
    payment_window_s: float
    per_user_limit: int
    password: str
    phases: list[Phase]
    accounts: list[Account]
    out_dir: str
    bot_pause_s: float = 0.2    # a laptop concession: bots retry every 200 ms, not in a loop
    live_login_share: float = 0.1   # shoppers who log in during the run; the rest still hold
                                    # a session (PBKDF2 logins for all would eat the laptop)
    seed: int = 0
    scale: float = 0.0
    baseline_rps: float = 0.0   # B (`baseline_rps`), from this plan's cast
    deposit_sale_id: int = 0    # the deposit pre-sale beside the main sale (0: none)

    def at(self, phase: str) -> float:
        """The Unix time a phase starts."""
        return self.t0 + next(p.starts_s for p in self.phases if p.name == phase)

    def end_of(self, phase: str) -> float:
        return self.t0 + next(p.ends_s for p in self.phases if p.name == phase)

    @property
    def starts(self) -> float:
        return self.t0 + self.phases[0].starts_s

    @property
    def ends(self) -> float:
        return self.t0 + self.phases[-1].ends_s

    def phase_at(self, moment: float) -> Phase | None:
        for phase in self.phases:
            if self.t0 + phase.starts_s <= moment < self.t0 + phase.ends_s:
                return phase
        return None

    def users_at(self, moment: float) -> float:
        """The share of shoppers the shape keeps alive at this moment."""
        phase = self.phase_at(moment)
        if phase is None:
            return 0.0 if moment < self.starts else self.phases[-1].users_to
        span = phase.ends_s - phase.starts_s
        done = (moment - self.t0 - phase.starts_s) / span if span else 1.0
        return phase.users_from + (phase.users_to - phase.users_from) * done

    def planned_rps(self, moment: float) -> float:
        """The request arrivals the plan asks for at this moment: the phase's multiple of B,
        for the share of shoppers present (B counts every shopper waiting)."""
        phase = self.phase_at(moment)
        if phase is None:
            return 0.0
        return phase.arrivals_x_b * self.baseline_rps * self.users_at(moment)

    @property
    def peak(self) -> Phase:
        """The phase of most planned arrivals (the spike)."""
        return max(self.phases, key=lambda p: p.arrivals_x_b)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, path: Path) -> Plan:
        data = json.loads(Path(path).read_text())
        data["phases"] = [Phase(**p) for p in data["phases"]]
        data["accounts"] = [Account(**a) for a in data["accounts"]]
        return cls(**data)
