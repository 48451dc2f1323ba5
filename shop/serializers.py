"""Shapes of the store's API bodies (docs/api.md): thin, no business rules."""

from __future__ import annotations

from rest_framework import serializers

from shop.models import Address, Customer, Order, OrderLine, Product, Sku


class RegisterInput(serializers.Serializer):
    username = serializers.RegexField(r"^[\w.@+-]{3,150}$", max_length=150)
    password = serializers.CharField(min_length=8, max_length=128, write_only=True)
    phone = serializers.CharField(max_length=24)


class RegisteredOutput(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


class WhoAmIOutput(serializers.Serializer):
    id = serializers.IntegerField()


class MeOutput(serializers.ModelSerializer):
    id = serializers.IntegerField(source="user.id")
    username = serializers.CharField(source="user.username")
    fan_level_name = serializers.CharField(source="get_fan_level_display")

    class Meta:
        model = Customer
        fields = ["id", "username", "phone", "fan_level", "fan_level_name", "is_verified",
                  "phone_verified_at", "joined_at"]


class PhoneCodeSentOutput(serializers.Serializer):
    sent_to = serializers.CharField(help_text="The registered phone, its middle digits hidden.")
    expires_at = serializers.DateTimeField()
    resend_at = serializers.DateTimeField(help_text="When another code may be asked for.")


class PhoneConfirmInput(serializers.Serializer):
    code = serializers.RegexField(r"^[0-9]{6}$", max_length=6, min_length=6,
                                  help_text="The 6 digits of the text message.")


class PhoneConfirmedOutput(serializers.Serializer):
    phone = serializers.CharField()
    phone_verified_at = serializers.DateTimeField()


class AddressSerializer(serializers.ModelSerializer):
    """An address as a shopper writes it: 省 `province` and 区 `district` are optional (the
    v1 body is `recipient, phone, line1, city, postcode`); `is_default` is read-only (POST
    `.../{id}/default` chooses it)."""

    class Meta:
        model = Address
        fields = ["id", "recipient", "phone", "province", "city", "district", "line1",
                  "postcode", "is_default"]
        read_only_fields = ["id", "is_default"]


class SkuOutput(serializers.ModelSerializer):
    class Meta:
        model = Sku
        fields = ["id", "code", "name", "price"]


class ProductOutput(serializers.ModelSerializer):
    skus = SkuOutput(many=True)

    class Meta:
        model = Product
        fields = ["id", "name", "category", "description", "skus"]


class OrderLineOutput(serializers.ModelSerializer):
    sku_code = serializers.CharField(source="sku.code")
    sku_name = serializers.CharField(source="sku.name")

    class Meta:
        model = OrderLine
        fields = ["sku", "sku_code", "sku_name", "quantity", "unit_price"]


class DeliveryAddressOutput(serializers.ModelSerializer):
    """The text an order ships to: the version it was placed with, which an edit or a
    deletion of the address leaves as it was (its id may answer 404 by then)."""

    class Meta:
        model = Address
        fields = ["recipient", "phone", "province", "city", "district", "line1", "postcode"]


class OrderOutput(serializers.ModelSerializer):
    lines = OrderLineOutput(many=True)
    sale = serializers.IntegerField(source="sale_id", allow_null=True)
    delivery_address = DeliveryAddressOutput(source="address", read_only=True, allow_null=True)

    class Meta:
        model = Order
        fields = ["id", "number", "status", "lines", "total", "deposit", "balance_due",
                  "payment_due_at", "balance_opens_at", "balance_due_at", "sale", "ticket",
                  "address", "delivery_address", "created_at"]


class PayInput(serializers.Serializer):
    method = serializers.ChoiceField(choices=["card", "alipay", "wechat"], default="card")
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, required=False)
    instrument = serializers.CharField(max_length=64, required=False, default="")


class OrderEnvelope(serializers.Serializer):
    order = OrderOutput()
