"""Shapes of the anti-scalper API bodies: thin, no business rules (services normalise)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from antiscalper.models import Appeal, BlacklistEntry, Decision, Kind, RingCase, RiskDecision


class EntryInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Kind.choices)
    value = serializers.CharField(max_length=300)
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True,
                                   default="")
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class EntryOutput(serializers.ModelSerializer):
    created_by = serializers.IntegerField(source="created_by_id", allow_null=True)

    class Meta:
        model = BlacklistEntry
        fields = ["id", "kind", "value", "reason", "source", "is_active", "expires_at",
                  "created_by", "created_at"]


class EntryListQuery(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Kind.choices, required=False)
    active = serializers.BooleanField(required=False, allow_null=True, default=None)
    q = serializers.CharField(max_length=100, required=False)


class AppealInput(serializers.Serializer):
    message = serializers.CharField(max_length=2000)
    kind = serializers.ChoiceField(choices=Kind.choices, required=False, default=Kind.ACCOUNT)
    value = serializers.CharField(max_length=300, required=False, allow_blank=True)


class AppealOutput(serializers.ModelSerializer):
    class Meta:
        model = Appeal
        fields = ["id", "kind", "value", "message", "status", "resolution", "created_at",
                  "handled_at"]


class FlagListQuery(serializers.Serializer):
    sale = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None,
                                    source="sale_id")
    decision = serializers.ChoiceField(choices=Decision.choices, required=False,
                                       help_text="Without it: review and block (the flags).")


class FiredRule(serializers.Serializer):
    code = serializers.CharField()
    value = serializers.FloatField()
    threshold = serializers.FloatField()
    weight = serializers.FloatField()
    action = serializers.CharField()
    details = serializers.JSONField(required=False)


class FlagOutput(serializers.ModelSerializer):
    sale = serializers.IntegerField(source="sale_id")
    user = serializers.IntegerField(source="user_id")
    rules = FiredRule(many=True)

    class Meta:
        model = RiskDecision
        fields = ["id", "sale", "user", "ticket", "source", "score", "decision", "reason",
                  "rules", "review_status", "created_at"]


class CaseListQuery(serializers.Serializer):
    status = serializers.ChoiceField(choices=RingCase.Status.choices, required=False,
                                     help_text="Without it: every case, open ones first.")


class CaseLinkOutput(serializers.Serializer):
    """An identifier that ties the case, as ops may read it (a card by its prefix only)."""

    kind = serializers.CharField()
    value = serializers.CharField(source="shown")
    accounts = serializers.IntegerField(help_text="Accounts holding it (its population).")
    strength = serializers.FloatField()
    members = serializers.ListField(child=serializers.IntegerField())


class CaseDecisionOutput(serializers.ModelSerializer):
    rules = FiredRule(many=True)

    class Meta:
        model = RiskDecision
        fields = ["id", "source", "score", "decision", "reason", "rules", "review_status",
                  "created_at"]


class CaseMemberOutput(serializers.Serializer):
    user = serializers.IntegerField(source="user_id")
    username = serializers.CharField()
    pending = serializers.BooleanField(help_text="A linking flag of theirs awaits an answer.")


class CaseMemberDetailOutput(CaseMemberOutput):
    joined_at = serializers.DateTimeField(allow_null=True)
    established = serializers.BooleanField(help_text=(
        "An established customer when the sale opened: an order paid for 30 days or more "
        "before, in no sale it was flagged in."))
    orders_before = serializers.IntegerField(help_text="Orders paid for before the sale.")
    decisions = CaseDecisionOutput(many=True)


class CaseOutput(serializers.ModelSerializer):
    sale = serializers.IntegerField(source="sale_id")
    size = serializers.SerializerMethodField()
    members = serializers.ListField(child=serializers.IntegerField(),
                                    help_text="User ids, ascending.")
    links = CaseLinkOutput(many=True)
    acted_by = serializers.IntegerField(source="acted_by_id", allow_null=True)

    class Meta:
        model = RingCase
        fields = ["id", "sale", "status", "size", "members", "links", "strength", "acted_by",
                  "acted_at", "created_at", "updated_at"]

    def get_size(self, case: RingCase) -> int:
        return len(case.members)


class CaseDetailOutput(CaseOutput):
    """The case with each member by username, and their decisions in the sale (newest
    first, each with the rules that fired): what ops read before answering."""

    accounts = serializers.SerializerMethodField()

    class Meta(CaseOutput.Meta):
        fields = [*CaseOutput.Meta.fields, "accounts"]

    @extend_schema_field(CaseMemberDetailOutput(many=True))
    def get_accounts(self, case: RingCase) -> list[dict]:
        return CaseMemberDetailOutput(self.context["accounts"], many=True).data


class CaseAnswerInput(serializers.Serializer):
    members = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, max_length=100_000,
        help_text="The members you saw: if the linking pass grew the case since, nothing is "
                  "done (400 `invalid`, field `members`) and you review it again.")


class CaseAnswerOutput(serializers.Serializer):
    case = CaseOutput()
    answered = serializers.ListField(child=serializers.IntegerField(), help_text=(
        "The members blocked (confirm) or allowed (clear) by this request; empty when the "
        "case had been given this answer already."))
