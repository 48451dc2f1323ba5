"""DRF's JSON parser, with the one malformed body it lets through turned into a 400."""

from __future__ import annotations

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class StrictJSONParser(JSONParser):
    """JSONParser, except that a body nested past Python's recursion limit (50,000 `[`) is a
    ParseError (400 `invalid`) instead of a RecursionError that the handler logs as a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply") from None
