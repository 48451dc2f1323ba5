"""An address's building: where a parcel is carried to, whichever flat it is for.

A ring sends its units to a few shared delivery buildings and writes each account's address a
little differently (another flat, another floor, "Rm" for "Room", 3单元 for unit 3), so the
exact matching form (`shop.services.address_normalize`) sees as many addresses as accounts.
The building form drops what names a place inside the building (unit, door, room, flat,
suite, floor; 单元, 门, 室, 层, 户, a room's 号 after the building) and folds how the
building itself is written (Bldg, Block, Tower; 号楼, 栋, 幢, 座 are one word; 88号院 is
88号), so the ring's addresses meet in one key. Whether that
means anything is the linking's question: an office tower where many genuine fans work
is a building too (`antiscalper.linking` weighs a building by its genuine population).

Both forms read the district (区) with the street line (`street_line`): 朝阳区 typed in its
own field or at the head of the line is one key, so old clients that write the whole street
into `line1` and the storefront's 省/市/区 form still meet. The province is left out: the
city and the postcode already place an address, and a key with it would split one address
between a shopper who wrote 北京 as the province and one who left it blank.
"""

from __future__ import annotations

import re
import unicodedata

_CN_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
              "七": 7, "八": 8, "九": 9}


def _cn_number(text: str) -> str:
    """Chinese numerals up to 99 (三, 十二, 二十一) as digits, so 三单元 is 3单元."""
    if all(ch in _CN_DIGITS for ch in text):
        return "".join(str(_CN_DIGITS[ch]) for ch in text)
    tens, _, units = text.partition("十")
    value = (_CN_DIGITS.get(tens, 1) if tens else 1) * 10 + (_CN_DIGITS.get(units, 0)
                                                           if units else 0)
    return str(value)


_CN_NUMERAL = re.compile(r"[〇零一二两三四五六七八九十]+(?=[号楼栋幢座单元室层户楼门])")
_NUMBER = r"[0-9a-z]{1,6}(?:-[0-9a-z]{1,6})*"
# Chinese: the building is kept (3号楼, 5栋, 2幢, a座: one word, 栋), everything under it goes:
# 2单元 (unit), 1203室 / 1203房 (room), 12层 / 12楼 after the building (floor), 3户.
_CN_BUILDING = re.compile(rf"({_NUMBER})(?:号楼|栋|幢|座|號樓|棟)")
_CN_INSIDE = re.compile(rf"{_NUMBER}(?:单元|單元|室|房|层|層|户|戶|门|門|楼(?!号))|{_NUMBER}号房")
# "5栋1203" / "5栋1203号" / "5栋 2-1203": the room written bare, or with 号, after the
# building. One character class, no nested repetition: linear on any input.
_CN_TAIL = re.compile(r"(栋)[0-9a-z\s,，\-号號]*$")
_CN_COMPOUND = re.compile(r"([0-9])[号號]院")  # "88号院" (No. 88's compound) is "88号"
# Latin: "Room 1203", "Rm. 12", "Apt 4B", "Unit 3", "Flat 2", "Suite 800", "#12-03",
# "Floor 3", "3rd Floor", "Fl 3", "12F", "Level 2", "Door 5".
_INSIDE_WORDS = r"(?:apartment|apt|unit|flat|suite|ste|room|rm|door|floor|fl|flr|level|lvl)"
_LATIN_INSIDE = re.compile(
    rf"\b{_INSIDE_WORDS}\.?\s*(?:no\.?\s*)?#?\s*{_NUMBER}\b"
    rf"|#\s*{_NUMBER}"
    rf"|\b[0-9]{{1,3}}(?:st|nd|rd|th)\s*(?:floor|fl|flr)\b"  # "3rd floor", never "Bldg 2 Floor 1"
    rf"|\b[0-9]{{1,3}}(?:\s*/\s*)?f\b")  # "12F", "12/F" (Hong Kong's floor)
_CJK_SPACE = re.compile(r"(?<=[\u3000-\u9fff])\s+|\s+(?=[\u3000-\u9fff])")
_BUILDING_WORDS = {"building": "bldg", "bldg": "bldg", "block": "bldg", "blk": "bldg",
                   "tower": "bldg", "twr": "bldg", "street": "st", "str": "st", "road": "rd",
                   "avenue": "ave", "av": "ave", "lu": "rd", "district": "dist", "no": "",
                   "number": "", "hao": "", "the": ""}


def _line(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "").lower()
    text = _CN_NUMERAL.sub(lambda m: _cn_number(m.group()), text)
    text = _CN_COMPOUND.sub(r"\1号", text)
    text = _CN_BUILDING.sub(r" \1栋 ", text)
    text = _CN_INSIDE.sub(" ", text)
    text = _CN_TAIL.sub(r"\1", text.strip())
    text = _LATIN_INSIDE.sub(" ", text)
    words = re.sub(r"[^\w]+", " ", text).split()
    text = " ".join(w for w in (_BUILDING_WORDS.get(w, w) for w in words) if w)
    return _CJK_SPACE.sub("", text)  # Chinese is written without spaces: 建国路 88号 is 建国路88号


_CJK = re.compile(r"[\u3000-\u9fff]")


def _bare(text: str) -> str:
    return re.sub(r"[^\w]+", "", unicodedata.normalize("NFKC", text).lower())


def street_line(*, district: str, line1: str) -> str:
    """The street line the matching forms read: the district, then `line1`, unless the line
    already names the district (typed twice, or the whole address in one line). An address
    without a district reads as `line1` alone, as every address did before districts."""
    district, line1 = (district or "").strip(), (line1 or "").strip()
    if not _bare(district) or _bare(district) in _bare(line1):
        return line1
    glue = "" if _CJK.match(district[-1]) or _CJK.match(line1[:1] or " ") else " "
    return f"{district}{glue}{line1}"


def building_normalize(*, line1: str, city: str, postcode: str, district: str = "") -> str:
    """The building an address delivers to, as one key: `line|city|postcode` with the flat,
    floor, room, unit and door dropped and the building's own words folded (the district
    read at the head of the line)."""
    line1 = street_line(district=district, line1=line1)
    city_key = " ".join(re.sub(r"[^\w]+", " ", unicodedata.normalize(
        "NFKC", city or "").lower()).split())
    return f"{_line(line1)}|{city_key}|{re.sub(r'[^0-9a-z]', '', (postcode or '').lower())}"
