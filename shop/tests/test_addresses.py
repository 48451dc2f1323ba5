"""The building an address delivers to: however the flat, floor, room, unit or door is
written (English or Chinese, abbreviated, cased, spaced), the same building is one key; a
different building number, street number or street is another."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shop import services
from shop.addresses import building_normalize

LATIN_INSIDE = ["Room {n}", "Rm. {n}", "rm {n}", "Apt {n}", "Apartment {n}B", "Unit {n}",
                "Flat {n}", "Suite {n}", "#{n}", "# {n}-03", "Floor {f}", "{f}th Floor",
                "{f}F", "{f}/F", "{f} / F", "Fl {f}", "Level {f}", "Door {n}", "FLAT {n}"]
CN_INSIDE = ["{u}单元", "{n}室", "{f}层", "{f}楼", "{n}房", "{u}单元{n}室", "三单元", "十二层",
             "{n}户", "{u}门", "二门", "{u}单元{n}号"]
LATIN_BUILDINGS = [("{s} Nanjing Road", "{s} nanjing rd."), ("{s} Nanjing Road", "{s} NANJING RD"),
                   ("Tower {b}, {s} Century Avenue", "Block {b} {s} century ave"),
                   ("{s} Zhongguancun Street, Building {b}", "No. {s} Zhongguancun St Bldg {b}")]
CN_BUILDINGS = [("朝阳区建国路{s}号{b}号楼", "朝阳区 建国路 {s}号 {b}栋"),
                ("建国路{s}号{b}幢", "建国路{s}号 {b}号楼"),
                ("望京SOHO T{b}座", "望京 soho t{b}座"),
                ("建国路{s}号院{b}号楼", "建国路{s}号 {b}栋")]  # No. s's compound is No. s

numbers = st.integers(min_value=1, max_value=2999)
floors = st.integers(min_value=1, max_value=60)


def _spelled(template: str, n: int, f: int, u: int) -> str:
    return template.format(n=n, f=f, u=u)


@given(pair=st.sampled_from(LATIN_BUILDINGS), street=numbers, building=st.sampled_from("12A"),
       inside=st.lists(st.sampled_from(LATIN_INSIDE), min_size=0, max_size=2),
       n=numbers, f=floors, u=st.integers(1, 9), separator=st.sampled_from([", ", " ", " , "]))
def test_a_building_written_differently_with_any_flat_in_it_is_one_key(
        pair, street, building, inside, n, f, u, separator):
    plain, other = (p.format(s=street, b=building) for p in pair)
    decorated = separator.join([other, *(_spelled(t, n, f, u) for t in inside)])
    assert (building_normalize(line1=plain, city="Shanghai", postcode="200001")
            == building_normalize(line1=decorated, city=" SHANGHAI ", postcode="200 001"))


@given(pair=st.sampled_from(CN_BUILDINGS), street=numbers, building=st.integers(1, 30),
       inside=st.lists(st.sampled_from(CN_INSIDE), min_size=0, max_size=2),
       n=numbers, f=floors, u=st.integers(1, 9), separator=st.sampled_from(["", " ", "，"]))
def test_a_chinese_building_with_its_unit_room_and_floor_is_one_key(
        pair, street, building, inside, n, f, u, separator):
    plain, other = (p.format(s=street, b=building) for p in pair)
    decorated = separator.join([other, *(_spelled(t, n, f, u) for t in inside)])
    assert (building_normalize(line1=plain, city="北京", postcode="100020")
            == building_normalize(line1=decorated, city="北京", postcode="100020"))


@pytest.mark.parametrize("one, other", [
    ("12 Nanjing Road, Room 301", "13 Nanjing Road, Room 301"),
    ("12 Nanjing Road", "12 Beijing Road"),
    ("Tower A, 1 Century Avenue", "Tower B, 1 Century Avenue"),
    ("朝阳区建国路88号5号楼2单元301室", "朝阳区建国路88号6号楼2单元301室"),
    ("朝阳区建国路88号5栋", "朝阳区建国路89号5栋"),
    ("建国路88号院5号楼", "建国路89号院5号楼"),
    ("Tower 2, 8 Harbour Road, 12/F", "Tower 3, 8 Harbour Road, 12/F"),
    ("Block 5 F, 8 Harbour Road", "Block 5 G, 8 Harbour Road"),
])
def test_another_building_is_another_key(one, other):
    assert (building_normalize(line1=one, city="Beijing", postcode="100020")
            != building_normalize(line1=other, city="Beijing", postcode="100020"))


def test_an_address_is_stored_with_its_building(customer):
    address = services.address_create(
        customer=customer, recipient="Lei Jun", phone="13800138001",
        line1="望京SOHO T1 三单元1203室", city="北京", postcode="100102")
    address.refresh_from_db()
    assert address.building == building_normalize(line1="望京 soho t1", city="北京",
                                                   postcode="100102")
    assert address.normalized != address.building


@pytest.mark.parametrize("hostile", ["5栋" + "a" * 190 + "!", "5栋" + "1-" * 95 + "!",
                                     "栋" * 200, "5栋" + "1号 " * 60 + "x!"])
def test_a_hostile_line_is_normalised_at_once(hostile):
    """The room after a building is dropped by one character class, no nested repetition: a
    nested pattern took minutes on 30 letters (a typed address must never stall linking)."""
    started = time.perf_counter()
    building_normalize(line1=hostile, city="北京", postcode="100020")
    assert time.perf_counter() - started < 1.0
