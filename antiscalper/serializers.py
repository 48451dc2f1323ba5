"""Shapes of the anti-scalper API bodies: thin, no business rules (services normalise)."""

from __future__ import annotations

from rest_framework import serializers

from antiscalper.models import Appeal, BlacklistEntry, Decision, Kind, RiskDecision


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
